"""Guest side: one measurement per behaviour check, each returning its figures.

Every figure comes from the kernel's own accounting: run time and run
delay from /proc/PID/schedstat (sum_exec_runtime, sched_info run_delay),
waits and idle spells from the sched_switch/sched_wakeup tracepoints
(tracing.py), CPU hotplug state from sysfs. Nothing is inferred from how
long a sleep took. The host judges the figures (catalog.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from scxpy.check import tasks, tracing
from scxpy.check.tasks import running

SCX = Path("/sys/kernel/sched_ext")


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def _ticks() -> None:
    """A task that exits at once on every CPU: each CPU then has a sched_switch early in
    the recording, from which its idle/busy state is known."""
    pids = [tasks.spawn("tick", lambda: None, cpus={c}) for c in _cpus()]
    for pid in pids:
        os.waitpid(pid, 0)


def weight_fairness(duration: float, warmup: float, nices=(-5, 0, 0, 5)) -> dict:
    """Hogs on one CPU at the given nice values (default -5, 0, 0 and 5): each one's share
    of the CPU time they got together, against its share of their weights. Figures: the
    largest deviation |share - expected| in percentage points of the CPU (deviation_pts),
    and the largest relative error |share / expected - 1| in percent (error_pct)."""
    cpu = _cpus()[-1]
    specs = [("nice" + str(n), tasks.spin, {"nice": n, "cpus": {cpu}}) for n in nices]
    with running(*specs) as pids:
        time.sleep(warmup)
        t0 = [tasks.exec_ns(p) for p in pids]
        time.sleep(duration)
        t1 = [tasks.exec_ns(p) for p in pids]
    ran = [b - a for a, b in zip(t0, t1)]
    total = sum(ran) or 1
    wsum = sum(tasks.weight(n) for n in nices)
    rows = []
    for n, r in zip(nices, ran):
        share, expected = r / total, tasks.weight(n) / wsum
        rows.append({"nice": n, "share": share, "expected": expected, "error": share / expected - 1})
    return {"deviation_pts": 100 * max(abs(r["share"] - r["expected"]) for r in rows),
            "error_pct": 100 * max(abs(r["error"]) for r in rows), "hogs": rows, "cpu": cpu}


def latency(duration: float, warmup: float, period: float = 0.01, hogs_per_cpu: int = 1) -> dict:
    """A task waking every `period` while one hog per CPU saturates every CPU: per wakeup,
    how long it waited on a run queue before running (its sched_info run_delay grew by
    that much). Figures: p50 and p99 in microseconds."""
    n = len(_cpus())
    delays: list[int] = []
    with running(*tasks.hogs(n * hogs_per_cpu)):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the probe: a SCHED_EXT task of its own
            os.close(read_fd)
            tasks._become("probe")
            out = []
            begin = time.monotonic() + warmup
            stop = begin + duration
            nxt = time.monotonic() + period
            last = tasks.run_delay_ns()
            while True:
                time.sleep(max(0.0, nxt - time.monotonic()))
                now_delay = tasks.run_delay_ns()
                if time.monotonic() >= begin:
                    out.append(now_delay[0] - last[0])
                last = tasks.run_delay_ns()
                nxt += period
                if time.monotonic() >= stop:
                    break
                if nxt < time.monotonic():  # late: skip the missed periods, do not burst
                    nxt = time.monotonic() + period
            os.write(write_fd, (" ".join(map(str, out))).encode())
            os._exit(0)
        os.close(write_fd)
        reply = _read_all(read_fd)
        os.waitpid(pid, 0)
        delays = [int(x) for x in reply.split()]
    if not delays:
        return {"error": "the latency probe recorded no wakeups"}
    xs = sorted(delays)

    def pct(q):
        return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] / 1000

    return {"p50_us": pct(50), "p99_us": pct(99), "max_us": xs[-1] / 1000, "wakeups": len(xs)}


def starvation(duration: float, warmup: float) -> dict:
    """Hogs (twice as many as CPUs), a task forking short-lived children and a task
    yielding in a loop: the longest time any of them (or their children) spent
    runnable without running, from sched_wakeup/sched_switch, in milliseconds.
    With one hog per CPU queued behind the running ones, no CPU goes idle and no
    queue empties for an instant, so a policy that serves some queue only when
    the others are empty starves it every time, not only when it loses a race."""
    n = len(_cpus())
    specs = tasks.hogs(2 * n) + [("forker", tasks.forker, {}), ("yield", tasks.yielder, {})]
    with tracing.Recording() as rec:
        _ticks()
        with running(*specs):
            time.sleep(warmup)
            start = time.monotonic()
            time.sleep(duration)
            end = time.monotonic()
    spells = [w for w in tracing.waits(rec, start, end) if w[0] not in _tick_pids(rec)]
    if not spells:
        return {"error": "no waits were recorded: the tracepoints saw none of the workload"}
    pid, t0, t1, _ = max(spells, key=lambda w: w[2] - w[1])
    comm = _comm_of(rec, pid)
    return {"max_wait_ms": (t1 - t0) * 1000, "task": comm, "spells": len(spells)}


def work_conservation(duration: float, warmup: float, grace: float = 0.001) -> dict:
    """Twice as many tasks as CPUs, each running 3 ms and sleeping 2 ms: the CPU time
    during which a CPU ran its idle task while a workload task (allowed on every CPU)
    had been waiting for longer than `grace` (waits that short are wake-up latency).
    Idle spells and waits both from the tracepoints; the figure is that time as a
    percentage of all CPU time in the window."""
    cpus = _cpus()
    specs = [("duty", tasks.duty_cycle(0.003, 0.002), {})] * (2 * len(cpus))
    with tracing.Recording() as rec:
        _ticks()
        with running(*specs):
            time.sleep(warmup)
            start = time.monotonic()
            time.sleep(duration)
            end = time.monotonic()
    ticks = _tick_pids(rec)
    # Waits count once they are older than the grace period.
    waiting = [(t0 + grace, t1, cpu) for pid, t0, t1, cpu in tracing.waits(rec, start, end)
               if pid not in ticks and t1 - t0 > grace]
    idle = tracing.idle_spells(rec, len(cpus), start, end)
    wasted = _wasted(idle, waiting)
    window = (end - start) * len(cpus)
    idle_total = sum(t1 - t0 for _, t0, t1 in idle)
    return {"idle_while_waiting_pct": 100 * wasted / window, "idle_pct": 100 * idle_total / window,
            "waits_over_grace": len(waiting)}


def _wasted(idle: list[tuple[int, float, float]], waiting: list[tuple[float, float, int]]) -> float:
    """CPU time that idle CPUs could have spent on waiting tasks: at each instant,
    min(idle CPUs no waiting task is headed to, waiting tasks headed to a busy CPU).
    A task woken to (or preempted on) a CPU that is idle is on its way there: that CPU
    is taken, and the task is not counted against the others."""
    evs = [(t0, 0, cpu) for cpu, t0, _ in idle] + [(t1, 1, cpu) for cpu, _, t1 in idle] + \
          [(t0, 2, (i, cpu)) for i, (t0, _, cpu) in enumerate(waiting)] + \
          [(t1, 3, (i, cpu)) for i, (_, t1, cpu) in enumerate(waiting)]
    evs.sort(key=lambda e: (e[0], e[1]))
    idle_cpus: set[int] = set()
    targets: dict[int, int] = {}  # waiting task -> its CPU
    total, last = 0.0, None
    for t, kind, what in evs:
        if last is not None and t > last and idle_cpus and targets:
            headed = set(targets.values())
            free = len(idle_cpus - headed)
            stuck = sum(1 for c in targets.values() if c not in idle_cpus)
            total += (t - last) * min(free, stuck)
        last = t
        if kind == 0:
            idle_cpus.add(what)
        elif kind == 1:
            idle_cpus.discard(what)
        elif kind == 2:
            targets[what[0]] = what[1]
        else:
            targets.pop(what[0], None)
    return total


def affinity(duration: float, warmup: float, every: float = 0.02) -> dict:
    """One hog pinned to each CPU, one unpinned, and two tasks that move their own
    affinity to another CPU every `every`: every time one of them is switched in
    (sched_switch), is that CPU in its allowed set at that moment? The figure is the
    number of switch-ins on a CPU the task was not allowed on."""
    cpus = _cpus()
    r, w = os.pipe()

    def mover():
        os.close(r)
        i = 0
        while True:
            mask = {cpus[i % len(cpus)]}
            before = time.monotonic()
            os.sched_setaffinity(0, mask)
            after = time.monotonic()
            os.write(w, f"{os.getpid()} {before:.6f} {after:.6f} {min(mask)}\n".encode())
            i += 1
            tasks.busy_for(every)

    specs = [("pin" + str(c), tasks.spin, {"cpus": {c}}) for c in cpus] + [("free", tasks.spin, {})] + \
            [("mover", mover, {})] * 2
    with tracing.Recording() as rec:
        with running(*specs) as pids:
            os.close(w)
            time.sleep(warmup + duration)
            tasks.stop(pids)  # every task holds the pipe's write end: all must end before EOF
            moves = _read_all(r)
    pinned = {pid: c for pid, c in zip(pids, cpus)}
    changes: dict[int, list[tuple[float, float, int]]] = {}
    for line in moves.splitlines():
        pid, before, after, cpu = line.split()
        changes.setdefault(int(pid), []).append((float(before), float(after), int(cpu)))
    violations, seen = [], 0
    for s in rec.switches:
        if not tracing.ours(s.next_comm):
            continue  # just forked, not yet pinned and named (tasks._become)
        if s.next_pid in pinned:
            seen += 1
            if s.cpu != pinned[s.next_pid]:
                violations.append(f"{s.next_comm} (pinned to CPU {pinned[s.next_pid]}) ran on CPU {s.cpu}")
        elif s.next_pid in changes and s.t < changes[s.next_pid][-1][0]:
            # After its last logged change a mover may have changed again unlogged (it was
            # killed between the change and the write): not judged.
            seen += 1
            ok = _allowed(changes[s.next_pid], s.t, s.cpu)
            if ok is False:
                violations.append(f"{s.next_comm} ran on CPU {s.cpu} at {s.t:.6f} outside its affinity")
    return {"violations": len(violations), "switch_ins": seen, "moves": sum(map(len, changes.values())),
            "examples": violations[:5]}


def _allowed(log: list[tuple[float, float, int]], t: float, cpu: int) -> bool | None:
    """Was `cpu` allowed at time t? None before the first change (the full set)."""
    prev = None
    for before, after, c in log:
        if t < before:
            break
        if t <= after:  # during the change: the old set or the new one
            return cpu == c or prev is None or cpu == prev
        prev = c
    return None if prev is None else cpu == prev


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks).decode()


def hotplug(duration: float, warmup: float) -> dict:
    """Hogs on every CPU; the last CPU goes offline and back online. The scheduler
    attached before (if any) must be enabled again afterwards: unchanged (survived),
    or loaded again after the kernel asked for a restart (restarted)."""
    cpus = _cpus()
    if len(cpus) < 2:
        return {"error": "CPU hotplug needs at least 2 CPUs (boot the guest with --cpus 2 or more)"}
    online = Path(f"/sys/devices/system/cpu/cpu{cpus[-1]}/online")
    if not online.exists():
        return {"error": f"{online} does not exist: the kernel cannot take CPU {cpus[-1]} offline"}
    before = _scx_state()
    with running(*tasks.hogs(len(cpus) + 1)) as pids:
        time.sleep(warmup)
        online.write_text("0")
        time.sleep(duration / 2)
        online.write_text("1")
        time.sleep(duration / 2)
        ran = [tasks.exec_ns(p) for p in pids]
        # The scxpy agent restarts a scheduler the kernel exited for hotplug; give it time.
        deadline = time.monotonic() + 15
        after = _scx_state()
        while before["ops"] and after["state"] != "enabled" and time.monotonic() < deadline:
            time.sleep(0.1)
            after = _scx_state()
        time.sleep(0.2)
        ran2 = [tasks.exec_ns(p) for p in pids]
    progressed = all(b > a for a, b in zip(ran, ran2))
    if not before["ops"]:
        outcome = "survived"
    elif after["state"] != "enabled" or after["ops"] != before["ops"]:
        outcome = "ejected"
    elif after["seq"] == before["seq"]:
        outcome = "survived"
    else:
        outcome = "restarted"
    return {"outcome": outcome, "hogs_progressed": progressed, "before": before, "after": after}


def cgroup_shares(duration: float, warmup: float, weights=None) -> dict:
    """One hog per cgroup, all pinned to one CPU, each cgroup with its cpu.weight (default
    100 and 200): each group's share of their CPU time against its share of the weights.
    The figure is the largest relative error, in percent (as weight_fairness)."""
    weights = dict(weights or {"a": 100, "b": 200})
    cpu = _cpus()[-1]
    root = _cgroup2_root()
    base = root / "scxchk"
    made = []
    try:
        if "cpu" not in (root / "cgroup.subtree_control").read_text().split():
            (root / "cgroup.subtree_control").write_text("+cpu")  # base gets its own cpu controller
        base.mkdir(exist_ok=True)
        made.append(base)
        (base / "cgroup.subtree_control").write_text("+cpu")
        for g, w in weights.items():
            d = base / g
            d.mkdir(exist_ok=True)
            made.append(d)
            (d / "cpu.weight").write_text(str(int(w)))
        specs = [("cg-" + g, tasks.spin, {"cpus": {cpu}}) for g in weights]
        with running(*specs) as pids:
            for g, pid in zip(weights, pids):
                (base / g / "cgroup.procs").write_text(str(pid))
            time.sleep(warmup)
            t0 = [tasks.exec_ns(p) for p in pids]
            time.sleep(duration)
            t1 = [tasks.exec_ns(p) for p in pids]
    finally:
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                pass
    ran = [b - a for a, b in zip(t0, t1)]
    total, wsum = sum(ran) or 1, sum(weights.values())
    rows = [{"group": g, "share": r / total, "expected": w / wsum, "error": (r / total) / (w / wsum) - 1}
            for (g, w), r in zip(weights.items(), ran)]
    return {"deviation_pts": 100 * max(abs(r["share"] - r["expected"]) for r in rows),
            "error_pct": 100 * max(abs(r["error"]) for r in rows), "groups": rows, "cpu": cpu}


def _cgroup2_root() -> Path:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            return Path(parts[1])
    root = Path("/sys/fs/cgroup")
    import subprocess

    r = subprocess.run(["mount", "-t", "cgroup2", "none", str(root)], capture_output=True, text=True)
    if r.returncode != 0:
        raise OSError(f"no cgroup2 hierarchy and mounting one at {root} failed: {r.stderr.strip()}")
    return root


def _scx_state() -> dict:
    def read(name):
        try:
            return (SCX / name).read_text().strip()
        except OSError:
            return ""
    ops = read("root/ops")
    return {"state": read("state"), "ops": ops, "seq": read("enable_seq")}


def _tick_pids(rec: tracing.Recording) -> set[int]:
    return {w.pid for w in rec.wakeups if w.comm == "scxchk-tick"} | \
           {s.next_pid for s in rec.switches if s.next_comm == "scxchk-tick"}


def _comm_of(rec: tracing.Recording, pid: int) -> str:
    names = [s.next_comm for s in rec.switches if s.next_pid == pid]
    return names[-1] if names else str(pid)  # the last: a task is renamed after fork (tasks._become)


PROBES = {
    "weight_fairness": weight_fairness,
    "latency": latency,
    "starvation": starvation,
    "work_conservation": work_conservation,
    "affinity": affinity,
    "hotplug": hotplug,
    # Also the plugin's cgroup_shares(). Promised by policies with a Dsq(share="cgroup") only.
    "cgroup_weight": cgroup_shares,
}
