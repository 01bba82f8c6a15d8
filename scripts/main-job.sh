#!/usr/bin/env bash
# The main job: set-up, the guest kernel (Debian's prebuilt 7.3: fetched
# and trimmed in seconds, or cached), then a stock policy scheduling a
# real workload in the guest with live stats, and a clean detach with the
# kernel's exit reason.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
SCXPY="$REPO/.venv/bin/scxpy"
"$SCXPY" kernel --print-path
POLICY="${1:-interactive}"
echo "== policy $POLICY: $("$SCXPY" list | awk -v p="$POLICY" '$1 == p { $1 = ""; print substr($0, 2) }')"
# CPU hogs plus a latency probe (cyclictest) under the policy, stats every second.
exec "$SCXPY" run --vm "$POLICY" --cpus 2 --stats 1 -- sh -c '
    echo "guest kernel $(uname -r), sched_ext $(cat /sys/kernel/sched_ext/state), ops $(cat /sys/kernel/sched_ext/root/ops)"
    stress-ng --cpu 2 --timeout 10s --temp-path /tmp --metrics-brief &
    cyclictest --mlockall --threads 1 --interval 2000 --duration 10 --quiet
    wait'
