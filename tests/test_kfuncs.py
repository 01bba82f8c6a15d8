"""The static kfunc-context check: the table covers every kfunc our headers declare,
and each callback gets the kernel's rules (kernel/sched/ext.c SCX_CALL_OP masks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scxpy.codegen import kfuncs, rawc

INCLUDE = Path(kfuncs.__file__).parent / "include" / "scxpy"
HEADERS = [INCLUDE / "common.bpf.h", INCLUDE / "helpers.bpf.h"]


def _externs(text: str) -> set[str]:
    return set(re.findall(r"^extern [^;]*?\b(\w+)\s*\([^;]*\)\s*__ksym", text, re.M | re.S))


def _wrappers(text: str) -> dict[str, str]:
    """static inline scxpy_* functions -> their bodies."""
    out = {}
    for m in re.finditer(r"^static __always_inline [^\n]*?\b(scxpy_\w+)\(.*?\n\{\n(.*?)\n\}\n", text, re.M | re.S):
        out[m.group(1)] = m.group(2)
    return out


def test_every_declared_kfunc_has_a_rule():
    declared = set().union(*(_externs(h.read_text()) for h in HEADERS))
    assert len(declared) > 60
    assert declared - set(kfuncs.KFUNCS) == set()


def test_helper_wrappers_are_no_more_permissive_than_what_they_call():
    for h in HEADERS:
        for name, body in _wrappers(h.read_text()).items():
            called = [c for c in re.findall(r"\b(\w+)\s*\(", body) if c in kfuncs.KFUNCS and c != name]
            if not called:
                continue
            assert name in kfuncs.KFUNCS, f"{name} calls kfuncs {called} but has no rule"
            mine = set(kfuncs.KFUNCS[name].contexts())
            for c in called:
                assert mine <= set(kfuncs.KFUNCS[c].contexts()), (name, c)


def test_every_callback_has_a_context():
    assert set(rawc.CALLBACKS) <= set(kfuncs.HELD)
    assert "timer" in kfuncs.HELD


@pytest.mark.parametrize("kfunc,ok,refused", [
    ("scx_bpf_select_cpu_dfl", {"select_cpu"}, {"enqueue", "dispatch", "timer", "tick"}),
    ("scxpy_dsq_insert", {"select_cpu", "enqueue", "dispatch"}, {"running", "init", "timer", "cpu_release"}),
    ("scx_bpf_dsq_insert_vtime", {"enqueue", "dispatch"}, {"stopping", "cgroup_move"}),
    ("scxpy_dsq_move_to_local", {"dispatch"}, {"enqueue", "select_cpu", "timer", "init"}),
    ("scx_bpf_dispatch_nr_slots", {"dispatch"}, {"enqueue", "timer"}),
    # moving from an iterator: dispatch, or wherever no rq lock is held
    ("scxpy_dsq_move", {"dispatch", "timer", "init", "init_task", "cpu_online", "cpu_offline",
                        "cgroup_init", "cgroup_move", "exit"},
     {"enqueue", "select_cpu", "running", "tick", "update_idle", "cpu_release"}),
    ("scx_bpf_dispatch_from_dsq", {"dispatch", "timer"}, {"enqueue", "stopping"}),
    ("scx_bpf_reenqueue_local", {"cpu_release"}, {"dispatch", "enqueue", "cpu_acquire"}),
    ("scx_bpf_create_dsq", {"init"}, {"dispatch", "timer", "cpu_online", "enqueue"}),
    ("scx_bpf_task_cgroup", {"enqueue", "running", "dispatch", "select_cpu", "cpu_release"},
     {"init", "init_task", "cgroup_init", "timer", "exit"}),
    ("scx_bpf_kick_cpu", set(kfuncs.HELD), set()),
    ("bpf_cpumask_weight", set(kfuncs.HELD), set()),
])
def test_context_rules(kfunc, ok, refused):
    for ctx in ok:
        assert kfuncs.allowed(kfunc, ctx), (kfunc, ctx)
    for ctx in refused:
        assert not kfuncs.allowed(kfunc, ctx), (kfunc, ctx)


def test_violations_follow_user_functions():
    funcs = {"pull": "static void pull(void)\n{\n\tscxpy_dsq_move_to_local(5);\n}"}
    out = kfuncs.violations("int x;\npull();", "running", funcs)
    assert out == [("pull", 2, "scxpy_dsq_move_to_local() is not allowed in ops.running() (only in "
                    "ops.dispatch()); the kernel would eject the scheduler at run time (called from pull())")]
    assert kfuncs.violations("pull();", "dispatch", funcs) == []


def test_timer_message_names_the_timer():
    (_, _, msg), = kfuncs.violations("scxpy_dsq_insert(p, 1, 1, 0);", "timer")
    assert "not allowed in a BPF timer callback" in msg


def test_generated_check_follows_timer_callbacks():
    c = ("static int scxpy_timer_tick(void *map, int *key, struct bpf_timer *timer)\n{\n"
         "\tscxpy_dsq_move_to_local(1);\n\treturn 0;\n}\n")
    assert kfuncs.generated_violations(c) == ["scxpy_dsq_move_to_local() reachable from a BPF timer "
                                              "via scxpy_timer_tick()"]


# What each callback holds while it runs (kernel/sched/ext.c 6.12, SCX_CALL_OP*()),
# written out here so a change to the table in kfuncs.py has to be deliberate.
EXPECTED_HELD = {
    "select_cpu": {"enqueue", "select_cpu"}, "enqueue": {"enqueue"}, "dispatch": {"dispatch"},
    "cpu_release": {"cpu_release"},
    **{cb: {"rq-locked"} for cb in ("dequeue", "tick", "runnable", "running", "stopping", "quiescent",
                                    "yield", "core_sched_before", "set_weight", "set_cpumask",
                                    "update_idle", "cpu_acquire", "enable", "disable", "exit_task",
                                    "dump_cpu", "dump_task")},
    **{cb: set() for cb in ("init_task", "cgroup_init", "cgroup_exit", "cgroup_prep_move", "cgroup_move",
                            "cgroup_cancel_move", "cgroup_set_weight", "cpu_online", "cpu_offline",
                            "init", "exit", "dump", "timer")},
}


@pytest.mark.parametrize("callback", sorted(EXPECTED_HELD))
def test_each_callback_context(callback):
    assert set(kfuncs.HELD[callback]) == EXPECTED_HELD[callback]
    # What that means for the kfuncs raw C reaches for most.
    assert kfuncs.allowed("scxpy_dsq_insert", callback) == (callback in ("select_cpu", "enqueue", "dispatch"))
    assert kfuncs.allowed("scxpy_dsq_move_to_local", callback) == (callback == "dispatch")
    assert kfuncs.allowed("scxpy_dsq_move", callback) == (callback == "dispatch" or not EXPECTED_HELD[callback])
    assert kfuncs.allowed("scx_bpf_kick_cpu", callback)
