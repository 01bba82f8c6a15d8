"""Userspace policies, host tier: the BPF half's C, the shared record layouts,
the policy API, and how a failing method is reported. Loading and scheduling
are tested in the guest (tests/test_userspace_vm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scxpy import build, schedulers
from scxpy.codegen import userspace as cu
from scxpy.codegen.errors import PolicyError
from scxpy.runtime import user_rings as R
from scxpy.runtime.user_loop import MethodHung, _method_failed
from scxpy.runtime.userspace import Decision, Task, UserPolicyError, UserScheduler, load_user_policy

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "tests" / "user_policies"


def _spec(**kw):
    base = dict(name="uvtime", description="Weighted fair.\nMore words.", source=str(REPO / "schedulers" / "uvtime.py"),
                line=17, slice_ns=5_000_000, timeout_ms=10_000)
    return cu.UserCoreSpec(**{**base, **kw})


def test_render_is_deterministic_and_has_both_rings():
    c = cu.render(_spec())
    assert c == cu.render(_spec())
    for needle in ("BPF_MAP_TYPE_RINGBUF", "BPF_MAP_TYPE_USER_RINGBUF", "bpf_user_ringbuf_drain",
                   'SEC("syscall")', "bpf_timer_start", '.name\t\t= "uvtime"', ".timeout_ms\t= 10000",
                   "Weighted fair.", "schedulers/uvtime.py:17"):
        assert needle in c, needle


@pytest.mark.parametrize("kw, words", [
    (dict(name="bad name"), "letters, digits"),
    (dict(slice_ns=10), "slice = 10 ns"),
    (dict(timeout_ms=2000), "timeout = 2000 ms"),
    (dict(timeout_ms=60_000), "at most 30 s"),
])
def test_bad_settings_are_policy_errors_at_the_class_line(kw, words):
    with pytest.raises(PolicyError, match=words) as e:
        cu.render(_spec(**kw))
    assert "uvtime.py:17" in str(e.value)


def test_manifest_names_the_policy_file_and_counters():
    m = cu.manifest(_spec())
    assert m.source.endswith("schedulers/uvtime.py")
    assert m.stats.names == cu.STATS and m.stats.row_bytes == 64


def test_record_layouts_match_the_header():
    assert R.TASK.size == R._FFI.sizeof("struct scxpy_user_task") == 56
    assert R.BATCH_BYTES == 8 + R.BATCH * 16
    assert R.SHARED.size == 8 * len(R.SHARED_FIELDS)


def test_stock_userspace_policies_resolve_and_dsl_ones_do_not():
    for name in schedulers.USERSPACE:
        cls = build.user_policy_class(schedulers.policy_file(name))
        assert cls is not None and issubclass(cls, UserScheduler) and cls.name == name
    assert build.user_policy_class(schedulers.policy_file("fifo")) is None


def test_durations_become_ns_and_batches_call_the_methods():
    cls = load_user_policy(schedulers.policy_file("uvtime"))
    assert cls.slice == 5_000_000 and cls.timeout == 10_000_000_000
    p = cls(2)
    tasks = [Task(10 + i, 0, 2, 1, 100, 1_000_000 * i, i, "t") for i in range(5)]
    p.enqueue_many(tasks)
    out = p.dispatch_many(3)
    assert [t.pid for t in out] == [10, 11, 12] and len(p) == 2


def test_bad_duration_is_refused():
    with pytest.raises(UserPolicyError, match="slice = 'soon' is not a duration"):
        type("Bad", (UserScheduler,), {"slice": "soon"})


def test_failed_method_shows_only_the_policy_frames():
    cls = load_user_policy(POLICIES / "raises.py")
    p = cls(2)
    p.calls = 100
    try:
        p.dispatch()
    except ZeroDivisionError as e:
        err = _method_failed(cls, "dispatch", e, 1.0)
    line = next(i for i, t in enumerate((POLICIES / "raises.py").read_text().splitlines(), 1) if "BUG-HERE" in t)
    assert f'raises.py", line {line}, in dispatch' in err.traceback
    assert err.traceback.rstrip().endswith("ZeroDivisionError: integer division or modulo by zero")
    assert f"raises.py:{line}" in str(err)
    hung = _method_failed(cls, "enqueue", MethodHung(), 0.5)
    assert "ran longer than method_timeout = 0.5 s" in str(hung)


def test_decision_defaults():
    t = Task(1, 0, 1, 0, 100, 0, 0, "x")
    assert Decision(t) == (t, -1, None)


def test_compiles_with_clang():
    compiled = build.compile_user_policy(load_user_policy(schedulers.policy_file("ushortest")))
    assert Path(compiled.obj_path).is_file() and compiled.manifest.name == "ushortest"
