"""Test policy: round robin over per-CPU and per-LLC queues, some restricted to CPU sets."""

from scxpy import GLOBAL, Dsq, RawC, RoundRobin, Rule, Scheduler, cpus, ms, task


class RestrictedRR(Scheduler):
    name = "restricted_rr"
    select_cpu = "prev_idle"

    even = Dsq("fifo", scope="cpu", steal=True, cpus=cpus(range(0, 512, 2)))
    per_llc = Dsq("vtime", scope="llc")
    rest = Dsq("fifo", cpus=cpus(1, 3))

    rules = [
        Rule(task.comm.startswith("stress-ng-cpu"), queue=even, slice=3 * ms, preempt=True),
        Rule(task.comm.startswith("stress-ng"), queue=per_llc, slice=per_llc.queued * ms + 1 * ms),
        Rule(task.kthread, queue=GLOBAL),
        Rule(queue=rest, slice=5 * ms, preempt=True),
    ]
    dispatch = RoundRobin({even: 3, per_llc: 2, rest: 1})
    raw = [RawC("stopping", "if (!runnable) (void)p;"), RawC("enable", "(void)p;")]
