"""Weighted fair sharing decided in Python: the task that has run least for its weight goes first.

A userspace policy (scxpy.UserScheduler): the decisions are the Python
methods below, run in the scxpy process; the kernel side only forwards
runnable tasks and applies the answers. Each task carries a virtual time
that grows by the CPU time it used, divided by its weight (nice); a heap
hands out the smallest first. A task that slept gets at most one slice of
credit, so sleepers cannot bank time, and no task is put more than four
slices ahead (it may have run where Python did not see it). Wakeups that find an idle CPU run
there at once without asking Python. The same idea as the BPF `vtime`
policy, for comparing what a Python loop costs (scxpy bench).
"""

import heapq

from scxpy import UserScheduler, ms


class UserVtime(UserScheduler):
    name = "uvtime"
    slice = 5 * ms

    def init(self):
        self.queue = []  # (vtime, arrival number, task): a min-heap
        self.seen = {}  # pid -> (its vtime, its sum_exec_runtime then)
        self.clock = 0  # vtime of the task dispatched last
        self.arrivals = 0

    def __len__(self):
        return len(self.queue)

    def enqueue(self, task):
        vtime, ran = self.seen.get(task.pid, (self.clock, task.sum_exec_runtime))
        vtime += (task.sum_exec_runtime - ran) * 100 // max(task.weight, 1)
        # A sleeper gets at most one slice of credit; a task that ran a lot where Python
        # does not see it (straight onto an idle CPU) is charged at most four slices ahead.
        vtime = min(max(vtime, self.clock - self.slice), self.clock + 4 * self.slice)
        self.seen[task.pid] = (vtime, task.sum_exec_runtime)
        self.arrivals += 1
        heapq.heappush(self.queue, (vtime, self.arrivals, task))
        if len(self.seen) > 65536:  # forget tasks long gone; they restart at the clock
            self.seen = {t.pid: self.seen[t.pid] for _, _, t in self.queue}

    def dispatch(self):
        if not self.queue:
            return None
        vtime, _, task = heapq.heappop(self.queue)
        self.clock = max(self.clock, vtime)
        return task
