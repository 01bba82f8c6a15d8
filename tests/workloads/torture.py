"""A scheduler torture workload (run as root in the guest, under the scheduler under test).

    python tests/workloads/torture.py [--seconds 30] [--json OUT]

For --seconds, all at once:
- stress-ng: policy changes among NORMAL, BATCH, IDLE, FIFO and RR
  (--schedpolicy), sched_yield (--yield), context switches over pipes
  (--switch), CPU affinity changes (--affinity), fork and exec storms
  (--fork, and --exec in a second stress-ng running as nobody: it refuses
  to exec as root) and nice changes (--nice);
- CPU hotplug cycles under that load: the last CPU goes offline and comes
  back every HOTPLUG_PERIOD_S (a policy without cpu_online/offline is
  exited by the kernel for a restart each time);
- tasks switched to and from SCHED_EXT: bookworm's stress-ng 0.15 knows no
  SCHED_EXT, so this script sets policy 7 and back with
  sched_setscheduler(2) on CPU spinners of its own and on a few stress-ng
  processes;
- affinity races: more always-runnable spinners than CPUs, so that they sit
  queued (on a CPU's local queue, SCX_DSQ_LOCAL_ON targets, or a per-CPU
  queue), get new random CPU masks every few milliseconds;
- cgroups: two cgroup v2 groups with the cpu controller on; the same tasks
  move between them while each group's cpu.weight changes;
- a fork bomb in a third group bounded by pids.max, ended with cgroup.kill.
The run goes on past stress-ng, at most EXERCISE_GRACE_S, until every
exercise has happened at least once (a slow hotplug operation can hold up
class switches). Prints one JSON line (and writes it to --json): what was done, stress-ng's
status, which stressors finished, and every check that failed. Exits 1 when
any check failed.
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
STRESSORS = ("schedpolicy", "yield", "switch", "affinity", "fork", "nice")
# stress-ng refuses to run its exec stressor as root: a second instance runs it as nobody.
EXEC_STRESSORS = ("exec",)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
CGROUP_ROOT = Path("/sys/fs/cgroup")
HOTPLUG_PERIOD_S = 4.0
# How long stress-ng may take to wind down after its --timeout: under emulation
# on a busy host (load 17 on 2 cores) a 30 s run took up to 200 s to end.
STRESS_GRACE_S = 270
FORK_BOMB_PIDS_MAX = 32
# Every exercise must happen at least once. A CPU hotplug operation can take a
# minute under emulation, and the class switcher was seen blocked through one
# (to_ext 2, from_ext 0 during a 50 s operation on 7.3), so the run goes on
# past stress-ng until each has happened, for at most this long.
EXERCISES = ("to_ext", "from_ext", "cgroup_moves", "weight_changes", "affinity_changes")
EXERCISE_GRACE_S = 90
# The fork bomb: every shell forks two more; forks fail at pids.max and the
# shells that could not fork exit, so the group churns at its limit.
FORK_BOMB = "b() { b | b & }; b; wait"


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


def online_cpus() -> list[int]:
    cpus = []
    for part in Path("/sys/devices/system/cpu/online").read_text().strip().split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


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


def move_cgroups(stop: threading.Event, counts: dict, targets: Targets, groups: list[Path],
                 rnd: random.Random) -> None:
    """Move tasks between the groups, and change each group's cpu.weight as they go."""
    i = 0
    while not stop.is_set():
        for pid in targets.pick():
            i += 1
            try:
                (groups[i % len(groups)] / "cgroup.procs").write_text(str(pid))
                counts["cgroup_moves"] += 1
            except OSError:
                counts["cgroup_move_failed"] += 1
        for g in groups:
            (g / "cpu.weight").write_text(str(rnd.choice((1, 10, 100, 1000, 10000, rnd.randint(1, 10000)))))
            counts["weight_changes"] += 1
        stop.wait(0.02)


def shuffle_affinity(stop: threading.Event, counts: dict, pids: list[int], rnd: random.Random) -> None:
    """New random CPU masks (often one CPU) for queued spinners, every 10 ms."""
    while not stop.is_set():
        cpus = online_cpus()
        for pid in pids:
            mask = {rnd.choice(cpus)} if rnd.random() < 0.5 else set(rnd.sample(cpus, rnd.randint(1, len(cpus))))
            try:
                os.sched_setaffinity(pid, mask)
                counts["affinity_changes"] += 1
            except OSError:  # the CPU just went offline
                counts["affinity_failed"] += 1
        stop.wait(0.01)


# A hotplug write not done after this long counts as stuck. On Debian's 7.3 each
# operation waits for RCU grace periods (percpu_down_write -> rcu_sync_enter ->
# synchronize_rcu, seen in the snapshots below), which under emulation and this
# load took up to 20 s under the fair class and up to 81 s under a policy.
HOTPLUG_STUCK_S = 120.0
# A hotplug operation this slow gets one snapshot of the blocked tasks (the first
# per run), kept in the summary: what the kernel waits on while the policy runs.
HOTPLUG_SLOW_S = 15.0
# Around each task dump in the kernel log: its stacks are this workload's request,
# not the kernel's complaint (tests/test_reliability_vm.py skips them).
DUMP_BEGINS, DUMP_ENDS = "scxpy-torture: task dump begins", "scxpy-torture: task dump ends"


def blocked_tasks() -> str:
    """The kernel's blocked tasks (sysrq w), one line per distinct stack with how many
    tasks share it: the fork bomb's dozens of identical shells would bury the rest."""
    sysrq = Path("/proc/sysrq-trigger")
    if not sysrq.exists():
        return "(this kernel has no SysRq: no task dump)"
    marker = f"{DUMP_BEGINS} {time.monotonic():.3f}"
    try:
        Path("/dev/kmsg").write_text(marker + "\n")
        sysrq.write_text("w")
        time.sleep(1.0)
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"(no task dump: {e})"
    finally:
        Path("/dev/kmsg").write_text(DUMP_ENDS + "\n")
    return "\n".join(group_stacks(out.split(marker, 1)[-1].splitlines()))


def group_stacks(lines: list[str]) -> list[str]:
    """sysrq w's task blocks as 'N x comm[,comm]: frame < frame < ...' lines, the most
    common stack last, kernel frames only (no '?' guesses, registers or user frames)."""
    groups: dict[tuple, list[str]] = {}
    comm, frames = None, []

    def close():
        if comm is not None:
            groups.setdefault(tuple(frames[:10]), []).append(comm)

    for line in lines:
        text = re.sub(r"^\[[ \d.]+\]\s*", "", line)
        m = re.match(r"task:(\S+)", text)
        if m:
            close()
            comm, frames = m.group(1), []
        elif comm is not None and re.match(r"[A-Za-z_][\w.]*\+0x", text):
            frame = text.split("+", 1)[0]
            if frames or not re.fullmatch(r"_*schedule\w*", frame):  # every block starts there
                frames.append(frame)
    close()
    rows = sorted(groups.items(), key=lambda kv: len(kv[1]))
    return [f"{len(c)} x {','.join(sorted(set(c)))}: {' < '.join(f)}" for f, c in rows]


def set_online(cpu: int, value: str, counts: dict) -> str | None:
    """Write the CPU's online file in a child (a write the kernel never finishes must not
    hang this workload); None on success, else why not. Keeps the longest write in
    counts["hotplug_max_s"] (a restart of the scheduler cannot finish before the hotplug
    operation does), timed from the child's start (spawning it under the fork bomb takes
    seconds of its own); the first write of the run slower than HOTPLUG_SLOW_S appends a
    snapshot of the blocked tasks to counts["slow_hotplug"] (not timed)."""
    path = f"/sys/devices/system/cpu/cpu{cpu}/online"
    p = subprocess.Popen(["sh", "-c", f"echo {value} > {path}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    t0, snapshot_s = time.monotonic(), 0.0
    try:
        err = p.communicate(timeout=HOTPLUG_SLOW_S)[1]
    except subprocess.TimeoutExpired:
        if not counts["slow_hotplug"]:
            s0 = time.monotonic()
            counts["slow_hotplug"].append(f"echo {value} > {path} still running after {HOTPLUG_SLOW_S:g} s; "
                                          f"blocked tasks:\n{blocked_tasks()}")
            snapshot_s = time.monotonic() - s0
        try:
            err = p.communicate(timeout=HOTPLUG_STUCK_S - HOTPLUG_SLOW_S)[1]
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return (f"echo {value} > {path} did not finish within {HOTPLUG_STUCK_S:g} s; "
                    f"blocked tasks:\n{blocked_tasks()}")
    took = time.monotonic() - t0 - snapshot_s
    counts["hotplug_max_s"] = round(max(counts["hotplug_max_s"], took), 2)
    return None if p.returncode == 0 else f"echo {value} > {path}: {err.strip()}"


def hotplug(stop: threading.Event, counts: dict, cpu: int, problems: list[str]) -> None:
    """Take `cpu` offline and back online every HOTPLUG_PERIOD_S; it is online when this
    returns, unless the kernel got stuck (then the problem says where)."""
    while not stop.wait(HOTPLUG_PERIOD_S / 2):
        err = set_online(cpu, "0", counts)
        if err is not None and "did not finish" in err:
            problems.append(err)
            return
        if err is not None:
            counts["hotplug_failed"] += 1
            continue
        stop.wait(HOTPLUG_PERIOD_S / 2)
        for _ in range(50):  # EBUSY while another hotplug operation runs
            err = set_online(cpu, "1", counts)
            if err is None or "did not finish" in err:
                break
            time.sleep(0.1)
        if err is not None:
            problems.append(err)
            return
        counts["hotplug_cycles"] += 1


def make_groups(base: Path) -> tuple[list[Path], Path]:
    """Two groups with the cpu controller on (moves and weights) and one for the fork bomb."""
    (CGROUP_ROOT / "cgroup.subtree_control").write_text("+cpu +pids")
    base.mkdir()
    (base / "cgroup.subtree_control").write_text("+cpu +pids")
    groups = [base / "a", base / "b"]
    bomb = base / "bomb"
    for g in (*groups, bomb):
        g.mkdir()
    (bomb / "pids.max").write_text(str(FORK_BOMB_PIDS_MAX))
    return groups, bomb


def empty_group(g: Path, timeout: float = 30.0) -> bool:
    """Kill every process of `g` and wait until it is empty."""
    (g / "cgroup.kill").write_text("1")
    deadline = time.monotonic() + timeout
    while (g / "cgroup.procs").read_text().strip():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def remove_groups(base: Path, groups: list[Path], bomb: Path) -> None:
    for g in groups:
        for pid in (g / "cgroup.procs").read_text().split():
            try:
                (CGROUP_ROOT / "cgroup.procs").write_text(pid)
            except OSError:
                pass
    for g in (*groups, bomb, base):
        for _ in range(50):
            try:
                g.rmdir()
                break
            except OSError:  # a killed task not reaped yet
                time.sleep(0.1)


def attached_ops(wait_s: float = 10.0) -> tuple[str, str]:
    """sched_ext's state and scheduler name, once it is enabled (a restart after the
    last hotplug cycle may still be under way) or after wait_s."""
    sysfs = Path("/sys/kernel/sched_ext")
    deadline = time.monotonic() + wait_s
    while True:
        state = (sysfs / "state").read_text().strip()
        ops = (sysfs / "root" / "ops").read_text().strip() if (sysfs / "root" / "ops").exists() else ""
        if state == "enabled" or time.monotonic() > deadline:
            return state, ops
        time.sleep(0.1)


def finished(out: str, names) -> list[str]:
    return sorted(set(re.findall(r"metrc: \[\d+\] (\S+)\s+\d+\s+[\d.]+", out)) & set(names))


def in_group(group: Path) -> callable:
    def enter():
        (group / "cgroup.procs").write_text("0")
    return enter


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--json")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--expect-ops", metavar="NAME",
                    help="the sched_ext scheduler that must still be attached at the end")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    ncpus = os.cpu_count() or 2
    # One instance of each stressor: under emulation (TCG) more only makes a 30 s
    # run take minutes, and the races are the same.
    n = "1"
    common = ["--timeout", f"{args.seconds}s", "--temp-path", "/tmp", "--metrics-brief"]
    cmd = ["stress-ng", *common]
    for s in STRESSORS:
        cmd += [f"--{s}", n]
    # --exec-max: at most 16 children exec per round (stress-ng's default, 4096, takes
    # minutes to start and reap under emulation, so the run outlived its limit).
    exec_cmd = [*NOBODY, "stress-ng", *common, "--exec", n, "--exec-max", "16"]

    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        print(f"torture: no cgroup v2 at {CGROUP_ROOT}", file=sys.stderr)
        return 1
    base = CGROUP_ROOT / f"scxpy-torture-{os.getpid()}"
    groups, bomb_group = make_groups(base)

    counts = dict.fromkeys(("to_ext", "from_ext", "switch_failed", "cgroup_moves", "cgroup_move_failed",
                            "weight_changes", "affinity_changes", "affinity_failed", "hotplug_cycles",
                            "hotplug_failed", "hotplug_max_s"), 0)
    counts["slow_hotplug"] = []
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/tmp")
             for c in (cmd, exec_cmd)]
    spinners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(ncpus + 2)]
    bomb = subprocess.Popen(["sh", "-c", FORK_BOMB], preexec_fn=in_group(bomb_group),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spinner_pids = [p.pid for p in spinners]
    stop = threading.Event()
    threads = [
        threading.Thread(target=switch_ext, args=(stop, counts, Targets(spinner_pids[:2], rnd))),
        threading.Thread(target=move_cgroups, args=(stop, counts, Targets(spinner_pids[:2], random.Random(rnd.random())),
                                                    groups, random.Random(rnd.random()))),
        threading.Thread(target=shuffle_affinity, args=(stop, counts, spinner_pids, random.Random(rnd.random()))),
    ]
    outs, problems = [], []
    if ncpus > 1:
        threads.append(threading.Thread(target=hotplug, args=(stop, counts, ncpus - 1, problems)))
    for t in threads:
        t.start()
    bomb_events = ""
    try:
        for p in procs:
            try:
                outs.append(p.communicate(timeout=args.seconds + STRESS_GRACE_S)[0])
            except subprocess.TimeoutExpired:
                problems.append(f"stress-ng ({' '.join(p.args[:4])}...) still ran {args.seconds + STRESS_GRACE_S} s "
                                "after start")
                p.kill()
                outs.append(p.communicate()[0])
        deadline = time.monotonic() + EXERCISE_GRACE_S
        while not all(counts[w] for w in EXERCISES) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
        bomb_events = (bomb_group / "pids.events").read_text()
        bomb_peak = int((bomb_group / "pids.peak").read_text()) if (bomb_group / "pids.peak").exists() else None
        if not empty_group(bomb_group):
            problems.append("the fork bomb's group did not empty within 30 s of cgroup.kill")
        bomb.wait(timeout=30)
        for p in procs + spinners:
            if p.poll() is None:
                p.kill()
                p.wait()
        remove_groups(base, groups, bomb_group)
    out = "\n".join(outs)
    done = finished(outs[0], STRESSORS) + finished(outs[1], EXEC_STRESSORS)
    bomb_limited = int(re.search(r"max (\d+)", bomb_events).group(1))
    result = {"seconds": round(time.monotonic() - t0, 1), "stress_status": [p.returncode for p in procs],
              "stressors_finished": sorted(done), "stressors": sorted(STRESSORS + EXEC_STRESSORS),
              "fork_bomb_forks_refused": bomb_limited, "fork_bomb_peak": bomb_peak, **counts}
    if any(p.returncode != 0 for p in procs):
        problems.append(f"stress-ng exit statuses {result['stress_status']}")
    if result["stressors_finished"] != result["stressors"]:
        problems.append(f"stressors finished: {result['stressors_finished']} of {result['stressors']}")
    for what in EXERCISES:
        if not counts[what]:
            problems.append(f"no {what}")
    if ncpus > 1 and not counts["hotplug_cycles"]:
        problems.append("no CPU hotplug cycle")
    if not bomb_limited:
        problems.append("the fork bomb never reached pids.max")
    if bomb_peak is not None and bomb_peak > FORK_BOMB_PIDS_MAX:
        problems.append(f"the fork bomb reached {bomb_peak} tasks, above pids.max {FORK_BOMB_PIDS_MAX}")
    if args.expect_ops:
        attached = attached_ops()
        if attached != ("enabled", args.expect_ops):
            problems.append(f"at the end sched_ext is {attached[0]!r} with {attached[1]!r}, "
                            f"not enabled with {args.expect_ops!r}")
    if online_cpus() != list(range(ncpus)):
        problems.append(f"CPUs online at the end: {online_cpus()}")
    result["problems"] = problems
    line = json.dumps(result, sort_keys=True)
    print(f"torture: {line}")
    if args.json:
        Path(args.json).write_text(line + "\n")
    if problems:
        print(out[-4000:], file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
