"""Hypothesis strategies that write scxpy policies as Python source.

`valid_policies()` draws a policy file using the whole DSL: queues of every
order and scope (steal, lag, CPU sets, explicit ids), tunables of every
type, rules over every task attribute and metric with expressions nested a
few levels, every dispatch strategy and CPU selection, raw C. The file is
text (a `PolicySource`), so a failing example is written out as a `.py`
the user can rerun (`scxpy show FILE`), and hypothesis shrinks it line by
line.

`invalid_policies()` takes a valid one and plants exactly one mistake on
one line (`mark` names it); codegen must answer with a PolicyError there.

Leaves come from the DSL's own tables (codegen.taskattrs.TASK_ATTRS,
STRING_ATTRS, model.SELECT_CPU): a task attribute added there is fuzzed
without a change here. Constructs the tables do not describe are listed
in the LEAVES / the rule and queue drawers below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from scxpy.codegen import expr as X, strmatch, taskattrs
from scxpy.codegen import model, rawc, taskstate

BOOL, INT, DURATION = X.BOOL, X.INT, X.DURATION
MAX_DEPTH = 3
CPU_IDS = range(0, 8)  # CPU sets stay within what a test guest has (or fall back to GLOBAL)

HEADER = '"""A policy written by the fuzzer (tests/fuzz/policies.py)."""\nfrom scxpy import *\nfrom scxpy.codegen.expr import lift\n\n'


@dataclass
class Named:
    name: str
    type: str


@dataclass
class PolicySource:
    """A policy file as lines; class-body lines are indented by text()."""

    body: list[str]
    queues: list[tuple[str, str]] = field(default_factory=list)  # (name, order)
    tunables: list[Named] = field(default_factory=list)
    rule_lines: list[int] = field(default_factory=list)  # indexes into body
    mark: int | None = None  # 1-based file line where an invalid policy's mistake is
    mistake: str = ""
    trailer: list[str] = field(default_factory=list)  # top-level lines after the class

    def text(self) -> str:
        return (HEADER + "class Fuzzed(Scheduler):\n" + "".join(f"    {line}\n" for line in self.body)
                + "".join(f"{line}\n" for line in self.trailer))

    def file_line(self, body_index: int) -> int:
        return HEADER.count("\n") + 2 + body_index


# --- expressions: (source, is_constant) ----------------------------------------

def _task_leaves(t: str, condition: bool = True) -> list[str]:
    out = [f"task.{n}" for n, spec in taskattrs.TASK_ATTRS.items() if spec[1] == t]  # (C, type, ...)
    if t == INT and condition:  # the cgroup is read only while classifying
        out += ["task.cgroup.id", "task.cgroup.level"]
    return out


_INT_CONSTS = st.one_of(st.integers(-1000, 1000), st.sampled_from([0, 1, -1, 2**31, -(2**31), 100, 10000]),
                        st.sampled_from(["SCHED_NORMAL", "SCHED_BATCH", "SCHED_IDLE", "SCHED_EXT", "SCHED_FIFO"]))
_UNITS = ["ns", "us", "ms", "sec"]


@st.composite
def _const(draw, t: str) -> str:
    if t == BOOL:
        return draw(st.sampled_from(["True", "False"]))
    if t == INT:
        v = draw(_INT_CONSTS)
        return f"({v})" if isinstance(v, int) and v < 0 else str(v)
    n, unit = draw(st.integers(0, 5000)), draw(st.sampled_from(_UNITS))
    return f"({n} * {unit})"


# Literals for string matches: quotes, backslashes, comment markers, UTF-8.
_NAME_CHARS = st.sampled_from(list("abckwz019_-.:/ ") + ['"', "'", "\\", "*", "\n", "é", "€"])


@st.composite
def _name_literal(draw, limit: int) -> str:
    s = draw(st.text(_NAME_CHARS, min_size=0, max_size=limit))
    while len(s.encode()) > limit:
        s = s[:-1]
    return repr(s)


@st.composite
def _string_match(draw) -> str:
    kind = draw(st.sampled_from(["task", "cgroup"]))
    if kind == "task":
        attr = draw(st.sampled_from(sorted(taskattrs.STRING_ATTRS)))
        lit = draw(_name_literal(strmatch.TASK_COMM_LEN - 1))
        op = draw(st.sampled_from(["==", "!=", "startswith"]))
        return f"task.{attr}.startswith({lit})" if op == "startswith" else f"(task.{attr} {op} {lit})"
    parts = draw(st.lists(st.text(st.sampled_from(list("abz09_-.")), min_size=1, max_size=12),
                          min_size=0, max_size=4))
    path = repr("/" + "/".join(parts))
    op = draw(st.sampled_from(["==", "!=", "startswith"]))
    return f"task.cgroup.path.startswith({path})" if op == "startswith" else f"(task.cgroup.path {op} {path})"


@dataclass
class Scope:
    """What an expression may name where it is written."""
    tunables: list[Named]
    queues: list[str]
    vtime_queues: list[str] = field(default_factory=list)
    taskvars: list[Named] = field(default_factory=list)
    rule_names: list[str] = field(default_factory=list)
    priority_dispatch: bool = False  # cpu.curr.queue may be ordered (<, >=, ...)
    has_vtime: bool = False  # task.vtime exists only in a policy with a vtime queue


@dataclass(frozen=True)
class Ctx:
    """Where an expression is written: a rule condition reads everything; a slice or
    weight no names or cgroups (read only while classifying); a queue key, a
    TaskVar update or a preempt condition as docs/dsl-reference.md allows."""
    strings: bool = True  # task.comm / leader_comm / cgroup matches, task.cgroup.*
    cpu: bool = True  # cpu.idle, cpu.curr.*, nr_idle


CONDITION, VALUE, KEY, UPDATE, PREEMPT = Ctx(), Ctx(strings=False), Ctx(False, False), Ctx(False, False), Ctx(False)


def _leaves(t: str, scope: Scope, ctx: Ctx) -> list[str]:
    out = [x for x in _task_leaves(t, ctx.strings) if scope.has_vtime or x != "task.vtime"]
    out += [n.name for n in scope.tunables + scope.taskvars if n.type == t]
    if t == INT:
        out += [f"{q}.queued" for q in scope.queues] + ["GLOBAL.queued", "LOCAL.queued"]
        out += ["nr_idle"] if ctx.cpu else []
    elif t == DURATION:
        out += ["now"] + [f"{q}.clock" for q in scope.vtime_queues]
        out += ["cpu.curr.runtime"] if ctx.cpu else []
    elif ctx.cpu:
        out += ["cpu.idle"]
    return out


@st.composite
def _cpu_curr(draw, scope: Scope) -> str:
    """A comparison about the task running on the target CPU."""
    if scope.rule_names and draw(st.booleans()):
        return f"(cpu.curr.rule {draw(st.sampled_from(['==', '!=']))} {draw(st.sampled_from(scope.rule_names))!r})"
    ops = ["==", "!="] + (["<", "<=", ">", ">="] if scope.priority_dispatch else [])
    return f"(cpu.curr.queue {draw(st.sampled_from(ops))} {draw(st.sampled_from(scope.queues + ['GLOBAL', 'LOCAL']))})"


@st.composite
def expression(draw, t: str, scope: Scope, depth: int = MAX_DEPTH, ctx: Ctx = CONDITION):
    """An expression of DSL type `t`: (source, whether it is a compile-time constant)."""
    leaves = _leaves(t, scope, ctx)
    choices = ["leaf", "const"] + (["string"] if t == BOOL and ctx.strings else []) \
        + (["curr"] if t == BOOL and ctx.cpu else [])
    if depth > 0:
        choices += ["op", "op", "minmax", "where", "neg"] if t != BOOL else ["cmp", "cmp", "logic", "not", "where", "booleq"]
    kind = draw(st.sampled_from(choices))
    if kind == "leaf" and leaves:
        return draw(st.sampled_from(leaves)), False
    if kind in ("leaf", "const"):
        return draw(_const(t)), True
    if kind == "string":
        return draw(_string_match()), False
    if kind == "curr":
        return draw(_cpu_curr(scope)), False
    sub = lambda tt: draw(expression(tt, scope, depth - 1, ctx))  # noqa: E731
    if kind == "op":
        if t == INT:
            form = draw(st.sampled_from(["ii+", "ii-", "ii*", "ii/", "ii%", "dd/"]))
        else:
            form = draw(st.sampled_from(["dd+", "dd-", "dd%", "di*", "id*", "di/"]))
        ta, tb = ({"i": INT, "d": DURATION}[c] for c in form[:2])
        (a, ca), (b, cb) = sub(ta), sub(tb)
        if ca and cb:  # two Python ints would divide as Python does (floats, ZeroDivisionError)
            a = f"lift({a})"
        return f"({a} {form[2]} {b})", ca and cb
    if kind == "minmax":
        fn = draw(st.sampled_from(["least", "greatest"]))
        args = [sub(t) for _ in range(draw(st.integers(2, 3)))]
        return f"{fn}({', '.join(a for a, _ in args)})", all(c for _, c in args)
    if kind == "where":
        (c, cc), (a, ca), (b, cb) = sub(BOOL), sub(t), sub(t)
        return f"where({c}, {a}, {b})", cc and (ca or cb)  # a constant condition picks a branch
    if kind == "neg":
        a, ca = sub(t)
        return f"(-{a})", ca
    if kind == "cmp":
        tt = draw(st.sampled_from([INT, DURATION]))
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        (a, ca), (b, cb) = sub(tt), sub(tt)
        return f"({a} {op} {b})", ca and cb
    if kind == "booleq":
        op = draw(st.sampled_from(["==", "!="]))
        (a, ca), (b, cb) = sub(BOOL), sub(BOOL)
        return f"({a} {op} {b})", ca and cb
    if kind == "logic":
        op = draw(st.sampled_from(["&", "|"]))
        (a, ca), (b, cb) = sub(BOOL), sub(BOOL)
        return f"({a} {op} {b})", ca and cb
    a, ca = sub(BOOL)  # not
    return (f"(~lift({a}))" if ca else f"(~{a})"), ca  # ~True is -2 in Python


@st.composite
def _nonconstant(draw, t: str, scope: Scope, ctx: Ctx) -> str:
    """An expression of type t that is not a constant (a rule condition must
    not be always true or false; a constant slice would be range-checked)."""
    src, const = draw(expression(t, scope, ctx=ctx))
    if not const:
        return src
    anchor = draw(st.sampled_from([x for x in _task_leaves(t, False) if scope.has_vtime or x != "task.vtime"]))
    if t == BOOL:
        return f"({anchor} | {src})"
    return f"greatest({anchor}, {src})"


# --- declarations --------------------------------------------------------------

@st.composite
def _queue_line(draw, name: str, order: str, explicit_id: int | None, scope: Scope) -> tuple[str, str]:
    extent = draw(st.sampled_from(["shared", "cpu", "llc"]))
    args = [repr(order)]
    if extent != "shared" or draw(st.booleans()):
        args.append(f"scope={extent!r}")
    if extent != "shared" and draw(st.booleans()):
        args.append("steal=True")
    if order == "vtime" and draw(st.booleans()):
        args.append(f"lag={draw(st.integers(1, 100))} * ms")
    if draw(st.integers(0, 3)) == 0:
        ids = sorted(draw(st.sets(st.sampled_from(CPU_IDS), min_size=1, max_size=4)))
        args.append(f"cpus=cpus({', '.join(map(str, ids))})" if draw(st.booleans())
                    else f"cpus=cpus(range({ids[0]}, {ids[0] + len(ids)}))")
    if explicit_id is not None:
        args.append(f"id={explicit_id:#x}")
    if order == "vtime" and draw(st.integers(0, 2)) == 0:
        args.append(f"key={draw(_nonconstant(DURATION, scope, KEY))}")  # its own name is not bound yet
    return f"{name} = Dsq({', '.join(args)})", order


@st.composite
def _tunable_line(draw, name: str) -> tuple[str, Named]:
    t = draw(st.sampled_from([INT, DURATION, BOOL]))
    args = []
    if t == BOOL:
        args.append(draw(st.sampled_from(["True", "False"])))
    elif t == INT:
        lo, hi = sorted(draw(st.lists(st.integers(-100, 10000), min_size=2, max_size=2)))
        args.append(str(draw(st.integers(lo, hi))))
        if draw(st.booleans()):
            args += [f"min={lo}", f"max={hi}"]
    else:
        lo, hi = sorted(draw(st.lists(st.integers(1, 100_000), min_size=2, max_size=2)))
        args.append(f"{draw(st.integers(lo, hi))} * us")
        if draw(st.booleans()):
            args += [f"min={lo} * us", f"max={hi} * us"]
    if draw(st.booleans()):
        args.append("live=True")
    if draw(st.booleans()):
        args.append(f"doc={draw(_name_literal(30))}")
    return f"{name} = Tunable({', '.join(args)})", Named(name, t)


@st.composite
def _rule(draw, scope: Scope, orders: dict[str, str], index: int, conditional: bool, named: bool) -> str:
    queue = draw(st.sampled_from(scope.queues + ["GLOBAL", "LOCAL"]))
    args = [draw(_nonconstant(BOOL, scope, CONDITION))] if conditional else []
    args.append(f"queue={queue}")
    slice_kind = draw(st.sampled_from(["none", "const", "expr"]))
    if slice_kind == "const":
        args.append(f"slice={draw(st.integers(100, 10_000_000))} * us")
    elif slice_kind == "expr":
        args.append(f"slice={draw(_nonconstant(DURATION, scope, VALUE))}")
    if orders.get(queue) == "vtime":
        w = draw(st.sampled_from(["none", "const", "expr"]))
        if w == "const":
            args.append(f"weight={draw(st.integers(1, 10000))}")
        elif w == "expr":
            args.append(f"weight={draw(_nonconstant(INT, scope, VALUE))}")
    preempt = draw(st.sampled_from(["no", "True", "condition"]))
    if preempt == "True":
        args.append("preempt=True")
    elif preempt == "condition":
        args.append(f"preempt={draw(_nonconstant(BOOL, scope, PREEMPT))}")
    if named:
        args.append(f"name='r{index}'")
    return f"Rule({', '.join(args)}),"


@st.composite
def _dispatch_line(draw, kind: str, orders: dict[str, str], targeted: set[str]) -> str | None:
    names = draw(st.permutations(sorted(orders)))
    if kind in ("RoundRobin", "EarliestVtime"):  # a queue no rule targets may be left out
        names = [n for n in names if n in targeted or draw(st.booleans())]
    if kind == "default":
        return None
    if kind == "list":
        return f"dispatch = [{', '.join(names)}]"
    if kind == "RoundRobin":
        items = ", ".join(f"{n}: {draw(st.integers(1, 1000))}" for n in names)
        return f"dispatch = RoundRobin({{{items}}})"
    return f"dispatch = {kind}({', '.join(names)})"


# Raw C that really runs: a RawDecl with a counter and a helper, hooks that call
# it, a timer that walks the first queue (an RCU-protected DSQ iterator) and the
# dump callbacks printing through scxpy_dump(). Written as Python string
# literals with \n escapes, so the C lines map to the literal's line.
RAW_DECL = ("RawDecl('u64 fuzz_raw_seen;\\n"
            "static __always_inline void fuzz_note(void) { __sync_fetch_and_add(&fuzz_raw_seen, 1); }')")
DUMP_CALLBACKS = ("dump", "dump_cpu", "dump_task")


def _hook_body(cb: str, has_decl: bool) -> str:
    if cb in DUMP_CALLBACKS:
        return 'scxpy_dump("fuzz %d", 1);'
    return "fuzz_note();" if has_decl else "/* fuzz */"


def _timer_body(queues: list[str], has_decl: bool) -> str:
    note = "fuzz_note();" if has_decl else ""
    if not queues:
        return note or "/* tick */"
    return (f"struct task_struct *p;\\n"
            f"bpf_for_each(scx_dsq, p, DSQ_{queues[0]}(0), 0) {{ {note} break; }}")


@st.composite
def _raw_parts(draw, guest: bool, queues: list[str]) -> list[str]:
    """Raw C in every callback and position the escape hatch offers
    (codegen.rawc.CALLBACKS), plus declarations and a timer: what is fuzzed is how
    scxpy splices it in and that it stays legal where it lands. A guest run keeps
    scxpy's own code (no "instead": an empty enqueue would leave tasks unqueued)."""
    has_decl = draw(st.booleans())
    out, used = ([RAW_DECL] if has_decl else []), set()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["hook", "hook", "timer"]))
        if kind == "timer" and "timer" not in used:
            used.add("timer")
            out.append(f"RawTimer('fuzz', '{_timer_body(queues, has_decl)}', every={draw(st.integers(1, 100))} * ms)")
        elif kind == "hook":
            cb = draw(st.sampled_from(sorted(rawc.CALLBACKS)))
            spec = rawc.CALLBACKS[cb]
            positions = [p for p in rawc.POSITIONS
                         if not (p == "instead" and (spec.no_instead or guest)) and not (p == "after" and spec.no_after)]
            at = draw(st.sampled_from([None, *positions]))
            pos = at or rawc.default_at(cb)
            if cb in used or pos not in positions:  # one block per callback
                continue
            used.add(cb)
            out.append(f"RawC({cb!r}, '{_hook_body(cb, has_decl)}'" + (f", at={at!r})" if at else ")"))
    return out or ["RawDecl('/* nothing */')"]


@st.composite
def valid_policies(draw, *, guest: bool = False) -> PolicySource:
    """A policy codegen must accept. guest=True: one the fuzz VM test can run for a
    few seconds under stress-ng (timeout at least 10 s, so a policy that
    starves a queue by design is not ejected within the run)."""
    body = [f"name = 'fz_{draw(st.integers(0, 99999))}'"]
    if draw(st.booleans()):
        body.append(f"timeout = {draw(st.integers(10 if guest else 1, 30))} * sec")
    if draw(st.integers(0, 5)) == 0:
        body.append("partial = True")
    # Declarations in the order a class body binds them: a queue's key may
    # read the tunables, TaskVars and queues declared before it.
    queue_orders = draw(st.lists(st.sampled_from(["fifo", "vtime"]), min_size=1 if guest else 0, max_size=4))
    scope = Scope([], [], has_vtime="vtime" in queue_orders)
    for i in range(draw(st.integers(0, 3))):
        line, named = draw(_tunable_line(f"t{i}"))
        body.append(line)
        scope.tunables.append(named)
    for i in range(draw(st.integers(0, 2))):
        t = draw(st.sampled_from([INT, DURATION, BOOL]))
        body.append(f"v{i} = TaskVar({draw(_const(t))})")
        scope.taskvars.append(Named(f"v{i}", t))
    nq = len(queue_orders)
    ids = draw(st.lists(st.integers(1, 1000), min_size=nq, max_size=nq, unique=True))
    orders = {}
    for i, (k, order) in enumerate(zip(ids, queue_orders)):
        line, order = draw(_queue_line(f"q{i}", order, k * 0x10000 if draw(st.integers(0, 3)) == 0 else None, scope))
        body.append(line)
        orders[f"q{i}"] = order
        scope.queues.append(f"q{i}")
        if order == "vtime":
            scope.vtime_queues.append(f"q{i}")
    # Every TaskVar changes on some event (one that is read but never updated is an error).
    updates: dict[str, list[str]] = {}
    for v in scope.taskvars:
        for ev in draw(st.sets(st.sampled_from(taskstate.EVENTS), min_size=1, max_size=2)):
            if ev == "stopping" and v.type == BOOL and draw(st.booleans()):
                new = draw(st.sampled_from(["task.runnable", f"task.runnable & ~{v.name}"]))
            else:
                new = draw(expression(v.type, scope, 2, UPDATE))[0]
            updates.setdefault(ev, []).append(f"{v.name}: {new}")
    for ev in sorted(updates):
        body.append(f"on_{ev} = {{{', '.join(updates[ev])}}}")
    kinds = ["default", "list", "Priority", "RoundRobin"]
    if orders and all(o == "vtime" for o in orders.values()):
        kinds.append("EarliestVtime")
    kind = draw(st.sampled_from(kinds))
    scope.priority_dispatch = kind in ("default", "list", "Priority")
    nrules = draw(st.integers(0, 4))
    named = [draw(st.booleans()) for _ in range(nrules + 1)]
    scope.rule_names = [f"r{i}" for i, n in enumerate(named) if n]
    body.append("rules = [")
    rule_lines = []
    for i in range(nrules + 1):
        rule_lines.append(len(body))
        body.append("    " + draw(_rule(scope, orders, i, conditional=i < nrules, named=named[i])))
    body.append("]")
    qnames = scope.queues
    targeted = {q for q in qnames if any(f"queue={q}," in body[i] or f"queue={q})" in body[i] for i in rule_lines)}
    d = draw(_dispatch_line(kind, orders, targeted))
    if d:
        body.append(d)
    sel = draw(st.sampled_from(["(default)", *model.SELECT_CPU]))
    if sel != "(default)":
        body.append(f"select_cpu = {sel!r}")
    if draw(st.integers(0, 4)) == 0:
        body.append(f"raw = [{', '.join(draw(_raw_parts(guest, scope.queues)))}]")
    return PolicySource(body, [(q, orders[q]) for q in qnames], scope.tunables, rule_lines)


# --- invalid policies: one planted mistake -------------------------------------

def _plant(src: PolicySource, index: int, line: str, mistake: str) -> PolicySource:
    body = list(src.body)
    body[index] = line
    return PolicySource(body, src.queues, src.tunables, src.rule_lines, src.file_line(index), mistake)


def _insert(src: PolicySource, index: int, line: str, mistake: str) -> PolicySource:
    body = src.body[:index] + [line] + src.body[index:]
    rule_lines = [i + (i >= index) for i in src.rule_lines]
    return PolicySource(body, src.queues, src.tunables, rule_lines, src.file_line(index), mistake)


# Conditions that are wrong whatever the rest of the policy is.
BAD_CONDITIONS = [
    ("task.avg_runtime < 5", "duration compared with int"),
    ("task.nice > 1 * ms", "int compared with duration"),
    ("task.nope == 1", "unknown task attribute"),
    ("task.kthread and task.pid < 5", "Python `and`"),
    ("not task.kthread", "Python `not`"),
    ("task.pid < 3 < 5", "chained comparison"),
    ("task.kthread & task.pid < 5", "& binds tighter than <"),
    ("task.weight * 1.5 > 100", "float"),
    ("task.pid", "int condition"),
    ("task.comm < 'a'", "ordered string comparison"),
    ("task.comm == 'x' * 16", "comm literal too long"),
    ("task.comm == 'x' * 200000", "200 KB literal"),
    ("task.comm == 'a\\0b'", "NUL in a literal"),
    ("task.cgroup.path.startswith('system.slice')", "relative cgroup path"),
    ("task.pid == 'x'", "string compared with int"),
    ("~task.pid", "~ of an int"),
    ("where(task.kthread, 1, 1 * ms) > 0", "where() branches differ"),
    ("least(task.pid) > 0", "least() of one value"),
    ("min(task.pid, 5) > 0", "Python min()"),
    ("False", "always-false condition"),
    ("task.pid + 2 ** 70 > 0", "integer beyond 64 bits"),
    ("cpu.curr.rule == 'no_such_rule'", "unknown rule name"),
    ("cpu.curr.queue", "a queue as a condition"),
    ("cpu.curr.runtime > 5", "runtime compared with int"),
    ("nr_idle > 1 * ms", "nr_idle compared with a duration"),
    ("task.comm == 'a' | (task.pid > 1)", "| binds tighter than == (string)"),
    ("task.runnable", "task.runnable outside on_stopping"),
]


@st.composite
def invalid_policies(draw) -> PolicySource:
    src = draw(valid_policies())
    kinds = ["condition", "slice", "queue", "setting", "dsq", "tunable", "second_class", "no_default"]
    kind = draw(st.sampled_from(kinds))
    r = draw(st.sampled_from(src.rule_lines))
    if kind == "condition":
        cond, what = draw(st.sampled_from(BAD_CONDITIONS))
        return _insert(src, src.rule_lines[0], f"    Rule({cond}, queue=GLOBAL),", what)
    if kind == "slice":
        bad, what = draw(st.sampled_from([("5", "int slice"), ("10 * us", "slice below 100 us"),
                                          ("20 * sec", "slice above 10 s"), ("task.pid", "int expression slice"),
                                          ("0 * ms", "zero slice"),
                                          ("where(task.comm == 'x', 1 * ms, 2 * ms)", "name match in a slice"),
                                          ("task.cgroup.level * ms", "cgroup in a slice")]))
        return _insert(src, r, f"    Rule(queue=GLOBAL, slice={bad}),", what)
    if kind == "queue":
        bad, what = draw(st.sampled_from([("Dsq()", "queue not declared"), ("3", "queue not a Dsq"),
                                          ("GLOBAL, weight=2", "weight on a FIFO queue"),
                                          ("GLOBAL, preempt=task.pid", "int preempt condition")]))
        return _insert(src, src.rule_lines[0], f"    Rule(queue={bad}),", what)
    if kind == "setting":
        line, what = draw(st.sampled_from([
            ("select_cpus = 'llc'", "misspelt setting"), ("select_cpu = 'fastest'", "unknown CPU selection"),
            ("timeout = 40 * sec", "timeout above 30 s"), ("timeout = 5", "timeout without unit"),
            ("name = 'has space'", "bad name"), ("partial = 1", "partial not a bool"),
            ("dispatch = RoundRobin({GLOBAL: 0})", "built-in queue in dispatch"),
            ("x = 1.5", "float attribute"),
            ("raw = [RawC('nope', '')]", "unknown raw callback"),
            ("raw = [RawC('init', 'return 0;', at='instead')]", "raw C instead of init"),
            ("raw = [RawC('tick', '#define X 1')]", "preprocessor directive in raw C"),
            ("raw = [RawC('tick', '', at='sometime')]", "unknown raw position"),
            ("raw = [RawDecl('u64 scxpy_exit;')]", "RawDecl redeclares a generated global"),
            ("raw = [RawC('dispatch', 'scx_bpf_consume(0);')]", "kfunc name some kernel lacks"),
            ("raw = [RawC('tick', 'scxpy_dump(\"x\");')]", "scxpy_dump outside the dump callbacks"),
            ("raw = [RawTimer('t', 'scx_bpf_dsq_insert(0, 0, 0, 0);', every=1 * ms)]", "6.13 kfunc name in a timer"),
            ("raw = [RawC('tick', 'scx_bpf_select_cpu_dfl(p, 0, 0, 0);')]", "kfunc in the wrong callback"),
        ]))
        return _insert(src, len(src.body), line, what)
    if kind == "dsq":
        line, what = draw(st.sampled_from([
            ("qx = Dsq('lifo')", "unknown order"), ("qx = Dsq(scope='numa')", "unknown scope"),
            ("qx = Dsq(steal=True)", "steal on a shared queue"), ("qx = Dsq('fifo', lag=5 * ms)", "lag on FIFO"),
            ("qx = Dsq(cpus=cpus(600))", "CPU id too large"), ("qx = Dsq(cpus=cpus(Tunable(1)))", "cpus(tunable)"),
            ("qx = Dsq(cpus=cpus(range(Tunable(1), 8)))", "range(tunable)"),
            ("qx = Dsq(cpus=[0, 1])", "cpus= not a cpus()"), ("qx = Dsq(id=2 ** 63)", "id in the built-in range"),
            ("qx = Dsq('fifo', key=task.avg_runtime)", "key on a FIFO queue"),
            ("qx = Dsq('vtime', key=task.pid)", "key not a duration"),
            ("qx = Dsq('vtime', key=cpu.curr.runtime)", "cpu.* in a key"),
            ("vx = TaskVar(task.pid)", "TaskVar of an expression"),
        ]))
        return _insert(src, 1, line, what)
    if kind == "tunable":
        line, what = draw(st.sampled_from([
            ("tx = Tunable(50, min=0, max=10)", "default above max"), ("tx = Tunable(5 * ms, max=3)", "bound type"),
            ("tx = Tunable(task.pid)", "non-constant default"), ("tx = Tunable(1.5)", "float default"),
            ("tx = Tunable(1, min=5, max=2)", "min above max"),
        ]))
        return _insert(src, 1, line, what)
    if kind == "second_class":
        trailer = ["", "class Another(Scheduler):", "    q = Dsq()", "    rules = [Rule(queue=q)]"]
        out = PolicySource(src.body, src.queues, src.tunables, src.rule_lines, None, "two Scheduler classes", trailer)
        out.mark = out.file_line(len(src.body)) + 1
        return out
    # no default rule: the last rule gets a condition
    last = src.rule_lines[-1]
    line = src.body[last].replace("Rule(", "Rule(task.kthread, ", 1)
    return _plant(src, last, line, "missing default rule")


# --- the guest sample: drawn and compiled on the host, loaded in the guest ----------

GUEST_SEED = 20
SAMPLE_DIR = "fuzz-guest-sample"  # under the cache root; index.json lists the objects


def guest_sample(n: int) -> list[str]:
    """The texts of the first `n` guest policies for a fixed seed (the same every run)."""
    from hypothesis import HealthCheck, Phase, given, seed, settings

    out: list[str] = []

    @seed(GUEST_SEED)
    @settings(max_examples=n * 3, deadline=None, database=None, derandomize=False, print_blob=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(valid_policies(guest=True))
    def draw(src):
        text = src.text()
        if len(out) < n and text not in out:
            out.append(text)

    draw()
    return out
