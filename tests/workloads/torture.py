"""A scheduler torture workload (run as root in the guest, under the scheduler under test).

    python tests/workloads/torture.py [--seconds 30] [--json OUT]

For --seconds, all at once:
- stress-ng: policy changes among NORMAL, BATCH, IDLE, FIFO and RR
  (--schedpolicy), sched_yield (--yield), context switches over pipes
  (--switch), CPU affinity changes (--affinity), fork and exec storms
  (--fork, and --exec in a second stress-ng running as nobody: it refuses
  to exec as root), CPUs taken off- and online (--cpu-online, which
  stress-ng counts as --pathological) and nice changes (--nice);
- tasks switched to and from SCHED_EXT: bookworm's stress-ng 0.15 knows no
  SCHED_EXT, so this script sets policy 7 and back with
  sched_setscheduler(2) on two CPU spinners of its own (always runnable)
  and on a few stress-ng processes;
- cgroup moves: the same tasks moved between two cgroup v2 groups.
Prints one JSON line (and writes it to --json): what was done, stress-ng's
status and which stressors finished. Exits 1 when a stress-ng failed, a
stressor did not finish or no switch/move succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

SCHED_EXT = 7
STRESSORS = ("schedpolicy", "yield", "switch", "affinity", "fork", "cpu-online", "nice")
# stress-ng refuses to run its exec stressor as root: a second instance runs it as nobody.
EXEC_STRESSORS = ("exec",)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
CGROUP_ROOT = Path("/sys/fs/cgroup")
SPINNERS = 2


def stress_pids() -> list[int]:
    """Processes whose comm starts with stress-ng (a /proc scan: slow under TCG, done once a second)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "comm").read_text().startswith("stress-ng"):
                out.append(int(d.name))
        except OSError:
            continue
    return out


class Targets:
    """Whom to switch and move: our own CPU spinners (always runnable: the class
    change happens on a queued task), and a few stress-ng processes, refreshed
    once a second."""

    def __init__(self, spinners: list[int], rnd: random.Random):
        self.spinners, self.rnd, self.sampled, self.at = spinners, rnd, [], 0.0

    def pick(self) -> list[int]:
        if time.monotonic() - self.at > 1.0:
            pids = stress_pids()
            self.sampled = self.rnd.sample(pids, k=min(4, len(pids)))
            self.at = time.monotonic()
        return self.spinners + self.sampled


def switch_ext(stop: threading.Event, counts: dict, targets: Targets) -> None:
    """Set tasks to SCHED_EXT and back to SCHED_NORMAL, alternately."""
    param, to_ext = os.sched_param(0), True
    while not stop.is_set():
        for pid in targets.pick():
            try:
                os.sched_setscheduler(pid, SCHED_EXT if to_ext else os.SCHED_OTHER, param)
                counts["to_ext" if to_ext else "from_ext"] += 1
            except OSError:  # gone, or an RT task of --schedpolicy mid-change
                counts["switch_failed"] += 1
        to_ext = not to_ext
        stop.wait(0.01)


def move_cgroups(stop: threading.Event, counts: dict, targets: Targets, groups: list[Path]) -> None:
    i = 0
    while not stop.is_set():
        for pid in targets.pick():
            i += 1
            try:
                (groups[i % len(groups)] / "cgroup.procs").write_text(str(pid))
                counts["cgroup_moves"] += 1
            except OSError:
                counts["cgroup_move_failed"] += 1
        stop.wait(0.02)


def finished(out: str, names) -> list[str]:
    return sorted(set(re.findall(r"metrc: \[\d+\] (\S+)\s+\d+\s+[\d.]+", out)) & set(names))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--json")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    n = str(max(1, (os.cpu_count() or 2) // 2))
    common = ["--timeout", f"{args.seconds}s", "--temp-path", "/tmp", "--metrics-brief"]
    cmd = ["stress-ng", "--pathological", *common]
    for s in STRESSORS:
        cmd += [f"--{s}", "1" if s == "cpu-online" else n]
    exec_cmd = [*NOBODY, "stress-ng", *common, "--exec", n]

    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        print(f"torture: no cgroup v2 at {CGROUP_ROOT}", file=sys.stderr)
        return 1
    base = CGROUP_ROOT / f"scxpy-torture-{os.getpid()}"
    groups = [base / "a", base / "b"]
    for g in groups:
        g.mkdir(parents=True)

    counts = {"to_ext": 0, "from_ext": 0, "switch_failed": 0, "cgroup_moves": 0, "cgroup_move_failed": 0}
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/tmp")
             for c in (cmd, exec_cmd)]
    spinners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(SPINNERS)]
    stop = threading.Event()
    threads = [threading.Thread(target=switch_ext, args=(stop, counts, Targets([p.pid for p in spinners], rnd))),
               threading.Thread(target=move_cgroups,
                                args=(stop, counts, Targets([p.pid for p in spinners], random.Random(rnd.random())), groups))]
    for t in threads:
        t.start()
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=args.seconds + 120)[0])
    finally:
        stop.set()
        for t in threads:
            t.join()
        for p in procs + spinners:
            if p.poll() is None:
                p.kill()
                p.wait()
        for g in reversed(groups):
            for pid in (g / "cgroup.procs").read_text().split():
                try:
                    (CGROUP_ROOT / "cgroup.procs").write_text(pid)
                except OSError:
                    pass
            g.rmdir()
        base.rmdir()
    out = "\n".join(outs)
    done = finished(outs[0], STRESSORS) + finished(outs[1], EXEC_STRESSORS)
    result = {"seconds": round(time.monotonic() - t0, 1), "stress_status": [p.returncode for p in procs],
              "stressors_finished": sorted(done), "stressors": sorted(STRESSORS + EXEC_STRESSORS), **counts}
    line = json.dumps(result, sort_keys=True)
    print(f"torture: {line}")
    if args.json:
        Path(args.json).write_text(line + "\n")
    ok = (all(p.returncode == 0 for p in procs) and result["stressors_finished"] == result["stressors"]
          and counts["to_ext"] and counts["from_ext"] and counts["cgroup_moves"])
    if not ok:
        print(out[-4000:], file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
