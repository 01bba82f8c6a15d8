"""Which sched_ext kfunc may be called from which callback.

The kernel checks this only at run time (scx_kf_allowed() in
kernel/sched/ext.c) and ejects the scheduler on a violation; codegen
checks it statically: for raw C at the policy line, for generated code
in the tests and at render time.

The kernel gives each callback a mask of what it holds while the callback
runs (SCX_CALL_OP*() in kernel/sched/ext.c, 6.12; unchanged in later
kernels for these names): `select_cpu` holds ENQUEUE and SELECT_CPU,
`enqueue` ENQUEUE, `dispatch` DISPATCH, `cpu_release` CPU_RELEASE, the
other rq-locked callbacks REST, and the unlocked ones (init, exit,
init_task, cgroup_*, cpu_online/offline, dump, and BPF timer callbacks)
nothing. A kfunc names the masks it needs; some also work unlocked.
Sleepable-only kfuncs (KF_SLEEPABLE) need a sleepable program: of the
callbacks scxpy emits, `init` and `init_task` are.

Every kfunc and wrapper in include/scxpy/{common,helpers}.bpf.h has an
entry (tests/test_kfuncs.py checks that), names under 6.12 and 6.13+.

The rules are 6.12's, the strictest of the kernels we load on: later
kernels keep them for these kfuncs and relax a few (7.x checks at load
time from a per-callback allow list, kernel/sched/ext/ext.c
scx_kf_allow_flags[], and also allows scx_bpf_select_cpu_dfl in enqueue
and the unlocked callbacks, and scx_bpf_task_cgroup anywhere). Code that
passes here therefore loads and runs on 6.12 through 7.x.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The kernel's scx_kf_mask bits, by the name we show users.
SELECT_CPU, ENQUEUE, DISPATCH, CPU_RELEASE, REST = "select_cpu", "enqueue", "dispatch", "cpu_release", "rq-locked"
_RQ_LOCKED = frozenset({SELECT_CPU, ENQUEUE, DISPATCH, CPU_RELEASE, REST})

_REST_CALLBACKS = ("dequeue", "tick", "runnable", "running", "stopping", "quiescent", "yield",
                   "core_sched_before", "set_weight", "set_cpumask", "update_idle", "cpu_acquire",
                   "enable", "disable", "exit_task", "dump_cpu", "dump_task")
_UNLOCKED_CALLBACKS = ("init_task", "cgroup_init", "cgroup_exit", "cgroup_prep_move", "cgroup_move",
                       "cgroup_cancel_move", "cgroup_set_weight", "cgroup_set_bandwidth", "cgroup_set_idle",
                       "cpu_online", "cpu_offline",
                       "init", "exit", "dump")

# Context (a callback name, or "timer" for a BPF timer callback) -> mask held.
HELD: dict[str, frozenset[str]] = {
    "select_cpu": frozenset({ENQUEUE, SELECT_CPU}),
    "enqueue": frozenset({ENQUEUE}),
    "dispatch": frozenset({DISPATCH}),
    "cpu_release": frozenset({CPU_RELEASE}),
    **{cb: frozenset({REST}) for cb in _REST_CALLBACKS},
    **{cb: frozenset() for cb in _UNLOCKED_CALLBACKS},
    "timer": frozenset(),
}
SLEEPABLE = frozenset({"init", "init_task"})  # callbacks scxpy emits as sleepable programs


@dataclass(frozen=True)
class Rule:
    needs: frozenset[str] = frozenset()  # any one of these masks; empty: no mask needed
    unlocked_ok: bool = False  # also allowed where no mask is held
    sleepable: bool = False  # only in a sleepable program
    only_in: frozenset[str] = frozenset()  # if set: these contexts and no others

    def allows(self, context: str) -> bool:
        if self.only_in:
            return context in self.only_in
        held = HELD[context]
        if self.sleepable and context not in SLEEPABLE:
            return False
        if not self.needs:
            return True
        return bool(held & self.needs) or (self.unlocked_ok and not held)

    def contexts(self) -> list[str]:
        return sorted(c for c in HELD if self.allows(c))


ANY = Rule()
_INSERT = Rule(frozenset({ENQUEUE, DISPATCH}))
_DISPATCH_ONLY = Rule(frozenset({DISPATCH}))
_MOVE = Rule(frozenset({DISPATCH}), unlocked_ok=True)
# scx_bpf_dump_bstr() errors out (ejecting the scheduler) unless a dump is being
# taken on this CPU, i.e. outside ops.dump/dump_cpu/dump_task.
_DUMP = Rule(only_in=frozenset({"dump", "dump_cpu", "dump_task"}))

KFUNCS: dict[str, Rule] = {
    "scx_bpf_select_cpu_dfl": Rule(frozenset({SELECT_CPU})),
    # inserting a task into a DSQ
    "scx_bpf_dispatch": _INSERT, "scx_bpf_dispatch_vtime": _INSERT,
    "scx_bpf_dsq_insert": _INSERT, "scx_bpf_dsq_insert_vtime": _INSERT,
    "scxpy_dsq_insert": _INSERT, "scxpy_dsq_insert_vtime": _INSERT,
    # 6.19's forms, bound under the names common.bpf.h declares them with
    "scx_bpf_dsq_insert___v2___scxpy": _INSERT, "__scx_bpf_dsq_insert_vtime": _INSERT,
    # pulling work into the dispatching CPU
    "scx_bpf_consume": _DISPATCH_ONLY, "scx_bpf_dsq_move_to_local": _DISPATCH_ONLY,
    "scxpy_dsq_move_to_local": _DISPATCH_ONLY,
    "scx_bpf_dsq_move_to_local___v2___scxpy": _DISPATCH_ONLY,  # 7.1's form
    "scx_bpf_dispatch_nr_slots": _DISPATCH_ONLY, "scx_bpf_dispatch_cancel": _DISPATCH_ONLY,
    "scx_bpf_dsq_insert_nr_slots": _DISPATCH_ONLY,
    # moving a task found by a DSQ iterator
    "scx_bpf_dispatch_from_dsq": _MOVE, "scx_bpf_dispatch_vtime_from_dsq": _MOVE,
    "scx_bpf_dsq_move": _MOVE, "scx_bpf_dsq_move_vtime": _MOVE,
    "scxpy_dsq_move": _MOVE, "scxpy_dsq_move_vtime": _MOVE,
    "scx_bpf_dispatch_from_dsq_set_slice": ANY, "scx_bpf_dispatch_from_dsq_set_vtime": ANY,
    "scx_bpf_dsq_move_set_slice": ANY, "scx_bpf_dsq_move_set_vtime": ANY,
    "scxpy_dsq_move_set_slice": ANY, "scxpy_dsq_move_set_vtime": ANY,
    "scx_bpf_reenqueue_local": Rule(frozenset({CPU_RELEASE})),
    "scx_bpf_create_dsq": Rule(sleepable=True),
    "scx_bpf_dump_bstr": _DUMP, "scxpy_dump": _DUMP,
    # only on the task a rq-locked callback was given
    "scx_bpf_task_cgroup": Rule(_RQ_LOCKED),
    # allowed anywhere
    **{name: ANY for name in (
        "scx_bpf_kick_cpu", "scx_bpf_dsq_nr_queued", "scx_bpf_destroy_dsq",
        "bpf_iter_scx_dsq_new", "bpf_iter_scx_dsq_next", "bpf_iter_scx_dsq_destroy", "scxpy_dsq_head_vtime",
        "scx_bpf_exit_bstr", "scx_bpf_error_bstr", "scxpy_error",
        "scx_bpf_cpuperf_cap", "scx_bpf_cpuperf_cur", "scx_bpf_cpuperf_set", "scx_bpf_nr_cpu_ids",
        "scx_bpf_get_possible_cpumask", "scx_bpf_get_online_cpumask", "scx_bpf_put_cpumask",
        "scx_bpf_get_idle_cpumask", "scx_bpf_get_idle_smtmask", "scx_bpf_put_idle_cpumask",
        "scx_bpf_test_and_clear_cpu_idle", "scx_bpf_pick_idle_cpu", "scx_bpf_pick_any_cpu",
        "scx_bpf_task_running", "scx_bpf_task_cpu", "scx_bpf_cpu_rq",
        "scxpy_cpu_is_idle", "scxpy_nr_idle_cpus", "scxpy_this_cpu_online",
        "bpf_cpumask_create", "bpf_cpumask_acquire", "bpf_cpumask_release", "bpf_cpumask_first",
        "bpf_cpumask_first_zero", "bpf_cpumask_first_and", "bpf_cpumask_set_cpu",
        "bpf_cpumask_clear_cpu", "bpf_cpumask_test_cpu", "bpf_cpumask_test_and_set_cpu",
        "bpf_cpumask_test_and_clear_cpu", "bpf_cpumask_setall", "bpf_cpumask_clear",
        "bpf_cpumask_and", "bpf_cpumask_or", "bpf_cpumask_xor", "bpf_cpumask_equal",
        "bpf_cpumask_intersects", "bpf_cpumask_subset", "bpf_cpumask_empty", "bpf_cpumask_full",
        "bpf_cpumask_copy", "bpf_cpumask_any_distribute", "bpf_cpumask_any_and_distribute",
        "bpf_cpumask_weight", "bpf_task_from_pid", "bpf_task_release",
        "bpf_rcu_read_lock", "bpf_rcu_read_unlock")},
}


# Kfunc names some kernel we load on lacks, with the portable way to call them.
# 6.13 renamed the 6.12 insert/move kfuncs (the old names stayed as deprecated
# aliases until 6.15 removed them, so Debian's 7.x refuses them); 6.12 lacks
# the new names; 7.3 removed scx_bpf_cpu_rq. Raw C that calls one fails only
# when loaded on the kernel that lacks it, so it is refused when compiling,
# unless the code tests it with bpf_ksym_exists().
_OLD, _NEW = "6.15 and later (Debian's 7.x among them; 6.13 renamed it)", "6.12 (it arrived in 6.13)"
NOT_ON_EVERY_KERNEL: dict[str, tuple[str, str]] = {
    "scx_bpf_dispatch": (_OLD, "scxpy_dsq_insert"),
    "scx_bpf_dispatch_vtime": (_OLD, "scxpy_dsq_insert_vtime"),
    "scx_bpf_consume": (_OLD, "scxpy_dsq_move_to_local"),
    "scx_bpf_dispatch_from_dsq": (_OLD, "scxpy_dsq_move"),
    "scx_bpf_dispatch_vtime_from_dsq": (_OLD, "scxpy_dsq_move_vtime"),
    "scx_bpf_dispatch_from_dsq_set_slice": (_OLD, "scxpy_dsq_move_set_slice"),
    "scx_bpf_dispatch_from_dsq_set_vtime": (_OLD, "scxpy_dsq_move_set_vtime"),
    "scx_bpf_dsq_insert": (_NEW, "scxpy_dsq_insert"),
    "scx_bpf_dsq_insert_vtime": (_NEW, "scxpy_dsq_insert_vtime"),
    "scx_bpf_dsq_move_to_local": (_NEW, "scxpy_dsq_move_to_local"),
    "scx_bpf_dsq_move": (_NEW, "scxpy_dsq_move"),
    "scx_bpf_dsq_move_vtime": (_NEW, "scxpy_dsq_move_vtime"),
    "scx_bpf_dsq_move_set_slice": (_NEW, "scxpy_dsq_move_set_slice"),
    "scx_bpf_dsq_move_set_vtime": (_NEW, "scxpy_dsq_move_set_vtime"),
    "scx_bpf_select_cpu_and": ("6.12 (it arrived in 6.16)", ""),
    "scx_bpf_cpu_rq": ("7.3 and later (removed)", ""),
}


def missing_somewhere(code: str) -> list[tuple[int, str]]:
    """(line offset, message) for each call of a kfunc some supported kernel lacks,
    unless the code guards that name with bpf_ksym_exists()."""
    out = []
    for lineno, line in enumerate(code.splitlines()):
        for m in _CALL.finditer(line):
            name = m.group(1)
            if name not in NOT_ON_EVERY_KERNEL or re.search(rf"bpf_ksym_exists\(\s*{name}\s*\)", code):
                continue
            lacking, wrapper = NOT_ON_EVERY_KERNEL[name]
            fix = (f"call scxpy's portable {wrapper}() instead (same arguments)" if wrapper else
                   f"guard the call with `if (bpf_ksym_exists({name}))` and do without it otherwise")
            out.append((lineno, f"{name}() does not exist on {lacking}, so the scheduler would load on "
                                f"some supported kernels and be refused on others; {fix}"))
    return out


def allowed(kfunc: str, context: str) -> bool:
    rule = KFUNCS.get(kfunc)
    return rule is None or rule.allows(context)


def _message(name: str, context: str) -> str:
    rule = KFUNCS[name]
    where = ", ".join("a BPF timer" if c == "timer" else f"ops.{c}()" for c in rule.contexts())
    here = "a BPF timer callback" if context == "timer" else f"ops.{context}()"
    why = ("it needs a sleepable program" if rule.sleepable
           else "the kernel would eject the scheduler at run time")
    return f"{name}() is not allowed in {here} (only in {where}); {why}"


_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def violations(code: str, context: str, funcs: dict[str, str] | None = None) -> list[tuple[str | None, int, str]]:
    """Every kfunc call the kernel would refuse in `context`: (function, line offset, message).

    `funcs` maps names of C functions the code may call (user-declared in
    raw C) to their bodies; calls into them are followed, and a violation
    inside one is reported there (function name set, offset in its body);
    None means in `code` itself.
    """
    funcs = funcs or {}
    out: list[tuple[str | None, int, str]] = []
    seen: set[str] = set()
    todo: list[tuple[str | None, str]] = [(None, code)]
    while todo:
        where, text = todo.pop()
        for lineno, line in enumerate(text.splitlines()):
            for m in _CALL.finditer(line):
                name = m.group(1)
                if name in funcs and name not in seen:
                    seen.add(name)
                    todo.append((name, funcs[name]))
                elif name in KFUNCS and not allowed(name, context):
                    msg = _message(name, context)
                    if where is not None:
                        msg += f" (called from {where}())"
                    out.append((where, lineno, msg))
    return out


_FUNC_START = re.compile(
    r"^(?:static\s+[^\n;]*?|s32|void|int)\s*(?:BPF_STRUCT_OPS(?:_SLEEPABLE)?\((?P<op>scxpy_op_\w+)[^)]*\)|"
    r"(?P<fn>\w+)\s*\([^;{]*\))\s*\n\{", re.M)
_TIMER_FN = re.compile(r"^scxpy_timer_\w+$")


def generated_violations(c_text: str) -> list[str]:
    """Kfunc calls in generated C reachable from a callback that may not make them.

    Splits the C into top-level functions, follows calls between them from
    each sched_ext callback (and each BPF timer callback) and checks every
    kfunc reached.
    """
    bodies: dict[str, str] = {}
    roots: dict[str, str] = {}
    matches = list(_FUNC_START.finditer(c_text))
    for m in matches:
        end = c_text.find("\n}\n", m.end())
        body = c_text[m.end(): end if end >= 0 else len(c_text)]
        if m.group("op"):
            name = m.group("op")
            roots[name] = name[len("scxpy_op_"):]
        else:
            name = m.group("fn")
            if _TIMER_FN.match(name):
                roots[name] = "timer"
        bodies[name] = body
    out = []
    for root, context in roots.items():
        where = "a BPF timer" if context == "timer" else f"ops.{context}()"
        seen, todo = set(), [root]
        while todo:
            fn = todo.pop()
            if fn in seen:
                continue
            seen.add(fn)
            for m in _CALL.finditer(bodies.get(fn, "")):
                callee = m.group(1)
                if callee in bodies and callee not in seen:
                    todo.append(callee)
                if callee in KFUNCS and context in HELD and not allowed(callee, context):
                    out.append(f"{callee}() reachable from {where} via {fn}()")
    return sorted(set(out))
