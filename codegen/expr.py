"""Typed expressions over task attributes, rendered to C.

Four types: bool, int (signed 64-bit), duration (nanoseconds) and
string (only as a task attribute that can be matched against a literal:
strmatch.py). The task's attributes are in taskattrs.py.
Type errors are PolicyErrors at the line where the expression was
written. Every node knows the C it renders to and the per-task inputs
("features") it needs, so generated code computes only what is used.
"""

from __future__ import annotations

from scxpy.codegen.errors import PolicyError, elide
from scxpy.codegen.srcloc import SrcLoc, caller_loc

BOOL, INT, DURATION, STRING = "bool", "int", "duration", "string"

class Expr:
    """A typed expression. Build with operators; never call bool() on it."""

    type: str

    def __init__(self, type_: str, loc: SrcLoc | None = None):
        self.type = type_
        self.loc = loc or caller_loc()

    # --- what the model and the templates need -------------------------------
    def c(self) -> str:
        raise NotImplementedError

    def features(self) -> frozenset[str]:
        return frozenset().union(*(k.features() for k in self.children()))

    def children(self) -> tuple["Expr", ...]:
        return ()

    def walk(self):
        yield self
        for k in self.children():
            yield from k.walk()

    def const_value(self):
        """The value when the expression is a compile-time constant, else None."""
        return None

    # --- operators -------------------------------------------------------------
    def __bool__(self):
        raise PolicyError(
            "a DSL expression has no Python truth value: use & | ~ instead of and/or/not, "
            "where(cond, a, b) instead of `a if cond else b`, least()/greatest() instead of "
            "min()/max(), and no chained comparisons like a < x < b",
            self.loc,
        )

    __hash__ = object.__hash__

    def __add__(self, o):
        return _arith("+", self, o)

    def __radd__(self, o):
        return _arith("+", o, self)

    def __sub__(self, o):
        return _arith("-", self, o)

    def __rsub__(self, o):
        return _arith("-", o, self)

    def __mul__(self, o):
        return _arith("*", self, o)

    def __rmul__(self, o):
        return _arith("*", o, self)

    def __truediv__(self, o):
        return _arith("/", self, o)

    def __rtruediv__(self, o):
        return _arith("/", o, self)

    __floordiv__ = __truediv__
    __rfloordiv__ = __rtruediv__

    def __mod__(self, o):
        return _arith("%", self, o)

    def __rmod__(self, o):
        return _arith("%", o, self)

    def __neg__(self):
        return _arith("-", 0 if self.type == INT else Const(0, self.type, self.loc), self)

    def __lt__(self, o):
        return _compare("<", self, o)

    def __le__(self, o):
        return _compare("<=", self, o)

    def __gt__(self, o):
        return _compare(">", self, o)

    def __ge__(self, o):
        return _compare(">=", self, o)

    def __eq__(self, o):  # type: ignore[override]
        return _compare("==", self, o)

    def __ne__(self, o):  # type: ignore[override]
        return _compare("!=", self, o)

    def __and__(self, o):
        return _logic("&&", self, o)

    def __rand__(self, o):
        return _logic("&&", o, self)

    def __or__(self, o):
        return _logic("||", self, o)

    def __ror__(self, o):
        return _logic("||", o, self)

    def __index__(self):
        # range(first_little, 8) and the like ask for a Python int at once.
        what = "a Tunable" if type(self).__name__ == "Tunable" else "a DSL expression"
        raise PolicyError(f"{what} is only known when the scheduler runs, but Python needs an integer here "
                          "(range(), an index): CPU sets (cpus(...), cpus=) and other compile-time settings "
                          "take constants; write cpus(range(4, 8)) and edit the policy to vary it",
                          caller_loc())

    def __invert__(self):
        if self.type != BOOL:
            raise PolicyError(f"~ needs a bool, got {self.type} (~ is logical not)", self.loc)
        return Not(self)


def lift(value, loc: SrcLoc | None = None) -> Expr:
    """A Python constant as an Expr; anything else is a type error."""
    if isinstance(value, Expr):
        return value
    loc = loc or caller_loc()
    if isinstance(value, bool):
        return Const(value, BOOL, loc)
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise PolicyError(f"integer {value} does not fit in 64 bits", loc)
        return Const(value, INT, loc)
    if isinstance(value, float):
        raise PolicyError(
            f"floating point ({value!r}) cannot run in BPF; use integers or durations (5 * ms)", loc
        )
    if getattr(value, "not_a_value", None):  # strings, cpu.curr.queue / .rule: matched or compared only
        raise PolicyError(value.not_a_value, loc)
    if isinstance(value, str):
        raise PolicyError(
            f"a string ({elide(repr(value))}) is only allowed as the argument of a match on "
            "task.comm / task.leader_comm / task.cgroup.path", loc
        )
    raise PolicyError(f"{value!r} is not a DSL value (bool, int, duration or expression)", loc)


class Const(Expr):
    def __init__(self, value, type_: str, loc: SrcLoc | None = None):
        super().__init__(type_, loc)
        self.value = int(value)

    def c(self) -> str:
        if self.type == BOOL:
            return "true" if self.value else "false"
        if self.value == -(2**63):
            return "(-9223372036854775807LL - 1)"
        return f"{self.value}LL" if self.value >= 0 else f"({self.value}LL)"

    def const_value(self):
        return bool(self.value) if self.type == BOOL else self.value

    def __repr__(self):
        return f"Const({self.value}, {self.type})"


class Binary(Expr):
    def __init__(self, op: str, a: Expr, b: Expr, type_: str, loc: SrcLoc):
        super().__init__(type_, loc)
        self.op, self.a, self.b = op, a, b

    def children(self):
        return (self.a, self.b)

    def c(self) -> str:
        # BPF (before cpu v4) has no signed division: helpers divide magnitudes.
        if self.op == "/":
            return f"scxpy_div({self.a.c()}, {self.b.c()})"
        if self.op == "%":
            return f"scxpy_mod({self.a.c()}, {self.b.c()})"
        return f"({self.a.c()} {self.op} {self.b.c()})"

    def const_value(self):
        x, y = self.a.const_value(), self.b.const_value()
        if x is None or y is None:
            return None
        ops = {
            "+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
            "/": lambda: _cdiv(x, y), "%": lambda: x - _cdiv(x, y) * y,
            "<": lambda: x < y, "<=": lambda: x <= y, ">": lambda: x > y, ">=": lambda: x >= y,
            "==": lambda: x == y, "!=": lambda: x != y,
            "&&": lambda: bool(x and y), "||": lambda: bool(x or y),
        }
        return ops[self.op]()


def _cdiv(x: int, y: int) -> int:
    """C's truncating division, with BPF's x / 0 == 0 (so x % 0 == x)."""
    if y == 0:
        return 0
    q = abs(x) // abs(y)
    return q if (x < 0) == (y < 0) else -q


class Not(Expr):
    def __init__(self, a: Expr):
        super().__init__(BOOL, caller_loc())
        self.a = a

    def children(self):
        return (self.a,)

    def c(self) -> str:
        return f"(!{self.a.c()})"

    def const_value(self):
        v = self.a.const_value()
        return None if v is None else not v


class Call(Expr):
    """A helper from codegen/include/scxpy/common.bpf.h applied to typed arguments."""

    def __init__(self, fn: str, args: tuple[Expr, ...], type_: str, loc: SrcLoc, py=None):
        super().__init__(type_, loc)
        self.fn, self.args, self.py = fn, args, py

    def children(self):
        return self.args

    def c(self) -> str:
        return f"{self.fn}({', '.join(a.c() for a in self.args)})"

    def const_value(self):
        vals = [a.const_value() for a in self.args]
        if self.py is None or any(v is None for v in vals):
            return None
        return self.py(*vals)


class Where(Expr):
    def __init__(self, cond: Expr, a: Expr, b: Expr, loc: SrcLoc):
        super().__init__(a.type, loc)
        self.cond, self.a, self.b = cond, a, b

    def children(self):
        return (self.cond, self.a, self.b)

    def c(self) -> str:
        return f"({self.cond.c()} ? {self.a.c()} : {self.b.c()})"

    def const_value(self):
        c = self.cond.const_value()
        if c is None:
            return None
        return (self.a if c else self.b).const_value()


class Leaf(Expr):
    """A value read from the task, a metric, a tunable or a queue: fixed C text."""

    def __init__(self, c_text: str, type_: str, needs: frozenset[str] = frozenset(),
                 what: str = "", loc: SrcLoc | None = None):
        super().__init__(type_, loc)
        self._c, self._needs, self.what = c_text, needs, what

    def c(self) -> str:
        return self._c

    def features(self):
        return self._needs

    def __repr__(self):
        return f"<{self.what or self._c}: {self.type}>"


class Global(Leaf):
    """A value of the whole machine (now, nr_idle), written bare in a policy.

    Built once at import, so it has no line of its own: the model reports it
    at the line of the declaration that uses it (GLOBAL_LOC marks this).
    """

    def __init__(self, c_text: str, type_: str, needs: frozenset[str], what: str):
        super().__init__(c_text, type_, needs, what, GLOBAL_LOC)


GLOBAL_LOC = SrcLoc("<scxpy>", 0)

# Monotonic time (ns since boot), e.g. to stamp a TaskVar on an event.
now = Global("((s64)bpf_ktime_get_ns())", DURATION, frozenset(), "now")


# --- typing rules --------------------------------------------------------------

def _arith(op: str, a, b) -> Expr:
    loc = caller_loc()
    a, b = lift(a, loc), lift(b, loc)
    ta, tb = a.type, b.type
    result = None
    if op in "+-%":
        if ta == tb and ta in (INT, DURATION):
            result = ta
    elif op == "*":
        if {ta, tb} == {INT} or {ta, tb} == {INT, DURATION}:
            result = DURATION if DURATION in (ta, tb) else INT
    elif op == "/":
        if ta == INT and tb == INT:
            result = INT
        elif ta == DURATION and tb == INT:
            result = DURATION
        elif ta == DURATION and tb == DURATION:
            result = INT
    if result is None:
        hint = ""
        if DURATION in (ta, tb) and INT in (ta, tb) and op in "+-%":
            hint = "; give the integer a unit, e.g. 5 * ms"
        raise PolicyError(f"cannot apply {op} to {ta} and {tb}{hint}", loc)
    return Binary(op, a, b, result, loc)


def _compare(op: str, a, b) -> Expr:
    loc = caller_loc()
    if isinstance(b, str) or isinstance(a, str):
        raise PolicyError(
            "compare strings with .startswith(...) / == on task.comm, task.leader_comm or "
            "task.cgroup.path only", loc)
    a, b = lift(a, loc), lift(b, loc)
    if a.type != b.type or (a.type == BOOL and op not in ("==", "!=")):
        hint = ""
        if {a.type, b.type} == {INT, DURATION}:
            hint = "; give the integer a unit, e.g. 5 * ms"
        raise PolicyError(f"cannot compare {a.type} {op} {b.type}{hint}", loc)
    return Binary(op, a, b, BOOL, loc)


def _logic(op: str, a, b) -> Expr:
    loc = caller_loc()
    word = "&" if op == "&&" else "|"
    text = next((x for x in (a, b) if isinstance(x, str)), None)
    if text is not None:  # `x == "a" | (y == "b")` is `x == ("a" | (y == "b"))` in Python
        raise PolicyError(
            f"{word} between the string {elide(repr(text))} and a condition: {word} binds tighter than ==, "
            f"so the comparison is split; parenthesize each comparison, e.g. "
            f"(task.comm == {elide(repr(text))}) {word} (...)", loc)
    a, b = lift(a, loc), lift(b, loc)
    if a.type != BOOL or b.type != BOOL:
        raise PolicyError(
            f"{word} needs bool operands, got {a.type} and {b.type} "
            f"(& and | bind tighter than comparisons: parenthesize, e.g. (a < b) {word} c)", loc)
    return Binary(op, a, b, BOOL, loc)


# --- public helpers (re-exported by codegen.dsl) -----------------------------

def where(cond, a, b) -> Expr:
    """Conditional expression: a when cond holds, else b (C's ?:)."""
    loc = caller_loc()
    cond, a, b = lift(cond, loc), lift(a, loc), lift(b, loc)
    if cond.type != BOOL:
        raise PolicyError(f"where() condition must be bool, got {cond.type}", loc)
    if a.type != b.type:
        raise PolicyError(f"where() branches differ in type: {a.type} and {b.type}", loc)
    return Where(cond, a, b, loc)


def _minmax(fn: str, py, args) -> Expr:
    loc = caller_loc()
    if len(args) < 2:
        raise PolicyError(f"{'least' if py is min else 'greatest'}() needs at least two values", loc)
    vals = [lift(v, loc) for v in args]
    t = vals[0].type
    if t not in (INT, DURATION) or any(v.type != t for v in vals):
        raise PolicyError(
            f"least()/greatest() need ints or durations of one type, got "
            f"{', '.join(v.type for v in vals)}", loc)
    out = vals[0]
    for v in vals[1:]:
        out = Call(fn, (out, v), t, loc, py)
    return out


def least(*args) -> Expr:
    """The smallest of two or more ints or durations."""
    return _minmax("scxpy_min", min, args)


def greatest(*args) -> Expr:
    """The largest of two or more ints or durations."""
    return _minmax("scxpy_max", max, args)
