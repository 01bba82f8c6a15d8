"""One global FIFO queue: tasks run in the order they became runnable.

Every CPU takes the oldest waiting task; a waking task goes straight to an
idle CPU when there is one. Simple and fair in arrival order, good for
throughput-oriented batch work on a machine with one cache domain; CPU
hogs delay interactive tasks by up to a full slice each.
Peer: the kernel's scx_simple in FIFO mode (-f).

Promises (`scxpy check`, docs/behaviour-results.md): no starvation, work
conservation, affinity, hotplug (survived). Not weight fairness: nice is
ignored, every task gets the same slice in arrival order (hogs at nice
-5/0/0/5 on one CPU: 29 points off their weight shares on 6.12, 32 on
7.3; fair 4 and 6).
"""

from scxpy import Dsq, Rule, Scheduler, ms


class Fifo(Scheduler):
    name = "fifo"
    queue = Dsq("fifo")
    rules = [Rule(queue=queue, slice=20 * ms)]
    promises = {"weight_fairness": False}  # nice is ignored by design (docstring)
