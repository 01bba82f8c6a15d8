"""Cgroup shares, VM tier: the stock `cgroup` policy attached in the guest (6.12, 7.x).

    scxpy vm --cpus 2 -- /work/main/.venv/bin/python -m pytest -m vm tests/test_cgroup_vm.py

Each test runs one CPU hog per vCPU in every cgroup involved and measures
each cgroup's CPU time (cpu.stat usage_usec) over a window: shares are
relative, so the emulator's speed does not enter them. The tolerance,
±TOLERANCE_PTS points, is what the bench (`scxpy bench -w cgroup-shares`,
docs/cgroup-results.md) shows the emulator holds for this policy and for
the fair class, with a margin for the shorter windows used here; a policy
that ignored weights (50/50) fails every check.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from scxpy.bench import cgroups
from scxpy.runtime import sched_ext_sysfs

pytestmark = pytest.mark.vm

TOLERANCE_PTS = 7.0
SETTLE_S, MEASURE_S = 1.0, 3.0
NCPUS = os.cpu_count() or 1
TOP = "scxpy-test-cg"


@pytest.fixture(autouse=True)
def sched_ext_idle():
    assert sched_ext_sysfs.wait_state("disabled") == "disabled", "a scheduler is still attached before the test"
    yield
    assert sched_ext_sysfs.wait_state("disabled") == "disabled", "the test left a scheduler attached"


@pytest.fixture
def top():
    cg = cgroups.create(TOP)
    yield cg
    cg.remove()


@contextlib.contextmanager
def cgroup_policy():
    """The stock cgroup policy attached; its exit info checked after."""
    from scxpy.build import compile_policy_spec
    from scxpy.runtime.exit_info import ExitKind
    from scxpy.runtime.scheduler import Scheduler

    c = compile_policy_spec("cgroup")
    s = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path)
    try:
        s.attach()
        yield s
        still = s.sysfs_state().ops == "cgroup"
        info = s.detach()
        assert still, f"the policy was ejected during the test: {info}"
        assert info is not None and info.kind == ExitKind.UNREG, info
    finally:
        s.close()


@pytest.fixture
def attached():
    with cgroup_policy() as s:
        yield s


def _shares(groups: dict[str, cgroups.Cgroup]) -> dict[str, float]:
    with cgroups.Hogs() as hogs:
        for g in groups.values():
            hogs.start(g, NCPUS)
        time.sleep(SETTLE_S)
        got = cgroups.shares(list(groups.values()), MEASURE_S)
    return dict(zip(groups, got))


def test_sibling_weights_100_300_share_25_75(attached, top):
    s = _shares({"lo": top.child("lo", 100), "hi": top.child("hi", 300)})
    print(f"\nsiblings 100/300: lo {s['lo']:.1f}%, hi {s['hi']:.1f}%")
    assert abs(s["lo"] - 25.0) <= TOLERANCE_PTS, s
    assert abs(s["hi"] - 75.0) <= TOLERANCE_PTS, s


def test_nested_leaves_get_the_flattened_share(attached, top):
    top.child("A", 100)
    s = _shares({"A1": top.child("A/A1", 100), "A2": top.child("A/A2", 300), "B": top.child("B", 100)})
    print(f"\nnested A:100{{A1:100, A2:300}}, B:100: {s}")
    for leaf, expected in {"A1": 12.5, "A2": 37.5, "B": 50.0}.items():
        assert abs(s[leaf] - expected) <= TOLERANCE_PTS, (leaf, s)


def test_a_weight_change_holds_within_a_second(attached, top):
    lo, hi = top.child("lo", 100), top.child("hi", 100)
    with cgroups.Hogs() as hogs:
        hogs.start(lo, NCPUS)
        hogs.start(hi, NCPUS)
        time.sleep(SETTLE_S)
        before = cgroups.shares([lo, hi], 1.5)
        hi.set_weight(300)
        time.sleep(1.0)
        after = cgroups.shares([lo, hi], 2.0)
    print(f"\nreweight: before {before}, from 1 s after the change {after}")
    assert abs(before[1] - 50.0) <= TOLERANCE_PTS, before
    assert abs(after[1] - 75.0) <= TOLERANCE_PTS, after


def _runtime_ns(pids: list[int]) -> dict[int, int]:
    return {pid: int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) for pid in pids}


def test_a_cgroup_removed_while_its_tasks_are_queued_loses_no_task(attached, top):
    """Hogs (two per vCPU: always some queued) leave a cgroup, which is removed at
    once; then a cgroup is killed and removed with its tasks queued. Every task that
    moved keeps running, and the scheduler stays attached (checked by the fixture)."""
    doomed, home = top.child("doomed", 300), top.child("home", 100)
    with cgroups.Hogs() as hogs:
        hogs.start(doomed, 2 * NCPUS)
        time.sleep(SETTLE_S)
        pids = doomed.pids()
        assert len(pids) == 2 * NCPUS
        for pid in pids:
            home.move(pid)
        doomed.remove()
        assert not doomed.path.exists()
        r0 = _runtime_ns(pids)
        time.sleep(2.0)
        r1 = _runtime_ns(pids)
        stuck = [pid for pid in pids if r1[pid] <= r0[pid]]
        assert not stuck, f"tasks that moved out of the removed cgroup never ran again: {stuck}"
        # Killed and removed with its tasks queued: the others go on.
        victim = top.child("victim", 100)
        hogs.start(victim, 2 * NCPUS)
        time.sleep(0.5)
        victim.remove()
        r2 = _runtime_ns(pids)
        time.sleep(1.0)
        r3 = _runtime_ns(pids)
        assert all(r3[pid] > r2[pid] for pid in pids), "the survivors stopped running after the removal"


def _passes_cpu_max() -> bool:
    from scxpy.runtime.ops_members import kernel_ops_members

    return "cgroup_set_bandwidth" in (kernel_ops_members() or ())


# The emulator runs the vCPUs in turn, so wall-clock CPU time (what cpu.max and
# usage_usec count) is charged in lumps: the fair class's own cpu.max misses its
# target here too. The policy is held to the fair class's figure, measured in the
# same test; a policy that ignored cpu.max gives the cgroup all CPUs (100 %).
CPU_MAX_TOLERANCE_PTS = 15.0


def _capped_share(top) -> float:
    """Percent of all CPUs used by a cgroup with one hog per vCPU under cpu.max of half of them."""
    capped = top.child("capped")
    capped.set_max(0.5 * NCPUS)
    with cgroups.Hogs() as hogs:
        hogs.start(capped, NCPUS)
        time.sleep(SETTLE_S)
        u0, t0 = capped.usage_us(), time.monotonic()
        time.sleep(MEASURE_S)
        used, wall = capped.usage_us() - u0, time.monotonic() - t0
    capped.remove()
    return 100.0 * used / (wall * 1e6 * NCPUS)


def test_cpu_max_is_enforced_where_the_kernel_passes_it_and_said_where_not(top):
    """Where the kernel passes cpu.max (ops.cgroup_set_bandwidth, 6.17+), a cgroup capped
    at half the CPUs gets what the fair class gives it (measured first, in the same
    guest), within CPU_MAX_TOLERANCE_PTS, and attach says nothing about cpu.max.
    Elsewhere (6.12) attach says in one line that the kernel does not pass it, naming
    the version that does."""
    if not _passes_cpu_max():
        with cgroup_policy() as s:
            lines = [n for n in s.notices if n.startswith("cpu.max")]
        assert len(lines) == 1 and "6.17" in lines[0], s.notices
        print(f"\n{lines[0]}")
        return
    fair = _capped_share(top)
    with cgroup_policy() as s:
        assert not [n for n in s.notices if n.startswith("cpu.max")], s.notices
        policy = _capped_share(top)
    print(f"\ncpu.max at half of {NCPUS} CPUs: fair {fair:.1f} %, cgroup policy {policy:.1f} %")
    assert abs(policy - fair) <= CPU_MAX_TOLERANCE_PTS, (policy, fair)
