"""Raises in dispatch after a while (tests/test_userspace_vm.py)."""

from scxpy import UserScheduler


class Raises(UserScheduler):
    name = "uraises"

    def init(self):
        self.q = []
        self.calls = 0

    def enqueue(self, task):
        self.q.append(task)

    def dispatch(self):
        self.calls += 1
        if self.calls > 50:
            return len(self.q) // 0  # the line the test looks for: BUG-HERE
        return self.q.pop(0) if self.q else None
