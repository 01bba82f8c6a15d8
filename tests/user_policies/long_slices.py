"""FIFO with 2 s slices: CPU hogs would keep every CPU from the scheduler process
unless the BPF half serves it first (tests/test_userspace_vm.py)."""

from scxpy import Decision, UserScheduler, ms


class LongSlices(UserScheduler):
    name = "ulong"
    slice = 2000 * ms

    def init(self):
        self.q = []

    def __len__(self):
        return len(self.q)

    def enqueue(self, task):
        self.q.append(task)

    def dispatch(self):
        return Decision(self.q.pop(0), slice=2000 * 1_000_000) if self.q else None
