"""The torture table: passes per policy and kernel, hangs, restarts, the slowest restart
and its attach part, the slowest CPU hotplug operation, and the tasks the wait guard ran
(queued longer than the policy's max_wait).

    python scripts/torture_table.py KERNEL=ROUND.json [KERNEL=ROUND.json ...]

Each argument is one round's table (tests/test_reliability_vm.py writes torture.json,
a row after each policy); a round whose file is missing ended before its first row (a
hang or a crash), and a stock policy missing from a round was not run (the round ended
early). Exit status 1 when any policy failed or was not run, or any round hung.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scxpy import schedulers


def passed(row: dict) -> bool:
    return row["status"] == 0 and not row["ejected"] and not row["problems"] and not row["kernel_complaints"]


def main(args: list[str]) -> int:
    rounds: dict[str, list[Path]] = {}
    for arg in args:
        kernel, _, path = arg.partition("=")
        rounds.setdefault(kernel, []).append(Path(path))
    # A restart cannot end before the hotplug operation that caused it: the longest
    # `echo 0|1 > online` is shown beside the longest restart and its attach part.
    print(f"{'kernel':<7} {'policy':<12} {'passed':>7} {'failed':>7} {'not run':>8} {'hung':>5} {'restarts':>9} "
          f"{'max restart s':>14} {'max attach s':>13} {'max hotplug s':>14} {'waited':>7}")
    bad = 0
    for kernel, files in rounds.items():
        per = {pol: {"passed": 0, "failed": 0, "not run": 0, "restarts": 0, "max": 0.0, "attach": 0.0,
                     "hotplug": 0.0, "waited": 0} for pol in schedulers.stock()}
        hung = 0
        for f in files:
            if not f.exists():
                hung += 1
                continue
            table = json.loads(f.read_text())
            for pol in per.keys() - table.keys():
                per[pol]["not run"] += 1
            for pol, row in table.items():
                s = per[pol]
                s["passed" if passed(row) else "failed"] += 1
                s["restarts"] += row["restarts"]
                s["max"] = max(s["max"], row.get("restart_max_s") or 0.0)
                s["attach"] = max(s["attach"], row.get("attach_max_s") or 0.0)
                s["hotplug"] = max(s["hotplug"], row.get("hotplug_max_s") or 0.0)
                s["waited"] += row.get("waited_served") or 0
        for pol, s in sorted(per.items()):
            bad += s["failed"] + s["not run"]
            print(f"{kernel:<7} {pol:<12} {s['passed']:>7} {s['failed']:>7} {s['not run']:>8} {'':>5} {s['restarts']:>9} "
                  f"{s['max']:>14.2f} {s['attach']:>13.2f} {s['hotplug']:>14.2f} {s['waited']:>7}")
        print(f"{kernel:<7} {'(rounds)':<12} {len(files) - hung:>7} {'':>7} {'':>8} {hung:>5}")
        bad += hung
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
