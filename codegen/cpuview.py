"""Expressions over the CPU a task would run on, and over all CPUs.

`cpu` is the target CPU of the task being placed: the CPU select_cpu
chose (or, for a per-CPU queue, the CPU whose instance receives it). Its
C refers to `target_cpu` (s32) and `target_idle` (bool), which the generated code
defines wherever such an expression is evaluated. What runs there is read
from per-CPU state the generated `running`/`stopping` callbacks keep, and
only when a policy reads it.

`cpu.curr.queue` and `cpu.curr.rule` are compared with queues and rules;
the model resolves those comparisons, once it knows the policy's rules
and dispatch order, into a set of rule indexes (a bit mask).
"""

from __future__ import annotations

from scxpy.codegen.errors import InternalCodegenError, PolicyError
from scxpy.codegen.expr import BOOL, DURATION, INT, Expr, Global, Leaf
from scxpy.codegen.srcloc import SrcLoc, caller_loc

NO_RULE = 0xFFFFFFFF  # the per-CPU "rule" of a CPU running no task of this scheduler


class CurrMatch(Expr):
    """`cpu.curr.queue OP target` or `cpu.curr.rule OP target`; OP in == != < <= > >=.

    The model sets `mask` (bit i: a task placed by rule i matches) and
    `none` (whether a CPU running no task of ours matches).
    """

    def __init__(self, what: str, op: str, target, loc: SrcLoc):
        super().__init__(BOOL, loc)
        self.what, self.op, self.target = what, op, target
        self.mask: int | None = None
        self.none = False

    def c(self) -> str:
        if self.mask is None:
            raise InternalCodegenError(f"{self.loc}: cpu.curr comparison rendered before the model resolved it")
        return f"scxpy_rule_in(curr_rule(target_cpu), 0x{self.mask:x}ULL, {'true' if self.none else 'false'})"

    def features(self):
        return frozenset({"cpu:target", "cpu:curr"})

    def __repr__(self):
        return f"<cpu.curr.{self.what} {self.op} {self.target!r}>"


class _CurrRef:
    """A value that is only compared: the queue or rule of the task running on the target CPU."""

    what = ""
    ops: tuple[str, ...] = ()

    def _cmp(self, op: str, target):
        loc = caller_loc()
        if op not in self.ops:
            raise PolicyError(f"cpu.curr.{self.what} supports {' '.join(self.ops)}, not {op}", loc)
        return CurrMatch(self.what, op, target, loc)

    def __eq__(self, o):  # type: ignore[override]
        return self._cmp("==", o)

    def __ne__(self, o):  # type: ignore[override]
        return self._cmp("!=", o)

    def __lt__(self, o):
        return self._cmp("<", o)

    def __le__(self, o):
        return self._cmp("<=", o)

    def __gt__(self, o):
        return self._cmp(">", o)

    def __ge__(self, o):
        return self._cmp(">=", o)

    __hash__ = object.__hash__

    @property
    def not_a_value(self) -> str:
        return (f"cpu.curr.{self.what} is not a value: compare it, e.g. "
                f"cpu.curr.{self.what} == {'batch' if self.what == 'queue' else repr('name')}")

    def __bool__(self):
        raise PolicyError(self.not_a_value, caller_loc())


class CurrQueue(_CurrRef):
    """Ordered by dispatch priority: `cpu.curr.queue < fast` holds when the task running there
    came from a queue served after `fast` (or no task of ours runs there)."""

    what = "queue"
    ops = ("==", "!=", "<", "<=", ">", ">=")


class CurrRule(_CurrRef):
    """`cpu.curr.rule == "name"` (or a Rule object): the rule that placed the running task."""

    what = "rule"
    ops = ("==", "!=")


class Curr:
    """`cpu.curr`: the task of this scheduler running on the target CPU, if any."""

    @property
    def queue(self) -> CurrQueue:
        return CurrQueue()

    @property
    def rule(self) -> CurrRule:
        return CurrRule()

    @property
    def runtime(self) -> Expr:
        """How long it has been running since it last started (0 when none runs)."""
        return Leaf("((s64)curr_runtime(target_cpu))", DURATION, frozenset({"cpu:target", "cpu:curr"}),
                    "cpu.curr.runtime", caller_loc())

    def __getattr__(self, name: str):
        raise PolicyError(f"cpu.curr has no attribute {name!r}; known: queue, rule, runtime", caller_loc())


class Cpu:
    """`cpu`: the CPU the task being placed would run on."""

    curr = Curr()

    @property
    def idle(self) -> Expr:
        """The CPU is idle (in select_cpu's direct dispatch: the idle CPU just found)."""
        return Leaf("target_idle", BOOL, frozenset({"cpu:target", "cpu:idle"}), "cpu.idle", caller_loc())

    def __getattr__(self, name: str):
        raise PolicyError(f"cpu has no attribute {name!r}; known: idle, curr.queue, curr.rule, "
                          "curr.runtime (and nr_idle for all CPUs)", caller_loc())


cpu = Cpu()

# The number of idle CPUs (the kernel's idle mask, when the built-in idle tracking is on).
nr_idle = Global("((s64)scxpy_nr_idle_cpus())", INT, frozenset({"nr_idle"}), "nr_idle")
