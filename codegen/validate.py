"""Validation: from a Scheduler class to a Policy model, checking everything a user can get wrong.

Each check raises PolicyError at the policy line concerned (a setting's
line, a Rule's, a Dsq's): names, types and ranges of every setting, queue
ids, rule conditions, slices, weights, preemption, queue keys, TaskVars,
the kfuncs each expression may call where it is evaluated, and cpu.curr
comparisons (resolved to rule masks). The result is the model with its
declared facts; plan.py then makes the code-generation decisions.
"""

from __future__ import annotations

import difflib
import inspect
import re

from scxpy.base import promises as behaviours
from scxpy.codegen import dsl, kfuncs, rawc, taskattrs, taskstate
from scxpy.codegen.cpuview import CurrMatch
from scxpy.codegen.errors import PolicyError
from scxpy.codegen.expr import BOOL, DURATION, GLOBAL_LOC, INT, Expr, lift
from scxpy.codegen.limits import SLICE_MAX_NS, SLICE_MIN_NS, WEIGHT_MAX, WEIGHT_MIN
from scxpy.codegen.model import SELECT_CPU, CgroupHelperSpec, Policy, QueueSpec, RuleSpec, TunableSpec
from scxpy.codegen.source import call_source, class_source
from scxpy.codegen.srcloc import SrcLoc, keyword_loc
from scxpy.codegen.strmatch import CgroupMatch

SLICE_DFL_NS = 20_000_000  # SCX_SLICE_DFL
TIMEOUT_MAX_MS = 30_000  # SCX_WATCHDOG_MAX_TIMEOUT, also its default
MAX_WAIT_MIN_NS = 100_000_000  # the guard looks every max_wait / 4: no more often than every 25 ms
DSQ_ID_STRIDE = 0x1000  # id space per declared queue (>= MAX_CPUS instances)
EVENT_SETTINGS = tuple(f"on_{ev}" for ev in taskstate.EVENTS)
SETTINGS = ("name", "timeout", "max_wait", "partial", "rules", "dispatch", "select_cpu", "counters", "raw", "promises",
            *EVENT_SETTINGS)
MAX_RULES_CURR = 64  # cpu.curr comparisons are rule bit masks
# Callbacks where an expression is evaluated (for the kfunc-context check).
RULE_CALLBACKS = ("select_cpu", "enqueue", "dispatch")  # classify(): select_cpu, enqueue, keep_prev
PLACE_CALLBACKS = ("enqueue", "dispatch")  # keys (enqueue; keep_prev in dispatch), preempt conditions
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
_OPS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


def validate(cls, counters: bool | None = None) -> Policy:
    """The validated model of a Scheduler subclass, before planning. `counters`
    (the compile flag) overrides the policy's own `counters` setting when not None."""
    if not (isinstance(cls, type) and issubclass(cls, dsl.Scheduler) and cls is not dsl.Scheduler):
        raise PolicyError(f"{cls!r} is not a subclass of scxpy.Scheduler")
    return _Builder(cls).build(counters)


class _Builder:
    def __init__(self, cls):
        self.cls = cls
        self.taskvars: dict[str, dsl.TaskVar] = {}
        self.roots: list[Expr] = []  # every expression the generated code evaluates (for TaskVar use)
        self.src_file, self.cls_line, self.attr_lines = class_source(cls)

    def loc(self, attr: str | None = None) -> SrcLoc:
        return SrcLoc(self.src_file, self.attr_lines.get(attr, self.cls_line) if attr else self.cls_line)

    def setting(self, attr: str, default):
        for klass in self.cls.__mro__:
            if klass is dsl.Scheduler:
                break
            if attr in vars(klass):
                return vars(klass)[attr]
        return default

    def build(self, counters_flag: bool | None = None) -> Policy:
        cls = self.cls
        queues, tunables = self._declarations()
        name = self.setting("name", "") or cls.__name__.lower()
        if not isinstance(name, str) or not _OPS_NAME.match(name):
            raise PolicyError(f"name {name!r}: use 1-63 characters from A-Z a-z 0-9 _ -", self.loc("name"))
        doc = cls.__doc__ or vars(cls).get("_scxpy_module_doc") \
            or getattr(inspect.getmodule(cls), "__doc__", None)
        description = inspect.cleandoc(doc) if doc else ""
        if not description:
            raise PolicyError("the policy needs a docstring (class or module): it is the policy's description",
                              self.loc())

        timeout_ms = self._timeout()
        max_wait_ns = self._max_wait(timeout_ms)
        partial = self.setting("partial", False)
        if not isinstance(partial, bool):
            raise PolicyError("partial must be True or False", self.loc("partial"))
        wrong = behaviours.problem(self.setting("promises", {}))  # read by `scxpy check`, not by the C
        if wrong:
            raise PolicyError(wrong, self.loc("promises"))
        counters = self.setting("counters", True)
        if not isinstance(counters, bool):
            raise PolicyError("counters must be True or False", self.loc("counters"))
        if counters_flag is not None:
            counters = counters_flag

        qm = self._queues(queues)
        self._resolve_curr(qm)
        rules, features, cg_helpers = self._rules(qm)
        features |= self._keys(qm)
        kind, dqueues, dweights = self._dispatch(qm, rules)
        taskvars = self._taskvars(qm, features)

        select = self.setting("select_cpu", "default")
        if select not in SELECT_CPU:
            raise PolicyError(f"select_cpu {select!r}: choose one of {', '.join(SELECT_CPU)}",
                              self.loc("select_cpu"))

        tms = self._tunables(tunables)
        for t in tunables.values():
            features.discard(f"tunable:{id(t)}")
        raw_part = self._raw()

        pol = Policy(
            cls_name=cls.__name__, name=name, description=description,
            source=self.src_file, loc=self.loc(), timeout_ms=timeout_ms, partial=partial,
            queues=list(qm.values()), rules=rules, dispatch_kind=kind,
            dispatch_queues=dqueues, dispatch_weights=dweights, dispatch_loc=self.loc("dispatch"),
            select_cpu=select, select_loc=self.loc("select_cpu"), tunables=tms,
            features=features, cgroup_helpers=cg_helpers, raw_part=raw_part, taskvars=taskvars,
            counters=counters, max_wait_ns=max_wait_ns,
        )
        return pol

    # -- declarations --------------------------------------------------------
    def _declarations(self):
        queues: dict[str, dsl.Dsq] = {}
        tunables: dict[str, dsl.Tunable] = {}
        for klass in reversed(self.cls.__mro__):
            if klass is object or klass is dsl.Scheduler or not issubclass(klass, dsl.Scheduler):
                continue
            for attr, value in vars(klass).items():
                if attr.startswith("_") or attr in SETTINGS:
                    continue
                loc = self.loc(attr)
                if isinstance(value, dsl.Dsq):
                    if value.builtin:
                        raise PolicyError(f"{attr}: GLOBAL and LOCAL are built in; use them directly", loc)
                    if not _IDENT.match(attr):
                        raise PolicyError(f"queue name {attr!r}: use ASCII letters, digits and _", loc)
                    queues[attr] = value
                elif isinstance(value, dsl.Tunable):
                    if not _IDENT.match(attr):
                        raise PolicyError(f"tunable name {attr!r}: use ASCII letters, digits and _", loc)
                    tunables[attr] = value
                elif isinstance(value, dsl.TaskVar):
                    if not _IDENT.match(attr):
                        raise PolicyError(f"TaskVar name {attr!r}: use ASCII letters, digits and _", loc)
                    self.taskvars[attr] = value
                elif isinstance(value, (Expr, int)) and not isinstance(value, bool) or attr.isupper() \
                        or callable(value) or isinstance(value, (classmethod, staticmethod, property)):
                    continue  # named constants (ALL_CAPS or expressions) and helpers are the user's
                else:
                    close = difflib.get_close_matches(attr, SETTINGS, n=1)
                    if close:
                        raise PolicyError(f"unknown Scheduler setting {attr!r}; did you mean {close[0]!r}?", loc)
                    raise PolicyError(
                        f"unknown Scheduler attribute {attr!r} ({type(value).__name__}); settings are "
                        f"{', '.join(SETTINGS)}, plus Dsq, Tunable and TaskVar declarations", loc)
        seen: dict[int, str] = {}
        for attr, q in queues.items():
            if id(q) in seen:
                raise PolicyError(f"queue {attr!r} is the same Dsq object as {seen[id(q)]!r}; declare two Dsq()", self.loc(attr))
            seen[id(q)] = attr
            q.name = attr
        for attr, t in tunables.items():
            t.name = attr
        for attr, v in self.taskvars.items():
            v.name = attr
        return queues, tunables

    def _timeout(self) -> int:
        t = self.setting("timeout", None)
        if t is None:
            return 0
        loc = self.loc("timeout")
        e = lift(t, loc)
        v = e.const_value()
        if e.type != DURATION or v is None:
            raise PolicyError("timeout must be a constant duration, e.g. 5000 * ms", loc)
        if v <= 0 or v % 1_000_000:
            raise PolicyError(f"timeout must be a positive whole number of milliseconds, got {v} ns", loc)
        if v // 1_000_000 > TIMEOUT_MAX_MS:
            raise PolicyError(f"timeout {v // 1_000_000} ms exceeds the kernel's maximum of {TIMEOUT_MAX_MS} ms", loc)
        return v // 1_000_000

    def _max_wait(self, timeout_ms: int) -> int:
        """The wait guard's bound (Policy.wait_guard): by default a third of the watchdog's timeout."""
        limit_ns = (timeout_ms or TIMEOUT_MAX_MS) * 1_000_000
        t = self.setting("max_wait", None)
        if t is None:
            return limit_ns // 3
        loc = self.loc("max_wait")
        e = lift(t, loc)
        v = e.const_value()
        if e.type != DURATION or v is None:
            raise PolicyError("max_wait must be a constant duration, e.g. 5 * sec", loc)
        if not MAX_WAIT_MIN_NS <= v <= limit_ns // 2:
            raise PolicyError(f"max_wait {v / 1e6:g} ms: give {MAX_WAIT_MIN_NS // 1_000_000} ms to half the "
                              f"watchdog timeout ({limit_ns // 2_000_000} ms), so that the guard acts before "
                              "the watchdog ejects the scheduler", loc)
        return v

    def _queues(self, queues: dict[str, dsl.Dsq]) -> dict[int, QueueSpec]:
        out: dict[int, QueueSpec] = {}
        explicit: list[tuple[int, int, str, SrcLoc]] = []
        for q in queues.values():
            loc = q.loc
            if q.order not in ("fifo", "vtime"):
                raise PolicyError(f"Dsq order {q.order!r}: choose 'fifo' or 'vtime'", loc)
            if q.scope not in ("shared", "cpu", "llc"):
                raise PolicyError(f"Dsq scope {q.scope!r}: choose 'shared', 'cpu' or 'llc'", loc)
            if q.steal not in (True, False):
                raise PolicyError("Dsq steal must be True or False", loc)
            if q.steal and q.scope == "shared":
                raise PolicyError("steal=True needs scope='cpu' or 'llc' (a shared queue is already shared)", loc)
            if q.share not in ("task", "cgroup"):
                raise PolicyError(f"Dsq share {q.share!r}: choose 'task' (each task by its weight) or 'cgroup' "
                                  "(by cgroup cpu.weight through the hierarchy)", loc)
            if q.share == "cgroup" and q.order != "vtime":
                raise PolicyError("share='cgroup' divides CPU time by weight: it needs order='vtime'", loc)
            lag = SLICE_DFL_NS
            if q.lag is not None:
                if q.order != "vtime":
                    raise PolicyError("lag= only applies to order='vtime' queues", loc)
                e = lift(q.lag, loc)
                lag = e.const_value()
                if e.type != DURATION or lag is None or lag <= 0:
                    raise PolicyError("lag must be a positive constant duration, e.g. 20 * ms", loc)
            words = None
            if q.cpus is not None:
                if not isinstance(q.cpus, dsl.CpuSet):
                    raise PolicyError("Dsq cpus= takes cpus(...), e.g. cpus(0, 1, range(4, 8))", loc)
                words = [0] * (dsl.MAX_CPUS // 64)
                for c in q.cpus:
                    words[c // 64] |= 1 << (c % 64)
            span = 1 if q.scope == "shared" else dsl.MAX_CPUS
            if q.id is not None:
                if not isinstance(q.id, int) or isinstance(q.id, bool) or not (0 <= q.id and q.id + span <= 2**63):
                    raise PolicyError(f"DSQ id {q.id!r} must be an integer in 0..2**63-{span} "
                                      "(ids with bit 63 set are the kernel's built-in queues)", loc)
                for lo, n, other, oloc in explicit:
                    if q.id < lo + n and lo < q.id + span:
                        raise PolicyError(f"DSQ id {q.id} of queue {q.name!r} clashes with queue {other!r} ({oloc})", loc)
                explicit.append((q.id, span, q.name, loc))
            out[id(q)] = QueueSpec(q.name, q.order, q.scope, q.id if q.id is not None else -1, lag,
                                q.steal, words, loc, index=len(out), share=q.share)
        # Allocate the others in declaration order, avoiding explicit ranges.
        nxt = 0
        for qm in out.values():
            if qm.base_id >= 0:
                continue
            span = 1 if qm.scope == "shared" else dsl.MAX_CPUS
            while any(nxt < lo + n and lo < nxt + span for lo, n, _, _ in explicit):
                nxt += DSQ_ID_STRIDE
            qm.base_id = nxt
            nxt += DSQ_ID_STRIDE
        return out

    def _queue_ref(self, q, qm: dict[int, QueueSpec], loc: SrcLoc, what: str) -> QueueSpec | None:
        if not isinstance(q, dsl.Dsq):
            raise PolicyError(f"{what} must be a Dsq, got {type(q).__name__}", loc)
        if q.builtin:
            return None
        if id(q) not in qm:
            raise PolicyError(f"{what}: this queue is not declared as an attribute of the Scheduler class", loc)
        return qm[id(q)]

    def _check_expr(self, e: Expr, qm: dict[int, QueueSpec], callbacks: tuple[str, ...] = RULE_CALLBACKS,
                    owner: SrcLoc | None = None, where: str = ""):
        """Names declared, values available where `e` is evaluated (`where`, empty for a rule
        condition) and kfuncs the kernel allows in each of `callbacks`."""
        at = e.loc if e.loc != GLOBAL_LOC or owner is None else owner
        for node in e.walk():
            if isinstance(node, dsl.Tunable) and node.name is None:
                raise PolicyError("this Tunable is used but not declared as an attribute of the Scheduler class", node.loc)
            if isinstance(node, dsl.TaskVar) and node.name is None:
                raise PolicyError(f"the TaskVar made at line {node.loc.line} is used but not declared as an "
                                  "attribute of the Scheduler class", at)
            if isinstance(node, dsl.QueueDepth) and not node.dsq.builtin and id(node.dsq) not in qm:
                raise PolicyError("queue depth of a queue that is not declared in the Scheduler class", node.loc)
            if isinstance(node, dsl.QueueClock):
                q = qm.get(id(node.dsq))
                if q is None or not q.vtime:
                    raise PolicyError("the clock of a queue that is not a declared order='vtime' queue", node.loc)
        feats = e.features()
        if taskattrs.STOPPING_RUNNABLE in feats and tuple(callbacks) != ("stopping",):
            raise PolicyError(f"{where or 'a rule condition'}: task.runnable is only known in on_stopping "
                              "(ops.stopping's `runnable`: true when the task stops still runnable, preempted "
                              "or yielding, false when it goes to sleep); record it there in a TaskVar, e.g. "
                              "on_stopping = {preempted: task.runnable}, and read that", at)
        if "vtime" in feats and not any(q.vtime for q in qm.values()):
            raise PolicyError("task.vtime needs an order='vtime' queue in the policy", at)
        if where:
            local = feats & {"comm", "leader_comm", "cgroup"}
            if local:
                raise PolicyError(f"{where} cannot match task names or cgroup paths ({', '.join(sorted(local))}): "
                                  "match them in a rule condition and give that rule its own queue or slice", at)
        for cb in callbacks:
            for _, _, msg in kfuncs.violations(e.c(), cb):
                raise PolicyError(f"{where or 'rule condition'}: {msg}", at)

    def _rules(self, qm):
        rules_v = self.setting("rules", [])
        rloc = self.loc("rules")
        if not isinstance(rules_v, (list, tuple)) or not rules_v:
            raise PolicyError("rules must be a non-empty list of Rule(...), ending with a default Rule(queue=...)", rloc)
        rules: list[RuleSpec] = []
        features: set[str] = set()
        cg_helpers: list[CgroupHelperSpec] = []
        labels: set[str] = set()
        unconditional_at: SrcLoc | None = None
        for i, r in enumerate(rules_v):
            if not isinstance(r, dsl.Rule):
                raise PolicyError(f"rules[{i}] is a {type(r).__name__}, not a Rule", rloc)
            loc = r.loc
            if unconditional_at is not None:
                raise PolicyError(f"unreachable rule: the rule at {unconditional_at} always matches", loc)
            cond_c = None
            if r.when is not None:
                if r.when.type != BOOL:
                    raise PolicyError(f"rule condition must be bool, got {r.when.type}", loc)
                self._check_expr(r.when, qm)
                self.roots.append(r.when)
                cv = r.when.const_value()
                if cv is False:
                    raise PolicyError("this rule's condition is always false: it can never match", loc)
                if cv is None:
                    for node in r.when.walk():
                        if isinstance(node, CgroupMatch):
                            node.helper = f"scxpy_cgpath_{len(cg_helpers)}"
                            cg_helpers.append(CgroupHelperSpec(node.helper, node.exact, node.component_checks(), node.loc))
                    features |= r.when.features()
                    cond_c = r.when.c()
            if cond_c is None:
                unconditional_at = loc
            queue = self._queue_ref(r.queue, qm, loc, "Rule queue")
            builtin = r.queue.builtin
            # slice
            if r.slice is None:
                slice_c = f"{SLICE_DFL_NS}ULL"
            else:
                e = lift(r.slice, loc)
                if e.type != DURATION:
                    raise PolicyError(f"slice must be a duration (e.g. 5 * ms), got {e.type}", loc)
                self._check_expr(e, qm)
                self.roots.append(e)
                v = e.const_value()
                if v is not None:
                    if v <= 0:
                        raise PolicyError(f"slice must be positive, got {v} ns", loc)
                    if v < SLICE_MIN_NS:
                        raise PolicyError(f"slice {v} ns is below the minimum of {SLICE_MIN_NS // 1000} us", loc)
                    if v > SLICE_MAX_NS:
                        raise PolicyError(f"slice {v} ns is above the maximum of {SLICE_MAX_NS // 10**9} s", loc)
                    slice_c = f"{v}ULL"
                else:
                    _only_in_conditions(e, "slice", loc)
                    features |= e.features()
                    slice_c = f"scxpy_clamp_slice({e.c()})"
            # weight
            weight_c = None
            if r.weight is not None:
                if queue is None or not queue.vtime:
                    raise PolicyError("weight= only applies to rules whose queue is order='vtime'", loc)
                e = lift(r.weight, loc)
                if e.type != INT:
                    raise PolicyError(f"weight must be an int expression (e.g. task.weight * 2), got {e.type}", loc)
                self._check_expr(e, qm)
                self.roots.append(e)
                v = e.const_value()
                if v is not None and not WEIGHT_MIN <= v <= WEIGHT_MAX:
                    raise PolicyError(f"weight {v} out of range {WEIGHT_MIN}..{WEIGHT_MAX} (nice 0 is 100)", loc)
                _only_in_conditions(e, "weight", loc)
                features |= e.features()
                weight_c = e.c()
            preempt, preempt_c = self._preempt(r, qm)
            if preempt_c is not None:
                features |= r.preempt.features()
            label = r.name if r.name is not None else f"{i}"
            if not isinstance(label, str) or not _IDENT.match(label) and not label.isdigit():
                raise PolicyError(f"rule name {label!r}: use ASCII letters, digits and _", loc)
            if label in labels:
                raise PolicyError(f"two rules named {label!r}", loc)
            labels.add(label)
            rules.append(RuleSpec(i, label, loc, cond_c, queue, builtin, slice_c, weight_c, preempt, preempt_c,
                               slice_ns=int(slice_c[:-3]) if slice_c.endswith("ULL") else None,
                               source=call_source(loc, "Rule")))
        if unconditional_at is None:
            raise PolicyError("missing default rule: the last rule must have no condition, "
                              "e.g. Rule(queue=...), so every task has a queue", rules[-1].loc)
        return rules, features, cg_helpers

    def _preempt(self, r: dsl.Rule, qm) -> tuple[bool, str | None]:
        """(may preempt, C of its condition or None for always)."""
        if isinstance(r.preempt, bool):
            return r.preempt, None
        e = r.preempt
        loc = keyword_loc(r.loc, "preempt")  # the argument's own line, in a Rule spread over lines
        if not isinstance(e, Expr) or e.type != BOOL:
            got = e.type if isinstance(e, Expr) else type(e).__name__
            raise PolicyError(f"preempt must be True, False or a bool condition on the target CPU "
                              f"(e.g. cpu.curr.queue < batch), got {got}", loc)
        self._check_expr(e, qm, ("enqueue",), loc, "a preempt condition")
        self.roots.append(e)
        cv = e.const_value()
        if cv is not None:
            return bool(cv), None
        return True, e.c()

    def _keys(self, qm) -> set[str]:
        """Validate each vtime queue's ordering key; the features the keys read."""
        features: set[str] = set()
        for q in self._declared_queues():
            if q.key is None:
                continue
            m = qm[id(q)]
            if not m.vtime:
                raise PolicyError("key= orders a vtime queue: declare it Dsq('vtime', key=...)", q.loc)
            if q.key.type != DURATION:
                raise PolicyError(f"a queue key is a virtual time (a duration, e.g. task.vtime + 2 * ms), "
                                  f"got {q.key.type}", q.loc)
            self._check_expr(q.key, qm, PLACE_CALLBACKS, q.loc, "a queue key")
            if any(f.startswith("cpu:") for f in q.key.features()):
                raise PolicyError("a queue key cannot read cpu.*: it orders tasks that may run on any of the "
                                  "queue's CPUs; use cpu.* in a rule or a preempt condition", q.loc)
            self.roots.append(q.key)
            features |= q.key.features()
            m.key_c = q.key.c()
        return features

    def _taskvar_updates(self) -> dict[str, dict]:
        """event -> {id(TaskVar): (TaskVar, new value, line)} from the on_<event> settings."""
        out = {}
        for ev in taskstate.EVENTS:
            setting = self.setting(f"on_{ev}", {})
            out[ev] = taskstate.event_updates(setting, self.loc(f"on_{ev}"), ev)
            for var, *_ in out[ev].values():
                if var.name is None:
                    raise PolicyError(f"on_{ev}: this TaskVar is not declared as an attribute of the Scheduler class",
                                      self.loc(f"on_{ev}"))
        return out

    def _taskvars(self, qm, features: set[str]) -> list[taskstate.TaskVarSpec]:
        """The declared TaskVars some expression reads, validated; adds what their updates read."""
        updates = self._taskvar_updates()
        out = []
        for v in taskstate.used_vars(self.roots, list(self.taskvars.values()), updates):
            for ev, per_event in updates.items():
                if id(v) in per_event:
                    e = per_event[id(v)][1]
                    self._check_expr(e, qm, (ev,), self.loc(f"on_{ev}"), f"on_{ev}")
                    features |= e.features()
            out.append(taskstate.build(v, updates))
        for f in [f for f in features if f.startswith("taskvar:")]:
            features.discard(f)
        return out

    def _resolve_curr(self, qm) -> None:
        """Turn every cpu.curr comparison into a rule mask (rules and dispatch read as written)."""
        rules_v = self.setting("rules", [])
        rules_v = [r for r in rules_v if isinstance(r, dsl.Rule)] if isinstance(rules_v, (list, tuple)) else []
        exprs = [e for r in rules_v for e in (r.when, r.slice, r.weight, r.preempt) if isinstance(e, Expr)]
        exprs += [q.key for q in self._declared_queues() if q.key is not None]
        nodes = [n for e in exprs for n in e.walk() if isinstance(n, CurrMatch)]
        if not nodes:
            return
        if len(rules_v) > MAX_RULES_CURR:
            raise PolicyError(f"cpu.curr needs at most {MAX_RULES_CURR} rules, the policy has {len(rules_v)}",
                              nodes[0].loc)
        labels = {(r.name if r.name is not None else str(i)): i for i, r in enumerate(rules_v)}
        # Priority rank of each queue: the kernel runs the local queue, then the
        # global one, then calls dispatch, which serves its list in order.
        d = self.setting("dispatch", None)
        if d is None:
            order, strict = self._declared_queues(), True
        elif isinstance(d, (list, tuple)):
            order, strict = list(d), True
        else:
            order, strict = list(getattr(d, "queues", [])), isinstance(d, dsl.Priority)
        rank = {id(dsl.LOCAL): 0, id(dsl.GLOBAL): 1}
        for i, q in enumerate(order):
            rank.setdefault(id(q), 2 + i)
        everything = (1 << len(rules_v)) - 1
        for n in nodes:
            if n.what == "rule":
                if isinstance(n.target, str):
                    if n.target not in labels:
                        raise PolicyError(f"cpu.curr.rule: no rule named {n.target!r}; rules are "
                                          f"{', '.join(repr(k) for k in labels)} (name one with Rule(..., name=...))",
                                          n.loc)
                    i = labels[n.target]
                elif isinstance(n.target, dsl.Rule):
                    i = next((k for k, r in enumerate(rules_v) if r is n.target), None)
                    if i is None:
                        raise PolicyError("cpu.curr.rule: this Rule is not in the policy's rules", n.loc)
                else:
                    raise PolicyError(f"cpu.curr.rule is compared with a rule's name (a str) or a Rule, "
                                      f"got {type(n.target).__name__}", n.loc)
                hit = 1 << i
                n.mask, n.none = (hit, False) if n.op == "==" else (everything & ~hit, True)
                continue
            q = n.target
            if not isinstance(q, dsl.Dsq):
                raise PolicyError(f"cpu.curr.queue is compared with a queue (a Dsq), got {type(q).__name__}", n.loc)
            if not q.builtin and id(q) not in qm:
                raise PolicyError("cpu.curr.queue: this queue is not declared in the Scheduler class", n.loc)
            if n.op in ("==", "!="):
                hit = sum(1 << i for i, r in enumerate(rules_v) if r.queue is q)
                n.mask, n.none = (hit, False) if n.op == "==" else (everything & ~hit, True)
                continue
            if not strict:
                raise PolicyError(f"cpu.curr.queue {n.op} ...: queues have a priority order only with "
                                  "strict-priority dispatch (a list or Priority(...)); compare with == / !=", n.loc)
            if id(q) not in rank:
                raise PolicyError(f"cpu.curr.queue {n.op} {q!r}: that queue is not in dispatch, so it has no priority",
                                  n.loc)
            t = rank[id(q)]
            below = {"<": lambda k: k > t, "<=": lambda k: k >= t, ">": lambda k: k < t, ">=": lambda k: k <= t}[n.op]
            # A CPU running no task of ours (idle, or another class) counts as the lowest priority.
            n.mask = sum(1 << i for i, r in enumerate(rules_v) if below(rank.get(id(r.queue), len(rank) + 2)))
            n.none = n.op in ("<", "<=")

    def _dispatch(self, qm, rules):
        d = self.setting("dispatch", None)
        loc = self.loc("dispatch")
        if d is None:
            d = dsl.Priority(*[q for q in self._declared_queues()])
            d.loc = loc
        if isinstance(d, (list, tuple)):
            pr = dsl.Priority(*d)
            pr.loc = loc
            d = pr
        if not isinstance(d, (dsl.Priority, dsl.RoundRobin, dsl.EarliestVtime)):
            raise PolicyError("dispatch must be a list of queues (strict priority), Priority(...), "
                              "RoundRobin({...}) or EarliestVtime(...)", loc)
        kind = {dsl.Priority: "priority", dsl.RoundRobin: "round_robin", dsl.EarliestVtime: "earliest_vtime"}[type(d)]
        dq: list[QueueSpec] = []
        for q in d.queues:
            if isinstance(q, dsl.Dsq) and q.builtin:
                raise PolicyError("GLOBAL and LOCAL are consumed by the kernel itself; do not list them in dispatch", loc)
            m = self._queue_ref(q, qm, loc, "dispatch entry")
            if m in dq:
                raise PolicyError(f"queue {m.name!r} appears twice in dispatch", loc)
            dq.append(m)
        for w in d.weights:
            if not isinstance(w, int) or isinstance(w, bool) or not 1 <= w <= 1000:
                raise PolicyError(f"round-robin weight {w!r} must be an integer in 1..1000", loc)
        if kind == "earliest_vtime":
            for m in dq:
                if not m.vtime:
                    raise PolicyError(f"EarliestVtime needs order='vtime' queues; {m.name!r} is FIFO", loc)
        for r in rules:
            if r.queue is not None and r.queue not in dq:
                raise PolicyError(f"queue {r.queue.name!r} receives tasks but is not in dispatch: "
                                  "its tasks would never run", r.loc)
        return kind, dq, list(d.weights)

    def _declared_queues(self):
        out = []
        for klass in reversed(self.cls.__mro__):
            if klass is object or klass is dsl.Scheduler or not issubclass(klass, dsl.Scheduler):
                continue
            out += [v for a, v in vars(klass).items() if isinstance(v, dsl.Dsq) and not a.startswith("_")]
        return out

    def _tunables(self, tunables: dict[str, dsl.Tunable]) -> list[TunableSpec]:
        out = []
        for name, t in tunables.items():
            loc = t.loc
            default = int(t.default.const_value())
            bounds = []
            for which in ("min", "max"):
                v = getattr(t, which)
                if v is None:
                    bounds.append(None)
                    continue
                e = lift(v, loc)
                if e.type != t.type or e.const_value() is None:
                    raise PolicyError(f"Tunable {which} must be a constant {t.type}, like its default", loc)
                bounds.append(int(e.const_value()))
            lo, hi = bounds
            if t.type == BOOL:
                lo, hi = 0, 1
            elif t.type == DURATION and lo is None:
                lo = 0
            if lo is not None and hi is not None and lo > hi:
                raise PolicyError(f"Tunable {name!r}: min {lo} is above max {hi}", loc)
            if (lo is not None and default < lo) or (hi is not None and default > hi):
                raise PolicyError(f"Tunable {name!r}: default {default} is out of range [{lo}, {hi}]", loc)
            if t.live not in (True, False):
                raise PolicyError("Tunable live= must be True or False", loc)
            ctype = {BOOL: "bool", INT: "s64", DURATION: "u64"}[t.type]
            unit = "ns" if t.type == DURATION else None
            out.append(TunableSpec(name, f"tun_{name}", ctype, default, lo, hi, t.live, unit,
                                str(t.doc), loc))
        return out

    def _raw(self) -> rawc.RawPart:
        return rawc.build(self.setting("raw", []), self.loc("raw"))


# Inputs the generated code reads only while classifying (task names, the
# cgroup): a slice or weight expression cannot use them.
_CONDITION_ONLY = {"comm": "task.comm", "leader_comm": "task.leader_comm", "cgroup": "task.cgroup"}


def _only_in_conditions(e: Expr, what: str, loc: SrcLoc) -> None:
    used = [name for f, name in _CONDITION_ONLY.items() if f in e.features()]
    if used:
        raise PolicyError(f"{what}: {', '.join(used)} can only be used in a rule's condition; "
                          f"write a rule for those tasks with its own {what}", loc)
