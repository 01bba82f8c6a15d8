"""The public authoring API: what a policy file imports.

    from scxpy import Scheduler, Dsq, Rule, Tunable, task, ms

A policy is a subclass of Scheduler whose class attributes declare queues
(Dsq), tunables (Tunable), an ordered list of classification rules (Rule),
how CPUs pull work (dispatch) and how a waking task picks a CPU
(select_cpu). Every object records the policy line it was written on;
codegen.model validates the whole and codegen.render turns it into C.
See docs/dsl-reference.md.
"""

from __future__ import annotations

from scxpy.codegen.errors import PolicyError, elide
from scxpy.codegen.limits import MAX_CPUS  # noqa: F401  (re-exported for policies)
from scxpy.codegen.expr import (  # noqa: F401  (re-exported for policies)
    BOOL, DURATION, INT, Const, Expr, Leaf, greatest, least, lift, now, where,
)
from scxpy.codegen.taskattrs import (  # noqa: F401  (re-exported for policies)
    SCHED_BATCH, SCHED_DEADLINE, SCHED_EXT, SCHED_FIFO, SCHED_IDLE, SCHED_NORMAL, SCHED_RR, task,
)
from scxpy.codegen.cpuview import cpu, nr_idle  # noqa: F401  (re-exported for policies)
from scxpy.codegen.srcloc import SrcLoc, caller_loc

_UNIT_LOC = SrcLoc("codegen/dsl.py", 0)

# Durations. Write 5 * ms, 200 * us; a bare integer is not a duration.
ns = Const(1, DURATION, _UNIT_LOC)
us = Const(1_000, DURATION, _UNIT_LOC)
ms = Const(1_000_000, DURATION, _UNIT_LOC)
sec = Const(1_000_000_000, DURATION, _UNIT_LOC)



class Dsq:
    """A dispatch queue (DSQ).

    order: "fifo", or "vtime" (weighted fair: ordered by virtual time,
           advanced by run time / weight; `lag` caps how much credit a
           sleeper keeps, default one default slice).
    scope: "shared" (one queue), "cpu" (one per CPU) or "llc" (one per
           last-level cache, from the machine's topology at load time).
    steal: for per-CPU/LLC queues, an idle CPU whose own queues are empty
           takes work from the busiest other instance.
    cpus:  only these CPUs run tasks from this queue (a CpuSet, see cpus()).
    id:    explicit DSQ id base (default: allocated).
    key:   order='vtime' only: a duration expression the queue is ordered by,
           evaluated at enqueue, e.g. a deadline `task.vtime + 5 * ms * 100 / task.weight`
           (default: task.vtime).
    share: order='vtime' only: "task" (default: each task by its own weight) or
           "cgroup": tasks share CPU time by their cgroup v2 cpu.weight through
           the hierarchy, as the fair class does (cpu.idle too where the kernel
           passes it), each task by its weight within its cgroup.
    """

    def __init__(self, order: str = "fifo", *, scope: str = "shared", lag=None,
                 steal: bool = False, cpus: "CpuSet | None" = None, id: int | None = None,
                 key=None, share: str = "task"):
        self.loc = caller_loc()
        self.order, self.scope, self.lag, self.steal, self.cpus, self.id = order, scope, lag, steal, cpus, id
        self.share = share
        self.key = None if key is None else lift(key, self.loc)
        self.name: str | None = None  # bound by the model from the class attribute
        self.builtin: str | None = None

    @property
    def queued(self) -> Expr:
        """Number of tasks in the queue (for per-CPU/LLC queues: the instance of the task's CPU)."""
        return QueueDepth(self, caller_loc())

    @property
    def clock(self) -> Expr:
        """The virtual time vtime queues have reached (of the latest task started): order='vtime' only."""
        return QueueClock(self, caller_loc())

    def __repr__(self):
        return f"Dsq({self.name or self.builtin or '?'})"


def _builtin(cname: str) -> Dsq:
    q = Dsq.__new__(Dsq)
    q.loc, q.order, q.scope, q.lag, q.steal, q.cpus, q.id = _UNIT_LOC, "fifo", "shared", None, False, None, None
    q.key, q.share = None, "task"
    q.name, q.builtin = None, cname
    return q


# The kernel's built-in queues. GLOBAL: one FIFO every CPU consumes before
# calling dispatch. LOCAL: the run queue of the CPU the task is on.
GLOBAL = _builtin("SCX_DSQ_GLOBAL")
LOCAL = _builtin("SCX_DSQ_LOCAL")


class QueueDepth(Leaf):
    def __init__(self, dsq: Dsq, loc: SrcLoc):
        super().__init__("", INT, frozenset(), "queue depth", loc)
        self.dsq = dsq

    def c(self) -> str:
        if self.dsq.builtin == "SCX_DSQ_LOCAL":
            return "((s64)scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | scx_bpf_task_cpu(p)))"
        if self.dsq.builtin:
            return f"((s64)scx_bpf_dsq_nr_queued({self.dsq.builtin}))"
        return f"((s64)scx_bpf_dsq_nr_queued(DSQ_{self.dsq.name}(scx_bpf_task_cpu(p))))"

    def features(self):
        return frozenset({f"queue:{id(self.dsq)}"})


class QueueClock(Leaf):
    def __init__(self, dsq: Dsq, loc: SrcLoc):
        super().__init__("((s64)vtime_now)", DURATION, frozenset({"clock"}), f"{dsq!r}.clock", loc)
        self.dsq = dsq


class CpuSet(frozenset):
    """A set of CPU ids; build with cpus(0, 1, range(4, 8))."""


def cpus(*items) -> CpuSet:
    loc = caller_loc()
    out: set[int] = set()
    for it in items:
        vals = list(it) if isinstance(it, (range, list, tuple, set, frozenset)) else [it]
        for v in vals:
            if isinstance(v, Expr):
                raise PolicyError("CPU sets must be constants: cpus() takes CPU ids and ranges known when "
                                  f"the policy is compiled, not a {'Tunable' if isinstance(v, Tunable) else 'DSL expression'}; "
                                  "write cpus(0, range(2, 4)) and, to vary the set, edit the policy", loc)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < MAX_CPUS:
                raise PolicyError(f"cpus(): {elide(repr(v))} is not a CPU id in 0..{MAX_CPUS - 1}", loc)
            out.add(v)
    if not out:
        raise PolicyError("cpus(): empty CPU set", loc)
    s = CpuSet(out)
    s.loc = loc  # type: ignore[attr-defined]
    return s


class Tunable(Leaf):
    """A value the user can set at load time (default) or, with live=True, while attached.

    The type follows the default: bool, int, or duration (5 * ms).
    Load-time tunables are `const volatile` (.rodata, folded by the verifier);
    live ones are plain globals the runtime writes through the map.
    """

    def __init__(self, default, *, min=None, max=None, live: bool = False, doc: str = ""):
        loc = caller_loc()
        d = lift(default, loc)
        if d.const_value() is None:
            raise PolicyError("a Tunable default must be a constant", loc)
        super().__init__("", d.type, frozenset(), "tunable", loc)
        self.default, self.min, self.max, self.live, self.doc = d, min, max, live, doc
        self.name: str | None = None

    def c(self) -> str:
        if self.name is None:
            raise PolicyError("this Tunable is used but not declared as a class attribute of the Scheduler", self.loc)
        return f"((s64)tun_{self.name})" if self.type != BOOL else f"(tun_{self.name} != 0)"

    def features(self):
        return frozenset({f"tunable:{id(self)}"})


class TaskVar(Leaf):
    """Per-task state the policy keeps: a named value, changed on sched_ext events.

    init: the value of a new task, a constant whose type is the variable's
    (bool, int or duration). How it changes is said by the Scheduler's event
    settings, each a dict {variable: new value}:

        on_runnable   the task becomes runnable (wakes up, or is new)
        on_running    it starts running on a CPU
        on_stopping   it stops running (preempted, yields, or about to sleep)
        on_quiescent  it stops being runnable (goes to sleep)

    A new value is an expression of the variable's type; all updates of one
    event read the values from before the event. Readable in every
    expression; kept in task storage only when some expression reads it.
    """

    def __init__(self, init, *, doc: str = "", **updates):
        loc = caller_loc()
        if updates:
            ev = next(iter(updates))
            raise PolicyError(f"TaskVar takes no {ev}=: updates are Scheduler settings, e.g. "
                              f"`{ev} = {{var: new value}}` after `var = TaskVar(...)` (in its own call a "
                              "variable cannot name itself)", loc)
        d = lift(init, loc)
        if d.const_value() is None:
            raise PolicyError("a TaskVar's init must be a constant (e.g. 0, 0 * ms, False)", loc)
        super().__init__("", d.type, frozenset(), "task variable", loc)
        self.init, self.doc = Const(d.const_value(), d.type, loc), doc
        self.name: str | None = None

    def c(self) -> str:
        if self.name is None:
            raise PolicyError("this TaskVar is used but not declared as a class attribute of the Scheduler", self.loc)
        value = f"((s64)tctx->var_{self.name})" if self.type != BOOL else f"(tctx->var_{self.name} != 0)"
        return f"(tctx ? {value} : {self.init.c()})"

    def features(self):
        return frozenset({f"taskvar:{id(self)}"})


class Rule:
    """One classification rule: when `when` holds (default: always), the task goes to
    `queue` with time slice `slice` (duration; default 20 ms), vtime weight `weight`
    (int expression; default task.weight). preempt: when no CPU is idle, a woken task
    preempts the one running on its target CPU: always (True), never (False, the
    default) or when a condition on that CPU holds, e.g. `cpu.curr.queue < fast`.
    Rules are tried in order; the first match wins.
    """

    def __init__(self, when=None, *, queue: Dsq, slice=None, weight=None,
                 preempt=False, name: str | None = None, cpus=None):
        self.loc = caller_loc()
        if cpus is not None:
            # One mechanism for CPU sets: the queue's consumers. A per-rule set on a
            # shared queue could not be enforced without scanning queues.
            raise PolicyError("restrict a rule's tasks to CPUs by sending them to a queue declared "
                              "with Dsq(..., cpus=cpus(...)); Rule has no cpus=", self.loc)
        self.when = None if when is None else lift(when, self.loc)
        self.queue, self.slice, self.weight, self.name = queue, slice, weight, name
        self.preempt = preempt if isinstance(preempt, bool) else lift(preempt, self.loc)


class Priority:
    """Dispatch: always take from the first non-empty queue in this order."""

    def __init__(self, *queues: Dsq):
        self.loc = caller_loc()
        self.queues = list(queues)
        self.weights = [1] * len(queues)


class RoundRobin:
    """Dispatch: weighted round robin, `RoundRobin({a: 4, b: 1})` takes up to 4 tasks
    from a, then 1 from b, ...; an empty queue passes its turn."""

    def __init__(self, weights: dict):
        self.loc = caller_loc()
        if not isinstance(weights, dict):
            raise PolicyError("RoundRobin takes a dict {queue: weight, ...}", self.loc)
        self.queues = list(weights.keys())
        self.weights = list(weights.values())


class EarliestVtime:
    """Dispatch: take the task with the smallest virtual time across vtime queues."""

    def __init__(self, *queues: Dsq):
        self.loc = caller_loc()
        self.queues = list(queues)
        self.weights = [1] * len(queues)


class RawC:
    """EXPERT ONLY: C code for one sched_ext callback (the escape hatch).

    `code` is the body of a function with the callback's kernel signature;
    `at` says where it runs: "before" or "after" the code scxpy generates for
    that callback, or "instead" of it (docs/dsl-reference.md, "Raw C", lists
    every callback, its parameters and which positions it offers). It is not
    sandboxed: codegen checks the kfuncs it calls against the callback's
    context and reports compile errors at the policy's lines.
    """

    def __init__(self, callback: str, code: str, *, at: str | None = None):
        self.loc = caller_loc()
        self.callback, self.code, self.at = callback, code, at


class RawDecl:
    """EXPERT ONLY: C declarations at file scope: your own maps, globals and
    helper functions, visible to every RawC and RawTimer body."""

    def __init__(self, code: str):
        self.loc = caller_loc()
        self.code = code


class RawTimer:
    """EXPERT ONLY: C run from a BPF timer every `every` (a duration), started by
    ops.init and pinned to the CPU that runs it (the kernel's sched_ext enable
    thread's). `code` is the body of `void f(void)`; it runs without a run
    queue lock, so it may kick CPUs and move tasks between DSQs
    (scxpy_dsq_move) but not insert tasks."""

    def __init__(self, name: str, code: str, *, every):
        self.loc = caller_loc()
        self.name, self.code = name, code
        self.every = lift(every, self.loc)


class Scheduler:
    """Base class of a policy. The class docstring is the policy's description."""

    name: str = ""
    timeout = None  # watchdog: a task runnable this long without running ejects the scheduler
    max_wait = None  # a queued task runnable this long runs next (default: a third of timeout)
    partial: bool = False  # True: only tasks set to SCHED_EXT (SCX_OPS_SWITCH_PARTIAL)
    rules: list = []
    dispatch = None  # list (strict priority) / Priority / RoundRobin / EarliestVtime
    select_cpu: str = "default"  # "default" | "prev_idle" | "idle_core" | "llc"
    counters: bool = True  # False: no event counters in the generated code (they then cost nothing)
    # Behaviours the policy does not promise, e.g. {"weight_fairness": False}: `scxpy check`
    # then reports that check as "not promised" instead of failed (docs/testing-policies.md).
    promises: dict = {}
    raw: list = []
    # TaskVar updates, each {variable: new value}: see TaskVar.
    on_runnable: dict = {}
    on_running: dict = {}
    on_stopping: dict = {}
    on_quiescent: dict = {}
