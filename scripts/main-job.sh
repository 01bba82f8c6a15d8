#!/usr/bin/env bash
# The main job: set-up, the 6.12 kernel (built or cached), then a stock
# policy scheduling a real workload in the guest with live stats, and a
# clean detach with the kernel's exit reason.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
SCXPY="$REPO/.venv/bin/scxpy"
"$SCXPY" kernel
if "$SCXPY" run --help >/dev/null 2>&1; then
    exec "$SCXPY" run --vm "${1:-interactive}" --cpus 2 --stats 1 -- \
        stress-ng --cpu 2 --fork 1 --timeout 10s --metrics-brief
fi
# Until the runtime lands: show the guest's kernel and sched_ext state.
exec "$SCXPY" vm -- sh -c 'echo "guest kernel: $(uname -r)"; echo "sched_ext state: $(cat /sys/kernel/sched_ext/state)"'
