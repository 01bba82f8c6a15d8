"""Five priority levels by nice value, dispatched by weighted round robin.

Tasks are sorted into five FIFO queues by nice (-20..-11, -10..-4, -3..3,
4..10, 11..19). CPUs take up to 16 tasks from the highest level, then 8, 4,
2 and 1 from the lower ones, so higher levels get most of the CPU but lower
levels are never starved. For latency, higher levels also get shorter
slices and, on wakeup, preempt the CPU they would run on; a waking task
of a level with turns left runs before lower levels. For machines where
nice is used deliberately to rank workloads.
Peer: the kernel's scx_qmap (five weighted FIFO queues).
"""

from scxpy import Dsq, RoundRobin, Rule, Scheduler, ms, task


class Prio(Scheduler):
    name = "prio"
    top, high, normal, low, bottom = Dsq(), Dsq(), Dsq(), Dsq(), Dsq()
    rules = [
        Rule(task.nice <= -11, queue=top, slice=5 * ms, preempt=True, name="top"),
        Rule(task.nice <= -4, queue=high, slice=10 * ms, preempt=True, name="high"),
        Rule(task.nice <= 3, queue=normal, slice=20 * ms, name="normal"),
        Rule(task.nice <= 10, queue=low, slice=20 * ms, name="low"),
        Rule(queue=bottom, slice=40 * ms, name="bottom"),
    ]
    dispatch = RoundRobin({top: 16, high: 8, normal: 4, low: 2, bottom: 1})
