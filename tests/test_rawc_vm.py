"""Raw C in the guest (issue 20, item 6): a RawTimer that walks a queue and moves
tasks loads and works on every kernel (its body runs in an RCU read section),
and a verifier rejection of raw C names the policy file's own lines.

    scxpy vm --kernel-version X.Y --cpus 2 -- python -m pytest -m vm tests/test_rawc_vm.py
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

POLICIES = Path(__file__).resolve().parent / "policies"


def _compile(name: str):
    from scxpy import codegen
    from scxpy.build import vmlinux_h_for

    return codegen.compile(str(POLICIES / f"{name}.py"), str(vmlinux_h_for()))


@pytest.mark.cpus(2)
def test_timer_walks_a_queue_and_moves_tasks():
    from scxpy.runtime.scheduler import Scheduler

    c = _compile("timer_walk")
    s = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path)
    try:
        with s:
            r = subprocess.run(["stress-ng", "--cpu", str(2 * (os.cpu_count() or 2)), "--yield", "2",
                                "--timeout", "4s", "--temp-path", "/tmp", "--quiet"],
                               capture_output=True, text=True, timeout=120, cwd="/tmp")
            runs, moved = s.get("timer_runs"), s.get("timer_moved")
            info = s.exit_info
        assert r.returncode == 0, r.stdout + r.stderr
        assert info is None or not info.exited, f"ejected while the timer walked the queue: {info}"
        assert runs > 100, f"the timer ran {runs} times in 4 s (every 1 ms expected)"
        assert moved > 0, f"the timer ran {runs} times and moved no task"
        print(f"\ntimer_walk on {os.uname().release}: {runs} timer runs, {moved} tasks moved")
    finally:
        s.close()


def test_verifier_rejection_in_raw_c_names_the_policy_lines():
    from scxpy.runtime.errors import VerifierRejected
    from scxpy.runtime.scheduler import Scheduler

    c = _compile("raw_verifier_reject")
    policy = POLICIES / "raw_verifier_reject.py"
    refused = next(i for i, ln in enumerate(policy.read_text().splitlines(), 1) if "REFUSED" in ln)
    s = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path, policy_path=str(policy))
    try:
        with pytest.raises(VerifierRejected) as ei:
            s.load()
    finally:
        s.close()
    lines = ei.value.source_lines
    print("\n" + "\n".join(lines))
    assert any(re.search(rf"raw_verifier_reject\.py:{refused}: \*n \+= 1;", ln) for ln in lines), lines
    assert "source lines involved" in str(ei.value)


@pytest.mark.cpus(2)
def test_stopping_runnable_places_preempted_tasks():
    """A policy placing tasks by task.runnable (recorded in on_stopping) schedules a
    mixed load without ejection, and preempted tasks reach their own queue. (Its
    RawC("dump_task") with scxpy_dump() loads with it; that the dump shows the line
    is not checked here: the 6.12 guest has no SysRq to ask for a dump.)"""
    from scxpy.runtime.scheduler import Scheduler

    c = _compile("stop_and_dump")
    s = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path)
    try:
        with s:
            r = subprocess.run(["stress-ng", "--cpu", "4", "--yield", "2", "--switch", "2", "--timeout", "6s",
                                "--temp-path", "/tmp", "--quiet"], capture_output=True, text=True, timeout=120,
                               cwd="/tmp")
            info = s.exit_info
            stats = s.stats()
    finally:
        s.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert info is None or not info.exited, f"ejected: {info}"
    fast = sum(v for k, v in stats.items() if k.startswith("queue.fast.") and k.endswith("enqueued"))
    rest = sum(v for k, v in stats.items() if k.startswith("queue.rest.") and k.endswith("enqueued"))
    assert fast > 0 and rest > 0, f"preempted tasks should reach 'fast', others 'rest': {stats}"
