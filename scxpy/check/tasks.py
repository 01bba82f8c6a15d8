"""Guest side: the tasks a behaviour check runs, each a forked process named `scxchk-*`.

Every task is switched to SCHED_EXT (policy 7) before it starts its work:
a partial policy (`partial = True`) schedules only such tasks, a full one
schedules them anyway, and with no sched_ext scheduler attached the
kernel runs SCHED_EXT tasks in the fair class, so one workload serves the
policy and its fair baseline alike. The `scxchk-` name lets the tracing
side tell the workload from everything else in the guest.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager

SCHED_EXT = 7
PREFIX = "scxchk-"

# The kernel's sched_prio_to_weight table (kernel/sched/core.c): nice -20..19.
_WEIGHTS = (88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
            9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
            1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
            110, 87, 70, 56, 45, 36, 29, 23, 18, 15)


def weight(nice: int) -> int:
    """The load weight of a nice value, as the kernel's fair class uses it."""
    if not -20 <= nice <= 19:
        raise ValueError(f"nice {nice} is outside -20..19")
    return _WEIGHTS[nice + 20]


def _become(name: str, nice: int = 0, cpus: set[int] | None = None) -> None:
    """In the child: affinity, nice, scheduling class and name of this task. The name
    comes last: a switch-in the trace shows under the `scxchk-` name is then one
    with the affinity already in force (the affinity check relies on it)."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        os.sched_setscheduler(0, SCHED_EXT, os.sched_param(0))
    except OSError:
        pass  # a kernel without sched_ext: the checks refuse to run there anyway
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with open("/proc/self/comm", "w") as f:
        f.write((PREFIX + name)[:15])


def spawn(name: str, body, *, nice: int = 0, cpus: set[int] | None = None) -> int:
    """Fork a task that runs body() (forever, or until it returns) and exits."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _become(name, nice, cpus)
            body()
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def spin() -> None:
    while True:
        pass


def busy_for(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def duty_cycle(run_s: float, sleep_s: float):
    """A task that runs run_s, sleeps sleep_s, again and again: wakeups, runnable and idle spells."""
    def body():
        while True:
            busy_for(run_s)
            time.sleep(sleep_s)
    return body


def yielder() -> None:
    """Runs a little, yields the CPU, again and again (sched_yield)."""
    while True:
        busy_for(0.0005)
        os.sched_yield()


def forker() -> None:
    """Forks short-lived children (each runs 1 ms and exits) one after another."""
    while True:
        pid = os.fork()
        if pid == 0:
            busy_for(0.001)
            os._exit(0)
        os.waitpid(pid, 0)


def stop(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


@contextmanager
def running(*specs):
    """Start tasks given as (name, body, kwargs) and stop them however the block ends."""
    pids: list[int] = []
    try:
        for name, body, kw in specs:
            pids.append(spawn(name, body, **kw))
        yield pids
    finally:
        stop(pids)


def hogs(n: int, *, nice: int = 0, cpus: set[int] | None = None, name: str = "hog"):
    return [(name, spin, {"nice": nice, "cpus": cpus})] * n


def exec_ns(pid: int) -> int:
    """CPU time the task has run (ns): /proc/PID/schedstat's first field, the kernel's own
    sum_exec_runtime."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def run_delay_ns(path: str = "/proc/thread-self/schedstat") -> tuple[int, int]:
    """(time spent runnable but waiting on a run queue in ns, times run): the kernel's
    sched_info accounting (schedstat's second and third fields)."""
    with open(path) as f:
        fields = f.read().split()
    return int(fields[1]), int(fields[2])
