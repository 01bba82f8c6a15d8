"""Userspace policies, VM tier: they schedule, and they cannot hang the machine.

Run inside the guest:
    scxpy vm --kernel-version 6.12 --cpus 2 -- \\
        /work/main/.venv/bin/python -m pytest -m vm -p no:cacheprovider tests/test_userspace_vm.py

Each test runs `python -m scxpy run POLICY.py -- WORKLOAD` as a user would:
- the stock policies run stress-ng and hackbench to the end and detach cleanly;
- a policy method that raises, or hangs, ends the run with the policy's own
  traceback (its file and line) and every task back in the fair class;
- SIGKILL of the scheduler process, and SIGSTOP of it (the loop stuck outside
  Python), return sched_ext to "disabled" within the watchdog timeout;
- CPU hogs given 2 s slices do not starve the scheduler process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scxpy.runtime import sched_ext_sysfs

pytestmark = pytest.mark.vm

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "tests" / "user_policies"
NCPUS = os.cpu_count() or 1
WATCHDOG_S = 10  # UserScheduler.timeout's default


@pytest.fixture(autouse=True)
def sched_ext_idle():
    assert sched_ext_sysfs.wait_state("disabled") == "disabled", "a scheduler is attached before the test"
    yield
    assert sched_ext_sysfs.wait_state("disabled") == "disabled", "the test left a scheduler attached"


def scxpy_run(policy, *workload, timeout=240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "scxpy", "run", str(policy)]
    if workload:
        cmd += ["--", *workload]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/tmp")
    print(res.stdout, res.stderr, sep="\n")
    return res


def _report(out: str) -> dict[str, float]:
    m = re.search(r"(\d+) tasks, (\d+) decisions .*longest gap between turns (\d+) ms", out)
    assert m, f"no loop report in:\n{out}"
    return {"tasks": int(m.group(1)), "decisions": int(m.group(2)), "gap_ms": int(m.group(3))}


@pytest.mark.parametrize("policy", ["uvtime", "ushortest"])
@pytest.mark.parametrize("workload", [
    ["stress-ng", "--cpu", str(2 * NCPUS), "--switch", "2", "--timeout", "4s"],
    ["hackbench", "-g", "2", "-l", "200"],
])
def test_stock_policy_schedules_workload(policy, workload):
    res = scxpy_run(policy, *workload)
    assert res.returncode == 0, res.stderr
    assert "exited: UNREG" in res.stdout
    rep = _report(res.stdout)
    assert rep["decisions"] > 50, "Python decided almost nothing: the tasks did not reach it"


def test_set_is_refused_with_the_reason():
    res = subprocess.run([sys.executable, "-m", "scxpy", "run", "uvtime", "--set", "slice=1", "--", "true"],
                         capture_output=True, text=True, timeout=240, cwd="/tmp")
    assert res.returncode == 2 and "--set: a userspace policy has no tunables" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_counters_are_shown_while_it_runs(tmp_path):
    """--stats draws the BPF half's counters between turns; --stats-json keeps them."""
    js = tmp_path / "stats.json"
    res = subprocess.run([sys.executable, "-m", "scxpy", "run", "uvtime", "--stats", "1", "--stats-json", str(js),
                          "--", "stress-ng", "--cpu", str(2 * NCPUS), "--timeout", "4s"],
                         capture_output=True, text=True, timeout=240, cwd="/tmp")
    print(res.stdout, res.stderr, sep="\n")
    assert res.returncode == 0, res.stderr
    assert "(per second)" in res.stdout and "to_user" in res.stdout
    records = [json.loads(line) for line in js.read_text().splitlines()]
    assert len(records) >= 3 and records[-1]["totals"]["decisions"] > 50, records[-1]
    assert _report(res.stdout)["decisions"] > 50


def test_raising_method_shows_its_traceback_and_detaches():
    res = scxpy_run(POLICIES / "raises.py", "stress-ng", "--cpu", str(2 * NCPUS), "--timeout", "3s")
    assert res.returncode == 1
    line = next(i for i, t in enumerate((POLICIES / "raises.py").read_text().splitlines(), 1) if "BUG-HERE" in t)
    assert "Traceback (most recent call last)" in res.stderr
    assert f'raises.py", line {line}, in dispatch' in res.stderr
    assert "ZeroDivisionError" in res.stderr
    assert "user_loop.py" not in res.stderr, "our frames are not the user's business"
    assert "every task is back in the fair class" in res.stderr
    assert "stress-ng" in res.stdout + res.stderr and "successful run completed" in res.stdout + res.stderr


def test_hanging_method_is_stopped_with_its_line():
    t0 = time.monotonic()
    res = scxpy_run(POLICIES / "hangs.py", "stress-ng", "--cpu", str(2 * NCPUS), "--timeout", "3s")
    assert res.returncode == 1
    line = next(i for i, t in enumerate((POLICIES / "hangs.py").read_text().splitlines(), 1) if "HANG-HERE" in t)
    assert f'hangs.py", line {line}, in enqueue' in res.stderr
    assert "ran longer than method_timeout = 0.5 s" in res.stderr
    assert time.monotonic() - t0 < 120


def _start_and_wait_enabled(policy) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "scxpy", "run", str(policy)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd="/tmp")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = sched_ext_sysfs.read_state()
        if st.state == "enabled" and st.ops == "uvtime":
            return proc
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"uvtime was not enabled within 120 s (state {sched_ext_sysfs.read_state()}):\n{proc.stdout.read()}")


def _time_to_disabled(limit: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if sched_ext_sysfs.read_state().state == "disabled":
            return time.monotonic() - t0
        time.sleep(0.05)
    return float("inf")


def test_sigkill_returns_every_task_to_fair_within_watchdog():
    proc = _start_and_wait_enabled("uvtime")
    hogs = subprocess.Popen(["stress-ng", "--cpu", str(2 * NCPUS), "--timeout", "60s"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        proc.kill()
        took = _time_to_disabled(WATCHDOG_S)
        print(f"SIGKILL -> sched_ext disabled in {took:.2f} s")
        assert took < WATCHDOG_S
        proc.wait()
        # the machine still runs new work (fair class)
        assert subprocess.run(["true"], timeout=30).returncode == 0
    finally:
        hogs.kill()
        hogs.wait()


def test_stopped_loop_ends_scheduler_with_reason():
    proc = _start_and_wait_enabled("uvtime")
    hogs = subprocess.Popen(["stress-ng", "--cpu", str(2 * NCPUS), "--timeout", "60s"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        os.kill(proc.pid, signal.SIGSTOP)
        took = _time_to_disabled(WATCHDOG_S)
        os.kill(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=60)
        print(out, f"SIGSTOP -> sched_ext disabled in {took:.2f} s", sep="\n")
        assert took < WATCHDOG_S
        assert proc.returncode != 0
        assert "its Python loop did not run for over 5000 ms" in out
    finally:
        hogs.kill()
        hogs.wait()


def test_scheduler_process_not_starved_by_long_slices():
    res = scxpy_run(POLICIES / "long_slices.py", "stress-ng", "--cpu", str(2 * NCPUS), "--timeout", "6s")
    assert res.returncode == 0, res.stderr
    rep = _report(res.stdout)
    # Hogs hold CPUs for 2 s slices; a starved loop would wait about that long. It must turn
    # within the BPF half's stale limit (past it, tasks run FIFO without the policy).
    stale_ms = 500  # codegen/userspace.py: stale_ms
    assert rep["gap_ms"] < stale_ms, f"the scheduler process waited {rep['gap_ms']} ms for a CPU"
    assert rep["decisions"] > 0


@pytest.mark.cpus(2)
def test_cpu_hotplug_restarts_it_and_the_loop_goes_on():
    """A CPU going offline and back makes the kernel exit the scheduler asking for a restart
    (the BPF half has no cpu_online/offline); `scxpy run` attaches it again and the same loop
    goes on deciding."""
    online = f"/sys/devices/system/cpu/cpu{NCPUS - 1}/online"
    res = scxpy_run("uvtime", "sh", "-c", f"stress-ng --cpu {2 * NCPUS} --timeout 8s --quiet & sleep 2; "
                    f"echo 0 > {online}; sleep 2; echo 1 > {online}; wait $!")
    assert res.returncode == 0, res.stderr
    assert len(re.findall(r"for CPU hotplug: restarted it in [\d.]+ s", res.stdout)) >= 1, res.stdout
    assert re.search(r"uvtime was restarted (once|\d+ times)", res.stdout), res.stdout
    assert "exited: UNREG" in res.stdout and "ejected" not in res.stdout + res.stderr
    assert _report(res.stdout)["decisions"] > 50
