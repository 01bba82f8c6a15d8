"""Short bursts first, learned per program name in Python; nothing waits more than 50 ms extra.

A userspace policy (scxpy.UserScheduler). For each program name (comm)
the policy keeps a moving average of how long its tasks run each time
they are scheduled (a burst). Waiting tasks sit in a heap keyed by a
deadline: the time they became runnable plus their program's estimate
(capped at `max_penalty`). Short, interactive bursts (shells, editors,
hackbench's messengers) overtake long ones (compilers, CPU hogs), yet a
hog is overtaken only by tasks that arrived less than its estimate after
it, so it never starves. Hogs also get a longer slice and switch less.
A dict of estimates and a heap are the Python data structures here.
"""

import heapq

from scxpy import Decision, UserScheduler, ms


class ShortBurstFirst(UserScheduler):
    name = "ushortest"
    slice = 3 * ms

    max_penalty = 50 * 1_000_000  # ns: the most a long estimate delays a task
    long_burst = 2 * 1_000_000  # ns: estimates above this run with a 4x slice

    def init(self):
        self.heap = []  # (deadline ns, arrival number, task)
        self.estimate = {}  # comm -> moving average of its bursts, ns
        self.last_runtime = {}  # pid -> sum_exec_runtime when last queued
        self.arrivals = 0

    def __len__(self):
        return len(self.heap)

    def enqueue(self, task):
        before = self.last_runtime.get(task.pid)
        self.last_runtime[task.pid] = task.sum_exec_runtime
        if before is not None:
            burst = task.sum_exec_runtime - before
            old = self.estimate.get(task.comm, burst)
            self.estimate[task.comm] = (3 * old + burst) // 4
        if len(self.last_runtime) > 65536:  # forget tasks long gone
            self.last_runtime = {t.pid: self.last_runtime[t.pid] for _, _, t in self.heap}
        self.arrivals += 1
        guess = min(self.estimate.get(task.comm, 0), self.max_penalty)
        heapq.heappush(self.heap, (task.enq_ns + guess, self.arrivals, task))

    def dispatch(self):
        if not self.heap:
            return None
        _, _, task = heapq.heappop(self.heap)
        longer = self.estimate.get(task.comm, 0) > self.long_burst
        return Decision(task, slice=4 * self.slice if longer else None)
