"""Per-CPU queues for cache locality, with work stealing to stay busy.

Each CPU has its own weighted vtime queue; a waking task prefers its
previous CPU, then an idle CPU sharing its last-level cache, so it keeps
its cache warm. A CPU whose queue is empty steals from the busiest other
CPU (only tasks allowed to run on it). Good for many short-lived or
cache-sensitive threads on multi-core machines; less strict global fairness.
"""

from scxpy import Dsq, Rule, Scheduler, ms


class Local(Scheduler):
    name = "local"
    queue = Dsq("vtime", scope="cpu", steal=True)
    rules = [Rule(queue=queue, slice=10 * ms)]
    select_cpu = "llc"
