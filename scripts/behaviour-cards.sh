#!/bin/bash
# The stock policies' behaviour report cards (scxpy check) on each kernel of the
# matrix, one guest at a time; each card's Markdown and JSON go to $OUT
# (default ./behaviour-cards), the cards to stdout. docs/behaviour-results.md is
# assembled from them by hand, with the machine's load noted beside each.
#   bash scripts/behaviour-cards.sh                 # every stock policy, 6.12 and 7.3
#   POLICIES="vtime fifo" KERNELS=7.3 bash scripts/behaviour-cards.sh
# Exit status: 1 if any card has a failed check (a stated non-promise is not one).
set -u
cd "$(dirname "$0")/.."
SCXPY=${SCXPY:-.venv/bin/scxpy}
OUT=${OUT:-behaviour-cards}
POLICIES=${POLICIES:-$(.venv/bin/python -c 'from scxpy import schedulers; print(*schedulers.stock())')}
KERNELS=${KERNELS:-"6.12 7.3"}
mkdir -p "$OUT"
status=0
for k in $KERNELS; do
    for p in $POLICIES; do
        echo "== $p on $k (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        "$SCXPY" check "$p" --kernel-version "$k" --json "$OUT/$p-$k.json" --markdown "$OUT/$p-$k.md" || status=1
    done
done
exit $status
