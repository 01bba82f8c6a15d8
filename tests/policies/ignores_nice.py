"""Test policy built to fail the weight-fairness check: one FIFO queue, nice ignored.

Every task gets the same 20 ms slice in arrival order, whatever its nice
value, so hogs at nice -5, 0 and 5 get equal shares of a CPU.
"""

from scxpy import Dsq, Rule, Scheduler, ms


class IgnoresNice(Scheduler):
    name = "ignores_nice"
    queue = Dsq("fifo")
    rules = [Rule(queue=queue, slice=20 * ms)]
