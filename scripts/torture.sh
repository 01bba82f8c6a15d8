#!/usr/bin/env bash
# The torture tier (tests/test_reliability_vm.py, marker torture: every stock
# policy through tests/workloads/torture.py), ROUNDS consecutive rounds on each
# kernel (the kernels side by side), one fresh 4-vCPU guest per round; then a
# table of passes per policy and kernel, hangs, restarts and the slowest restart
# (scripts/torture_table.py).
#
#   bash scripts/torture.sh [ROUNDS] [KERNEL ...]     (default: 10 rounds, 6.12 and 7.3)
#
# scripts/test.sh runs one round at the end of its vm tier on the kernels in
# SCXPY_TORTURE_KERNELS (default 6.12). A guest that stops making progress is
# ended by `scxpy vm --timeout` and counted as a hang.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
ROUNDS="${1:-10}"
shift || true
KERNELS=("$@")
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=(6.12 7.3)
bash scripts/setup.sh >/dev/null || { echo "set-up failed" >&2; exit 1; }
PY="$REPO/.venv/bin/python"
SCXPY="$REPO/.venv/bin/scxpy"
OUT="$(mktemp -d /tmp/scxpy-torture-XXXXXX)"
# The guest compiles nothing if the host did (one object for every kernel).
for p in $("$PY" -c 'from scxpy import schedulers; print(*schedulers.stock())'); do
    "$SCXPY" compile "$p" >/dev/null || exit 1
done

for v in "${KERNELS[@]}"; do
    "$SCXPY" kernel --version "$v" >/dev/null || { echo "no $v kernel" >&2; exit 1; }
done

# The kernels side by side (each guest is single-threaded TCG, one host core
# each), rounds one after another per kernel; every line is prefixed with its kernel.
rounds_of() {
    local v="$1" r dir
    for r in $(seq 1 "$ROUNDS"); do
        dir="$OUT/$v/round-$r"
        mkdir -p "$dir"
        echo "== torture: kernel $v, round $r of $ROUNDS ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)) =="
        "$SCXPY" vm --kernel-version "$v" --cpus 4 --memory 4G --timeout "${SCXPY_TORTURE_TIMEOUT:-2400}" \
            --scratch "$dir" -- "$PY" -m pytest -m torture -p no:cacheprovider -q \
            tests/test_reliability_vm.py > "$dir/guest.log" 2>&1
        echo "$?" > "$dir/status"
        tail -n 15 "$dir/guest.log"
    done
}
pids=()
for v in "${KERNELS[@]}"; do
    rounds_of "$v" > >(sed -u "s/^/[$v] /") 2>&1 &
    pids+=("$!")
done
wait "${pids[@]}"

echo
echo "torture: $ROUNDS round(s) per kernel; results in $OUT"
args=()
for v in "${KERNELS[@]}"; do
    for r in $(seq 1 "$ROUNDS"); do
        args+=("$v=$OUT/$v/round-$r/torture.json")
    done
done
exec "$PY" scripts/torture_table.py "${args[@]}"
