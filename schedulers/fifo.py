"""One global FIFO queue: tasks run in the order they became runnable.

Every CPU takes the oldest waiting task; a waking task goes straight to an
idle CPU when there is one. Simple and fair in arrival order, good for
throughput-oriented batch work on a machine with one cache domain; CPU
hogs delay interactive tasks by up to a full slice each.
Peer: the kernel's scx_simple in FIFO mode (-f).
"""

from scxpy import Dsq, Rule, Scheduler, ms


class Fifo(Scheduler):
    name = "fifo"
    queue = Dsq("fifo")
    rules = [Rule(queue=queue, slice=20 * ms)]
