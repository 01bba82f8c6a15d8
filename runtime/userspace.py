"""Userspace policies: scheduling decisions written as ordinary Python methods.

    from scxpy import UserScheduler, ms

    class Shortest(UserScheduler):
        '''Runs the task with the least runtime so far first.'''
        name = "shortest"
        slice = 5 * ms

        def init(self):
            self.q = []                              # any Python data structure

        def enqueue(self, task):                     # a Task became runnable
            heapq.heappush(self.q, (task.sum_exec_runtime, task.pid, task))

        def dispatch(self):                          # the next task to run, or None
            return heapq.heappop(self.q)[2] if self.q else None

The methods run in the process that attached the scheduler (runtime/user_loop.py),
not in the kernel: the BPF half (codegen/templates/userspace/) hands them the
runnable tasks over a ring buffer and takes their decisions back over another.
docs/userspace-tutorial.md explains what runs where and what it costs.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from typing import NamedTuple

from scxpy.base.policy_import import policy_dir_first
from scxpy.runtime.errors import LoaderError

ANY_CPU = -1
_MS = 1_000_000


class Task(NamedTuple):
    """A task waiting for a decision, as the kernel saw it when it became runnable."""

    pid: int
    cpu: int  # the CPU it last ran on
    nr_cpus_allowed: int
    flags: int  # bit 0: it woke up (else: it used up its slice, or was preempted)
    weight: int  # 100 at nice 0; higher runs more (the kernel's sched_prio_to_weight / 10.24)
    sum_exec_runtime: int  # ns it has run in all
    enq_ns: int  # when it became runnable (CLOCK_MONOTONIC, as time.monotonic_ns())
    comm: str  # its name (up to 15 characters)

    @property
    def wakeup(self) -> bool:
        return bool(self.flags & 1)


class Decision(NamedTuple):
    """Run `task` on `cpu` (ANY_CPU: whichever CPU is free first) for `slice` ns (None: the policy's)."""

    task: Task
    cpu: int = ANY_CPU
    slice: int | None = None


class UserScheduler:
    """Base class of a userspace policy. Subclass it; define enqueue() and dispatch().

    Class settings: `name` (the sched_ext ops name, 1-31 letters, digits, '_'),
    `slice` (ns a task runs when a decision gives none; default 5 ms), `timeout`
    (the kernel watchdog, ns; default 10 s), `method_timeout` (seconds one call
    of a method may take before it counts as hung; default 1 s).
    The docstring is the policy's description.
    """

    name = "user"
    slice = 5 * _MS
    timeout = 10_000 * _MS
    method_timeout = 1.0

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # `slice = 5 * ms` (the DSL's units) becomes plain ns, for the policy's own arithmetic.
        for attr in ("slice", "timeout"):
            setattr(cls, attr, duration_ns(getattr(cls, attr), attr))

    def __init__(self, nr_cpus: int):
        self.nr_cpus = nr_cpus  # CPU ids are 0 .. nr_cpus - 1
        self.init()

    # -- what a policy defines ----------------------------------------------

    def init(self) -> None:
        """Set up the policy's own state (called once, before the scheduler is attached)."""

    def enqueue(self, task: Task) -> None:
        """`task` became runnable and waits for a decision: remember it."""
        raise NotImplementedError(f"{type(self).__name__} must define enqueue(self, task)")

    def dispatch(self) -> Task | Decision | None:
        """The next task to run (a Task: any CPU, the default slice; or a Decision), None when empty."""
        raise NotImplementedError(f"{type(self).__name__} must define dispatch(self)")

    # -- batched forms: override when a whole batch is cheaper ----------------

    def enqueue_many(self, tasks: list[Task]) -> None:
        for t in tasks:
            self.enqueue(t)

    def dispatch_many(self, n: int) -> list[Task | Decision]:
        """Up to `n` decisions, best first (n is how many CPUs can take work soon)."""
        out = []
        for _ in range(n):
            d = self.dispatch()
            if d is None:
                break
            out.append(d)
        return out

    def pending(self) -> int:
        """How many tasks the policy still holds (0 if it cannot say); the kernel asks for
        more decisions when CPUs run dry while this is above 0. Default: len(self) if defined."""
        try:
            return len(self)  # type: ignore[arg-type]
        except TypeError:
            return 1


class UserPolicyError(LoaderError):
    """A userspace policy file that cannot be used, or a policy method that failed."""


def is_user_policy(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, UserScheduler) and obj is not UserScheduler


def load_user_policy(path: str | os.PathLike) -> type[UserScheduler] | None:
    """The one UserScheduler subclass a policy file defines; None when it defines none
    (a DSL policy); UserPolicyError when it defines several or fails to import."""
    path = os.path.abspath(os.fspath(path))
    mod_name = "scxpy_user_policy_" + "".join(ch if ch.isalnum() else "_" for ch in path)
    if mod_name in sys.modules:
        module = sys.modules[mod_name]
    else:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise UserPolicyError(f"{path} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            with policy_dir_first(path):  # a helper beside the policy imports, as for DSL policies
                spec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(mod_name, None)
            raise UserPolicyError(f"importing {path} raised {type(e).__name__}: {e}") from None
    found = [v for v in vars(module).values() if is_user_policy(v) and v.__module__ == mod_name]
    if not found:
        return None
    if len(found) > 1:
        names = ", ".join(c.__name__ for c in found)
        raise UserPolicyError(f"{path} defines several UserScheduler subclasses ({names}); keep one per file")
    return found[0]


def class_line(cls) -> int:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 0


def duration_ns(value, what: str) -> int:
    """A duration setting: an int of ns, or the DSL's `5 * ms` (a constant expression)."""
    v = value.const_value() if hasattr(value, "const_value") else value
    if not isinstance(v, int) or isinstance(v, bool):
        raise UserPolicyError(f"{what} = {value!r} is not a duration; write e.g. `{what} = 5 * ms`")
    return v
