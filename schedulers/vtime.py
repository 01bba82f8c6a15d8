"""Weighted fair sharing: every task gets CPU time in proportion to its weight.

One shared queue ordered by virtual time, which advances by run time divided
by the task's weight (nice 0 = 100), so nice values work as expected. A task
that slept keeps at most one slice of credit, so it runs soon after waking
but cannot monopolise a CPU. A good general-purpose default for desktops and
mixed servers on a machine with one cache domain.
Peer: the kernel's scx_simple (default, weighted vtime mode).
"""

from scxpy import Dsq, Rule, Scheduler, ms


class Vtime(Scheduler):
    name = "vtime"
    queue = Dsq("vtime", lag=20 * ms)
    rules = [Rule(queue=queue, slice=20 * ms)]
