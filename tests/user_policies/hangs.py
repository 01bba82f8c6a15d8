"""Hangs in enqueue after a while (tests/test_userspace_vm.py)."""

from scxpy import UserScheduler


class Hangs(UserScheduler):
    name = "uhangs"
    method_timeout = 0.5

    def init(self):
        self.q = []
        self.seen = 0

    def enqueue(self, task):
        self.q.append(task)
        self.seen += 1
        while self.seen > 50:  # never ends: HANG-HERE
            pass

    def dispatch(self):
        return self.q.pop(0) if self.q else None
