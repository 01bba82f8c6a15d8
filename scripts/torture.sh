#!/usr/bin/env bash
# The torture tier (tests/test_reliability_vm.py, marker torture: every stock
# policy through tests/workloads/torture.py), ROUNDS consecutive rounds on each
# kernel, one fresh 4-vCPU guest per round; then a table of passes per policy
# and kernel, hangs, restarts and the slowest restart.
#
#   bash scripts/torture.sh [ROUNDS] [KERNEL ...]     (default: 10 rounds, 6.12 and 7.3)
#
# scripts/test.sh runs one round as part of its vm tier. A guest that stops
# making progress is ended by `scxpy vm --timeout` and counted as a hang.
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
done

"$PY" - "$OUT" "$ROUNDS" "${KERNELS[@]}" <<'PYEOF'
import json, sys
from pathlib import Path
out, rounds, kernels = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
print(f"\ntorture: {rounds} round(s) per kernel; results in {out}")
# A restart cannot end before the hotplug operation that caused it: the longest
# `echo 0|1 > online` is shown beside the longest restart and its attach part.
print(f"{'kernel':<7} {'policy':<12} {'passed':>7} {'failed':>7} {'hung':>5} {'restarts':>9} {'max restart s':>14} "
      f"{'max attach s':>13} {'max hotplug s':>14}")
bad = 0
for v in kernels:
    per: dict[str, dict] = {}
    hung = 0
    for r in range(1, rounds + 1):
        d = out / v / f"round-{r}"
        table = json.loads((d / "torture.json").read_text()) if (d / "torture.json").exists() else None
        if table is None:  # the guest ended before the test wrote its table: timeout or crash
            hung += 1
            continue
        for pol, row in table.items():
            s = per.setdefault(pol, {"passed": 0, "failed": 0, "restarts": 0, "max": 0.0, "attach": 0.0,
                                     "hotplug": 0.0})
            ok = row["status"] == 0 and not row["ejected"] and not row["problems"] and not row["kernel_complaints"]
            s["passed" if ok else "failed"] += 1
            s["restarts"] += row["restarts"]
            s["max"] = max(s["max"], row.get("restart_max_s") or 0.0)
            s["attach"] = max(s["attach"], row.get("attach_max_s") or 0.0)
            s["hotplug"] = max(s["hotplug"], row.get("hotplug_max_s") or 0.0)
    for pol, s in sorted(per.items()):
        bad += s["failed"]
        print(f"{v:<7} {pol:<12} {s['passed']:>7} {s['failed']:>7} {'':>5} {s['restarts']:>9} {s['max']:>14.2f} "
              f"{s['attach']:>13.2f} {s['hotplug']:>14.2f}")
    print(f"{v:<7} {'(rounds)':<12} {rounds - hung:>7} {'':>7} {hung:>5}")
    bad += hung
sys.exit(1 if bad else 0)
PYEOF
