"""The Python half of a userspace policy: the loop that runs its methods.

    loop = UserLoop(sched, PolicyClass)   # sched: a runtime Scheduler of the policy's BPF half
    loop.prepare()                        # before load: this process is the scheduler process
    sched.load(); loop.start()            # rings bound, process locked in memory
    sched.attach()
    loop.run(until=lambda: workload_done())   # returns when `until` is true or the scheduler exited
    print(loop.report())

One turn: wait (up to POLL_MS) for runnable tasks on the ring; hand them to
policy.enqueue_many(); ask policy.dispatch_many(n) for as many decisions
as CPUs can take soon; send them; kick idle CPUs (a SEC("syscall")
program); tell the BPF half we are alive.

Safety (docs/userspace-tutorial.md, "What keeps the machine safe"):
- Each method call runs under a SIGALRM timer (`method_timeout`): a hang in
  Python becomes an exception. An exception from a policy method stops the
  loop; the caller detaches (every task returns to the fair class) and shows
  the traceback of the policy's own code (PolicyMethodFailed).
- The BPF half runs tasks from a built-in FIFO while the loop is stale or the
  ring is full, and ends the scheduler when the loop is silent for seconds.
- The process must not page-fault on the scheduling path: a fault can wait
  for I/O, the I/O for a task, that task for this process. So it is locked
  in memory (mlockall), the policy's source is in linecache before attach
  (a traceback reads no file), and the cyclic garbage collector is frozen
  and run only for the youngest generation, between turns.
"""

from __future__ import annotations

import ctypes
import gc
import linecache
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field

from scxpy.runtime import user_rings as R
from scxpy.runtime.userspace import Decision, Task, UserPolicyError, UserScheduler

POLL_MS = 50  # the loop turns at least this often (alive_ns; the BPF half's stale limit is 500 ms)
EXIT_CHECK_S = 0.1  # how often the loop looks whether the kernel ended the scheduler
GC_EVERY_TURNS = 256
MCL_CURRENT, MCL_FUTURE = 1, 2


class PolicyMethodFailed(UserPolicyError):
    """A policy method raised (or ran over method_timeout); .traceback is its own frames."""

    def __init__(self, message: str, traceback_text: str):
        super().__init__(message)
        self.traceback = traceback_text


class MethodHung(Exception):
    """Raised inside a policy method that ran longer than its class's method_timeout."""


@dataclass
class LoopStats:
    turns: int = 0
    tasks: int = 0
    decisions: int = 0
    ring_full_decisions: int = 0  # decisions that found the user ring full (retried next turn)
    t_poll: float = 0.0  # seconds in ring_buffer__poll, the sample callbacks included
    t_decode: float = 0.0
    t_enqueue: float = 0.0  # the policy's enqueue_many
    t_dispatch: float = 0.0  # the policy's dispatch_many
    t_send: float = 0.0  # user ring reserve/submit and the kick program
    wall: float = 0.0
    cpu: float = 0.0  # this process's CPU time (user + system) while running
    gc_max_ms: float = 0.0
    gap_max_ms: float = 0.0  # the longest time between two turns (poll timeout included)
    ended: str = "it was stopped"
    extra: dict = field(default_factory=dict)


class UserLoop:
    def __init__(self, sched, policy_cls: type[UserScheduler], nr_cpus: int | None = None):
        self.sched = sched
        self.policy_cls = policy_cls
        self.nr_cpus = nr_cpus or os.cpu_count() or 1
        self.policy: UserScheduler | None = None
        self.stats = LoopStats()
        self._incoming: list[bytes] = []
        self._held: list = []  # decisions the user ring had no room for
        self._shared = None
        self._tasks = self._decisions = self._kick = None
        self.locked = False
        self._last_turn = 0.0

    # -- set-up --------------------------------------------------------------

    def prepare(self) -> None:
        """Before load: the BPF half must know this process (its threads never wait on it)."""
        self.sched.configure(scxpy_user_tgid=os.getpid())
        self.policy = self._guard("__init__", lambda: self.policy_cls(self.nr_cpus))

    def start(self) -> None:
        """After load, before attach: bind the rings, lock memory, say we are alive."""
        obj = self.sched.obj
        self._tasks = R.TaskRing(obj.map(R.TO_USER).fd, self._incoming.append)
        self._decisions = R.DecisionRing(obj.map(R.TO_KERNEL).fd)
        self._kick = R.SyscallProgram(obj.programs[R.KICK].fd)
        self._shared = obj.globals.view("scxpy_user")
        src = sys.modules[self.policy_cls.__module__].__file__
        if src:
            linecache.getlines(src)  # a traceback later must not read the file
        self.locked = _lock_memory()
        gc.collect()
        gc.freeze()  # everything so far: never scanned again
        gc.disable()
        # alive_ns stays 0 until the first turn: enabling can take seconds (every task
        # passes through the new scheduler), and the BPF half counts silence only from
        # the first turn on; until then tasks run from its FIFO.
        self._set("alive_ns", 0)

    def before_restart(self) -> None:
        """The kernel exited the scheduler asking for a restart (CPU hotplug): as before the
        first attach, the BPF half counts the loop's silence only from its next turn."""
        self._set("alive_ns", 0)

    def close(self) -> None:
        for ring in (self._tasks, self._decisions):
            if ring is not None:
                ring.close()
        if self._shared is not None:
            self._shared.release()
            self._shared = None
        gc.enable()

    # -- the loop ---------------------------------------------------------------

    def run(self, until=lambda: False) -> None:
        """Turn until `until()` is true or the scheduler exited. Raises PolicyMethodFailed."""
        t0, c0 = time.monotonic(), time.process_time()
        next_check = t0 + EXIT_CHECK_S
        try:
            while True:
                self.turn()
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + EXIT_CHECK_S
                    if until():
                        self.stats.ended = "the workload ended"
                        return
                    info = self.sched.wait(timeout=0)
                    if info is not None:
                        self.stats.ended = f"the scheduler exited ({info})"
                        return
        finally:
            self.stats.wall += time.monotonic() - t0
            self.stats.cpu += time.process_time() - c0

    def turn(self) -> None:
        st = self.stats
        pc = time.perf_counter
        t = pc()
        if self._last_turn:
            st.gap_max_ms = max(st.gap_max_ms, 1e3 * (t - self._last_turn))
        self._last_turn = t
        got = self._tasks.poll(POLL_MS if not self._held else 1)
        t1 = pc()
        st.t_poll += t1 - t
        st.turns += 1
        if self._incoming:
            tasks = self._decode()
            t2 = pc()
            st.t_decode += t2 - t1
            if tasks:
                self._guard("enqueue", self.policy.enqueue_many, tasks)
                st.tasks += len(tasks)
            st.t_enqueue += pc() - t2
        t3 = pc()
        n = self._budget()
        out = self._guard("dispatch", self.policy.dispatch_many, n) if n > 0 else []
        t4 = pc()
        st.t_dispatch += t4 - t3
        if out or self._held:
            self._send(out)
        st.t_send += pc() - t4
        self._alive()
        if not got or st.turns % GC_EVERY_TURNS == 0:
            g = pc()
            gc.collect(0)
            st.gc_max_ms = max(st.gc_max_ms, 1e3 * (pc() - g))

    def _decode(self) -> list[Task]:
        unpack, make = R.TASK.unpack_from, Task._make
        tasks = []
        for raw in self._incoming:
            pid, cpu, nca, flags, weight, rt, enq, comm = unpack(raw)
            if pid == 0:  # the BPF half's "CPUs ran dry" token
                self._set("wake_asked", 0)
                continue
            tasks.append(make((pid, cpu, nca, flags, weight, rt, enq,
                               comm.split(b"\0", 1)[0].decode(errors="replace"))))
        self._incoming.clear()
        return tasks

    def _budget(self) -> int:
        """Decisions to ask for: enough for every CPU twice over, less those not yet run."""
        sh = R.SHARED.unpack(self._shared)
        in_flight = (self.stats.decisions - sh[2]) + sh[3] + len(self._held)
        return 2 * self.nr_cpus - in_flight

    def _send(self, out: list) -> None:
        nr = self.nr_cpus
        batch = self._held
        for d in out:
            if type(d) is Task:
                batch.append((d.pid, -1, 0))
            elif isinstance(d, Decision):
                cpu = d.cpu if 0 <= d.cpu < nr else -1
                batch.append((d.task.pid, cpu, int(d.slice) if d.slice else 0))
            else:
                raise PolicyMethodFailed(
                    f"{self.policy_cls.__name__}.dispatch returned {d!r}: it must return a Task, a Decision "
                    "or None", "")
        sent = self._decisions.send(batch)
        self.stats.decisions += sent
        self._held = batch[sent:]
        self.stats.ring_full_decisions += len(self._held)
        if sent:
            self._kick()

    def _alive(self) -> None:
        pending = self.policy.pending() if self.policy is not None else 0
        self._set("user_pending", max(0, int(pending)) + len(self._held))
        self._set("alive_ns", time.monotonic_ns())

    def _set(self, name: str, value: int) -> None:
        i = R.SHARED_FIELDS.index(name)
        self._shared[8 * i : 8 * i + 8] = value.to_bytes(8, "little")

    def shared(self) -> dict[str, int]:
        return dict(zip(R.SHARED_FIELDS, R.SHARED.unpack(self._shared)))

    # -- running the policy's code -------------------------------------------------

    def _guard(self, method: str, fn, *args):
        """Call policy code under the method timer; its failure becomes PolicyMethodFailed."""
        limit = float(getattr(self.policy_cls, "method_timeout", 1.0) or 0)
        old = signal.signal(signal.SIGALRM, _raise_hung) if limit else None
        if limit:
            signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return fn(*args)
        except Exception as e:
            self.stats.ended = f"{self.policy_cls.__name__}.{method} failed"
            raise _method_failed(self.policy_cls, method, e, limit) from None
        finally:
            if limit:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)

    def report(self) -> str:
        st = self.stats
        wall = st.wall or 1e-9
        parts = [f"loop ended because {st.ended}", f"{st.tasks} tasks, {st.decisions} decisions ({st.decisions / wall:.0f}/s) in {st.turns} turns",
                 f"scheduler process CPU {100 * st.cpu / wall:.1f}% of one CPU",
                 f"time: poll+callbacks {st.t_poll:.2f}s, decode {st.t_decode:.2f}s, "
                 f"policy enqueue {st.t_enqueue:.2f}s, policy dispatch {st.t_dispatch:.2f}s, "
                 f"send+kick {st.t_send:.2f}s",
                 f"longest gap between turns {st.gap_max_ms:.0f} ms, gc max {st.gc_max_ms:.2f} ms, memory {'locked' if self.locked else 'NOT locked'}"]
        if self._shared is not None:
            sh = self.shared()
            parts.append(f"ring full {sh['ring_full']}, ran FIFO while stale {sh['stale_fallback']}")
        return "; ".join(parts)


def _raise_hung(signum, frame):
    raise MethodHung()


def _method_failed(cls, method: str, e: BaseException, limit: float) -> PolicyMethodFailed:
    """The traceback from the policy's own frames on (ours are left out)."""
    policy_file = os.path.abspath(sys.modules[cls.__module__].__file__ or "")
    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if os.path.abspath(f.filename) == policy_file]
    first = frames.index(mine[0]) if mine else 0
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames[first:]))
    if isinstance(e, MethodHung):
        what = f"ran longer than method_timeout = {limit:g} s (hung?)"
        text += f"MethodHung: {cls.__name__}.{method} {what}\n"
    else:
        what = f"raised {type(e).__name__}: {e}"
        text += "".join(traceback.format_exception_only(type(e), e))
    where = f" at {mine[-1].filename}:{mine[-1].lineno}" if mine else ""
    return PolicyMethodFailed(f"policy method {cls.__name__}.{method} {what}{where}", text)


def _lock_memory() -> bool:
    """mlockall(MCL_CURRENT | MCL_FUTURE): no page of this process is ever paged out."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        err = ctypes.get_errno()
        print(f"scxpy: warning: mlockall failed ({os.strerror(err)}): the scheduler process may "
              "page-fault on its scheduling path; run as root or raise RLIMIT_MEMLOCK", file=sys.stderr)
        return False
    return True
