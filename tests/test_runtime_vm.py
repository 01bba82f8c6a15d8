"""Runtime, VM tier: a real sched_ext scheduler in the 6.12 guest.

Run inside the guest:
    scxpy vm --cpus 2 -- /work/main/.venv/bin/pytest -m vm tests/test_runtime_vm.py -p no:cacheprovider

The scheduler is tests/runtime_fixtures/minimal_sched.bpf.c (one shared
FIFO); .rodata knobs turn it into one that calls scx_bpf_error() or one
that never dispatches.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "runtime_fixtures"))
from build import MINIMAL_MANIFEST as MANIFEST, compile_fixture  # noqa: E402

from scxpy.runtime import sched_ext_sysfs  # noqa: E402
from scxpy.runtime.errors import SchedulerAlreadyAttached  # noqa: E402
from scxpy.runtime.exit_info import ExitKind  # noqa: E402
from scxpy.runtime.scheduler import Scheduler  # noqa: E402

pytestmark = pytest.mark.vm

STALL_TIMEOUT_MS = 2000


@pytest.fixture(scope="module")
def minimal_obj(vmlinux_h) -> Path:
    return compile_fixture("minimal_sched", vmlinux_h=vmlinux_h)


@pytest.fixture(scope="module")
def stall_obj(vmlinux_h) -> Path:
    return compile_fixture("minimal_sched", vmlinux_h=vmlinux_h,
                           defines={"FIXTURE_TIMEOUT_MS": STALL_TIMEOUT_MS, "FIXTURE_NAME": '"scxpy_stall"'})


wait_state = sched_ext_sysfs.wait_state


@pytest.fixture(autouse=True)
def sched_ext_idle():
    """Every test starts and ends with no scheduler attached."""
    assert wait_state("disabled") == "disabled", "a scheduler is still attached before the test"
    yield
    assert wait_state("disabled") == "disabled", "the test left a scheduler attached"


def ext_enabled(pid: int) -> int:
    for line in Path(f"/proc/{pid}/sched").read_text().splitlines():
        if line.startswith("ext.enabled"):
            return int(line.split(":")[1])
    raise AssertionError("no ext.enabled in /proc/PID/sched")


def test_attach_run_observe_detach(minimal_obj, record_property):
    t0 = time.monotonic()
    with Scheduler(minimal_obj, manifest=MANIFEST) as s:
        enabled_after = time.monotonic() - t0
        record_property("seconds_to_enabled", round(enabled_after, 3))
        print(f"\ncached object -> enabled: {enabled_after * 1e3:.0f} ms")
        st = s.sysfs_state()
        assert st.state == "enabled" and st.ops == "scxpy_min"
        assert s.exit_info.kind is ExitKind.NONE
        before = s.stats()

        # A workload's tasks run under sched_ext.
        worker = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.001)"])
        try:
            time.sleep(0.3)
            assert ext_enabled(worker.pid) == 1
        finally:
            worker.kill()
            worker.wait()
        after = s.stats()
        assert after["enqueue"] + after["direct"] > before["enqueue"] + before["direct"]
        assert after["dispatch"] > before["dispatch"]

        # A live tunable written now is what the BPF side uses next.
        s.set("slice", 3_000_000)
        deadline = time.monotonic() + 5
        while s.get("seen_slice_ns") != 3_000_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert s.get("seen_slice_ns") == 3_000_000
    info = s.exit_info
    assert info.kind is ExitKind.UNREG and info.clean, info
    assert sched_ext_sysfs.read_state().state == "disabled"
    s.close()


def test_explicit_attach_detach_and_costs(minimal_obj):
    s = Scheduler(minimal_obj, manifest=MANIFEST)
    s.load()
    s.attach()
    try:
        worker = subprocess.Popen(["sh", "-c", "while :; do :; done"])
        try:
            costs = {c.callback: c for c in s.costs(1.0)}
        finally:
            worker.kill()
            worker.wait()
    finally:
        info = s.detach()
    assert info.kind is ExitKind.UNREG
    print("\n" + "\n".join(f"{c.callback}: {c.calls} calls, {c.mean_ns:.0f} ns mean" for c in costs.values()))
    assert {"enqueue", "dispatch", "select_cpu", "init", "exit"} <= set(costs)
    assert costs["dispatch"].calls > 0 and costs["dispatch"].mean_ns > 0
    s.close()


def test_second_scheduler_is_refused_naming_the_first(minimal_obj, stall_obj):
    with Scheduler(minimal_obj, manifest=MANIFEST):
        other = Scheduler(stall_obj)
        with pytest.raises(SchedulerAlreadyAttached) as e:
            other.attach()
        assert "'scxpy_min'" in str(e.value) and e.value.attached == "scxpy_min"
        other.close()


def test_scx_bpf_error_is_reported_as_error_bpf(minimal_obj):
    s = Scheduler(minimal_obj, manifest=MANIFEST)
    s.configure(error_after=30)
    s.attach()
    # Hogs make sure enqueues happen (see test_cli_reports_ejection_with_nonzero_status).
    hogs = subprocess.Popen(["stress-ng", "--cpu", str(2 * (os.cpu_count() or 1)), "--timeout", "5s",
                             "--temp-path", "/tmp", "--quiet"])
    try:
        info = s.wait(timeout=20)
    finally:
        s.detach()
        hogs.wait()
    assert info is not None, "scheduler did not exit after scx_bpf_error()"
    assert info.kind is ExitKind.ERROR_BPF and info.is_error
    assert "fixture error after 30 enqueues" in info.msg
    s.close()


def test_stall_is_ejected_by_the_watchdog_and_guest_recovers(stall_obj, minimal_obj):
    s = Scheduler(stall_obj)
    s.configure(never_dispatch=True)
    s.load()
    t0 = time.monotonic()
    s.attach()
    try:
        info = s.wait(timeout=STALL_TIMEOUT_MS / 1000 + 10)
        elapsed = time.monotonic() - t0
    finally:
        s.detach()
    assert info is not None and info.kind is ExitKind.ERROR_STALL, info
    print(f"\nstall ejected after {elapsed:.2f} s: {info}")
    # The kernel's debug dump came along. When the stall names a task ("comm[pid] failed
    # to run for"; the other form is "watchdog failed to check in"), the dump shows it.
    assert "\nCPU states\n" in info.dump, info.dump[:3000]
    if info.stalled_task is not None:
        about = info.dump_about_task(*info.stalled_task)
        assert about and any("dsq_id=" in line for line in about), info.dump[:3000]
    assert elapsed <= STALL_TIMEOUT_MS / 1000 + 2
    s.close()
    # The guest is healthy: processes run, and a scheduler attaches again.
    assert subprocess.run(["true"], timeout=10).returncode == 0
    with Scheduler(minimal_obj, manifest=MANIFEST) as again:
        assert again.sysfs_state().state == "enabled"
    assert again.exit_info.kind is ExitKind.UNREG


LOADER = """
import sys, time
from scxpy.runtime.scheduler import Scheduler
s = Scheduler(sys.argv[1])
s.attach()
print("attached", flush=True)
time.sleep(600)
"""


def test_sigkill_of_the_loader_reverts_to_fair(minimal_obj):
    p = subprocess.Popen([sys.executable, "-c", LOADER, str(minimal_obj)], stdout=subprocess.PIPE,
                         text=True, cwd=REPO)
    try:
        assert p.stdout.readline().strip() == "attached"
        assert sched_ext_sysfs.read_state().state == "enabled"
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    # The kernel drops the struct_ops link with the last fd: back to the fair class.
    assert wait_state("disabled", timeout=10) == "disabled"


def _scxpy(*argv, **kw):
    return subprocess.Popen([sys.executable, "-m", "scxpy", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, **kw)


@pytest.fixture
def manifest_file(scratch) -> Path:
    path = scratch / "minimal.json"
    MANIFEST.write(path)
    return path


def test_cli_runs_workload_and_detaches_cleanly(minimal_obj, manifest_file):
    p = _scxpy("run", str(minimal_obj), "--manifest", str(manifest_file), "--stats", "0.5",
               "--set", "slice=2ms", "--", "sh", "-c", "sleep 1; grep ext.enabled /proc/self/sched")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "scxpy_min attached" in out and "exited: UNREG" in out
    assert [line for line in out.splitlines() if line.startswith("ext.enabled")][0].split(":")[1].strip() == "1"
    # the stats table: a row per counter, and the totals at the end
    assert re.search(r"^enqueue +\S+$", out, re.M) and "totals after" in out, out


def test_cli_reports_ejection_with_nonzero_status(minimal_obj, manifest_file, scratch):
    # More runnable hogs than CPUs: slices expire and tasks are enqueued
    # whatever the guest's CPU count (wakeups onto idle CPUs are dispatched
    # directly and never reach enqueue, so sleepers alone may fall short).
    dump = scratch / "ejected.dump"
    p = _scxpy("run", str(minimal_obj), "--manifest", str(manifest_file), "--set", "error_after=20",
               "--exit-dump", str(dump), "--", "stress-ng", "--cpu", str(2 * (os.cpu_count() or 1)),
               "--timeout", "3s", "--temp-path", "/tmp", "--quiet")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, (out, err)
    assert "ejected" in err and "ERROR_BPF" in err and "fixture error after 20 enqueues" in err
    # The kernel's own debug dump, named on one line and kept whole in the file:
    # scx_dump_state's header ("comm[pid] triggered exit kind 1025") and its CPU section.
    assert f"scxpy: the kernel's debug dump: {dump}" in err.splitlines(), err
    text = dump.read_text()
    assert re.search(r"\[\d+\] triggered exit kind 1025", text) and "\nCPU states\n----------\n" in text, text[:2000]
    assert "fixture error after 20 enqueues" in text and len(err) < 4000, "the dump stays off the terminal"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_signal_detaches_cleanly(minimal_obj, manifest_file, sig):
    p = _scxpy("run", str(minimal_obj), "--manifest", str(manifest_file))
    try:
        line = p.stdout.readline()
        assert "attached" in line
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "exited: UNREG" in out
    assert sched_ext_sysfs.read_state().state == "disabled"


def test_verifier_rejection_of_a_scheduler_names_c_and_policy_lines(vmlinux_h):
    from scxpy.runtime.errors import VerifierRejected

    fixtures = REPO / "tests" / "runtime_fixtures"
    obj = compile_fixture("minimal_sched", vmlinux_h=vmlinux_h, defines={"FIXTURE_BAD_DEREF": 1})
    s = Scheduler(obj, c_path=fixtures / "minimal_sched.bpf.c", policy_path=fixtures / "rejected_policy.py")
    with pytest.raises(VerifierRejected) as e:
        s.load()
    err = e.value
    assert "program 'min_enqueue'" in str(err) and "map_value_or_null" in err.log
    assert any("n += *v;" in line for line in err.source_lines), err.source_lines
    assert any("rejected_policy.py:3: counter = values[0]" in line for line in err.source_lines)
    s.close()


def test_failing_init_is_an_attach_error_with_the_kernel_reason(minimal_obj):
    from scxpy.runtime.errors import AttachError

    s = Scheduler(minimal_obj, manifest=MANIFEST)
    s.configure(init_ret=-22)
    with pytest.raises(AttachError) as e:
        s.attach()
    msg = str(e.value)
    print("\n" + msg)
    assert "attaching scxpy_min failed" in msg and "ops.init() failed (-22)" in msg
    assert not s.attached and sched_ext_sysfs.read_state().state == "disabled"
    s.close()
