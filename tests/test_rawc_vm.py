"""Raw C in the guest (issue 20, item 6): a RawTimer that walks a queue and moves
tasks loads and works on every kernel (its body runs in an RCU read section),
and a verifier rejection of raw C names the policy file's own lines.

    scxpy vm --kernel-version X.Y --cpus 2 -- python -m pytest -m vm tests/test_rawc_vm.py
"""

from __future__ import annotations

import os
import re
import subprocess
import time
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
def test_stopping_runnable_and_dump_lines():
    """A policy placing tasks by task.runnable (on_stopping) schedules a mixed load without
    ejection, and its scxpy_dump() lines appear in the kernel's dump (SysRq-D)."""
    from scxpy.runtime.scheduler import Scheduler

    c = _compile("stop_and_dump")
    s = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path)
    try:
        with s:
            load = subprocess.Popen(["stress-ng", "--cpu", "4", "--yield", "2", "--switch", "2", "--timeout", "6s",
                                     "--temp-path", "/tmp", "--quiet"], cwd="/tmp")
            time.sleep(2)
            subprocess.run(["dmesg", "-C"], check=True, timeout=30)
            Path("/proc/sysrq-trigger").write_text("D")
            time.sleep(1)
            dmesg = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30).stdout
            assert load.wait(timeout=120) == 0
            info = s.exit_info
        stats = s.stats()
    finally:
        s.close()
    assert info is None or not info.exited, f"ejected: {info}"
    assert re.search(r"scxpy-dump-test pid \d+ slice \d+", dmesg), dmesg[-3000:]
    fast = sum(v for k, v in stats.items() if k.startswith("queue.fast.") and k.endswith("enqueued"))
    assert fast > 0, f"no task was preempted-and-requeued to the fast queue: {stats}"
