"""Which sched_ext kfunc may be called from which callback.

The kernel checks this only at run time (scx_kf_allowed() in
kernel/sched/ext.c) and ejects the scheduler on a violation; codegen
checks it statically: for raw C at the policy line, for generated code
in the tests. Names cover 6.12 and the 6.13 renames, and our own
compat wrappers from include/scxpy/common.bpf.h.
"""

from __future__ import annotations

import re

_ENQ_DISPATCH = frozenset({"select_cpu", "enqueue", "dispatch"})
_DISPATCH = frozenset({"dispatch"})
_SELECT = frozenset({"select_cpu"})
_CPU_RELEASE = frozenset({"cpu_release"})
_SLEEPABLE = frozenset({"init", "init_task", "exit", "cgroup_init", "cpu_online", "cpu_offline"})

ALLOWED: dict[str, frozenset[str]] = {
    "scx_bpf_select_cpu_dfl": _SELECT,
    "scx_bpf_dispatch": _ENQ_DISPATCH,
    "scx_bpf_dispatch_vtime": _ENQ_DISPATCH,
    "scx_bpf_dsq_insert": _ENQ_DISPATCH,
    "scx_bpf_dsq_insert_vtime": _ENQ_DISPATCH,
    "scxpy_dsq_insert": _ENQ_DISPATCH,
    "scxpy_dsq_insert_vtime": _ENQ_DISPATCH,
    "scx_bpf_consume": _DISPATCH,
    "scx_bpf_dsq_move_to_local": _DISPATCH,
    "scxpy_dsq_move_to_local": _DISPATCH,
    "scx_bpf_dispatch_nr_slots": _DISPATCH,
    "scx_bpf_dispatch_cancel": _DISPATCH,
    "scx_bpf_dsq_insert_nr_slots": _DISPATCH,
    # Also allowed from unlocked contexts (BPF timers, syscalls), but no raw
    # callback we offer is unlocked.
    "scx_bpf_dispatch_from_dsq": _DISPATCH,
    "scx_bpf_dispatch_vtime_from_dsq": _DISPATCH,
    "scx_bpf_dispatch_from_dsq_set_slice": _DISPATCH,
    "scx_bpf_dispatch_from_dsq_set_vtime": _DISPATCH,
    "scx_bpf_dsq_move": _DISPATCH,
    "scx_bpf_dsq_move_vtime": _DISPATCH,
    "scx_bpf_dsq_move_set_slice": _DISPATCH,
    "scx_bpf_dsq_move_set_vtime": _DISPATCH,
    "scxpy_dsq_move": _DISPATCH,
    "scx_bpf_reenqueue_local": _CPU_RELEASE,
    "scx_bpf_create_dsq": _SLEEPABLE,
    "scx_bpf_destroy_dsq": _SLEEPABLE | _DISPATCH | frozenset({"enqueue", "select_cpu"}),
}

# Raw-C callbacks offered to experts: name -> C parameter list (6.12 sched_ext_ops).
RAW_CALLBACKS: dict[str, str] = {
    "dispatch": "s32 cpu, struct task_struct *prev",
    "runnable": "struct task_struct *p, u64 enq_flags",
    "running": "struct task_struct *p",
    "stopping": "struct task_struct *p, bool runnable",
    "quiescent": "struct task_struct *p, u64 deq_flags",
    "tick": "struct task_struct *p",
    "enable": "struct task_struct *p",
    "disable": "struct task_struct *p",
    "set_weight": "struct task_struct *p, u32 weight",
    "set_cpumask": "struct task_struct *p, const struct cpumask *cpumask",
}

_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def violations(code: str, callback: str) -> list[tuple[int, str]]:
    """(line offset in code, message) for every kfunc call the kernel would refuse in `callback`."""
    out = []
    for lineno, line in enumerate(code.splitlines()):
        for m in _CALL.finditer(line):
            name = m.group(1)
            allowed = ALLOWED.get(name)
            if allowed is not None and callback not in allowed:
                where = ", ".join(sorted(allowed))
                out.append((lineno, f"{name}() is not allowed in ops.{callback}() (only in {where}); "
                                    f"the kernel would eject the scheduler at run time"))
    return out


_FUNC_START = re.compile(
    r"^(?:static\s+[^\n;]*?|s32|void)\s*(?:BPF_STRUCT_OPS(?:_SLEEPABLE)?\((?P<op>scxpy_op_\w+)[^)]*\)|"
    r"(?P<fn>\w+)\s*\([^;{]*\))\s*\n\{", re.M)


def generated_violations(c_text: str) -> list[str]:
    """Kfunc calls in generated C reachable from a callback that may not make them.

    Splits the C into top-level functions, follows calls between them from
    each sched_ext callback and checks every kfunc reached.
    """
    bodies: dict[str, str] = {}
    roots: dict[str, str] = {}
    matches = list(_FUNC_START.finditer(c_text))
    for i, m in enumerate(matches):
        end = c_text.find("\n}\n", m.end())
        body = c_text[m.end(): end if end >= 0 else len(c_text)]
        if m.group("op"):
            name = m.group("op")
            roots[name] = name[len("scxpy_op_"):]
        else:
            name = m.group("fn")
        bodies[name] = body
    out = []
    for root, callback in roots.items():
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
                allowed = ALLOWED.get(callee)
                if allowed is not None and callback not in allowed:
                    out.append(f"{callee}() reachable from ops.{callback}() via {fn}()")
    return sorted(set(out))
