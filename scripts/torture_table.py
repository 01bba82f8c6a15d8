"""The torture table: passes per policy and kernel, hangs, restarts, the slowest restart
and its attach part, and the slowest CPU hotplug operation.

    python scripts/torture_table.py KERNEL=ROUND.json [KERNEL=ROUND.json ...]

Each argument is one round's table (tests/test_reliability_vm.py writes torture.json);
a round whose file is missing ended before the test wrote it (a hang or a crash).
Exit status 1 when any policy failed or any round hung.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def passed(row: dict) -> bool:
    return row["status"] == 0 and not row["ejected"] and not row["problems"] and not row["kernel_complaints"]


def main(args: list[str]) -> int:
    rounds: dict[str, list[Path]] = {}
    for arg in args:
        kernel, _, path = arg.partition("=")
        rounds.setdefault(kernel, []).append(Path(path))
    # A restart cannot end before the hotplug operation that caused it: the longest
    # `echo 0|1 > online` is shown beside the longest restart and its attach part.
    print(f"{'kernel':<7} {'policy':<12} {'passed':>7} {'failed':>7} {'hung':>5} {'restarts':>9} "
          f"{'max restart s':>14} {'max attach s':>13} {'max hotplug s':>14}")
    bad = 0
    for kernel, files in rounds.items():
        per: dict[str, dict] = {}
        hung = 0
        for f in files:
            if not f.exists():
                hung += 1
                continue
            for pol, row in json.loads(f.read_text()).items():
                s = per.setdefault(pol, {"passed": 0, "failed": 0, "restarts": 0, "max": 0.0, "attach": 0.0,
                                         "hotplug": 0.0})
                s["passed" if passed(row) else "failed"] += 1
                s["restarts"] += row["restarts"]
                s["max"] = max(s["max"], row.get("restart_max_s") or 0.0)
                s["attach"] = max(s["attach"], row.get("attach_max_s") or 0.0)
                s["hotplug"] = max(s["hotplug"], row.get("hotplug_max_s") or 0.0)
        for pol, s in sorted(per.items()):
            bad += s["failed"]
            print(f"{kernel:<7} {pol:<12} {s['passed']:>7} {s['failed']:>7} {'':>5} {s['restarts']:>9} "
                  f"{s['max']:>14.2f} {s['attach']:>13.2f} {s['hotplug']:>14.2f}")
        print(f"{kernel:<7} {'(rounds)':<12} {len(files) - hung:>7} {'':>7} {hung:>5}")
        bad += hung
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
