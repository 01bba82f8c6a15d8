"""Boot-tier tests: each boots the default guest (Debian's prebuilt 7.3) from the host through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.boot


def scxpy_vm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scxpy", "vm", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_guest_runs_the_default_kernel_with_sched_ext_disabled(kernel):
    proc = scxpy_vm("--", "sh", "-c", "uname -r; cat /sys/kernel/sched_ext/state; echo in=$SCXPY_IN_GUEST")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[0].startswith("7.3.") and lines[0].endswith("-amd64"), proc.stdout
    assert lines[0] == kernel.release
    assert "disabled" in lines
    assert "in=1" in lines


def test_exit_status_comes_back(kernel):
    # One boot per status keeps each case independent: 0, 1 and 7.
    for status in (0, 1, 7):
        proc = scxpy_vm("--", "sh", "-c", f"exit {status}")
        assert proc.returncode == status, (status, proc.stderr)


def test_scratch_is_shared_back(kernel, tmp_path):
    proc = scxpy_vm("--scratch", str(tmp_path), "--", "sh", "-c", 'echo hello > "$SCXPY_SCRATCH/out"')
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out").read_text() == "hello\n"


def test_timeout_kills_the_guest(kernel, tmp_path):
    start = time.monotonic()
    proc = scxpy_vm("--timeout", "20", "--scratch", str(tmp_path), "--", "sleep", "600")
    elapsed = time.monotonic() - start
    assert proc.returncode == 124
    assert "did not finish within --timeout 20 s" in proc.stderr
    assert elapsed < 20 + 8, elapsed
    # No QEMU of ours left behind (its command line names our scratch dir).
    left = subprocess.run(["pgrep", "-f", f"qemu-system-x86_64.*{tmp_path}"], capture_output=True)
    assert left.returncode == 1, left.stdout


def test_sigterm_takes_the_guest_down(kernel, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "scxpy", "vm", "--scratch", str(tmp_path), "--",
                             "sh", "-c", 'touch "$SCXPY_SCRATCH/booted"; sleep 600'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (tmp_path / "booted").exists():
        assert time.monotonic() < deadline, "guest did not boot"
        time.sleep(0.5)
    proc.terminate()
    assert proc.wait(timeout=15) != 0
    left = subprocess.run(["pgrep", "-f", f"qemu-system-x86_64.*{tmp_path}"], capture_output=True)
    assert left.returncode == 1, left.stdout


def test_output_survives_redirection_to_files(kernel, tmp_path):
    # QEMU must not truncate a redirected stdout/stderr.
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "w") as o, open(err, "w") as e:
        status = subprocess.call([sys.executable, "-m", "scxpy", "vm", "--", "sh", "-c", "echo to-out; echo to-err >&2"],
                                 stdout=o, stderr=e)
    assert status == 0
    assert out.read_text() == "to-out\n"
    assert "to-err" in err.read_text()


def test_long_command_lines_reach_the_guest(kernel):
    # Far past the kernel command line's 2048 bytes, where virtme-ng's --exec is cut.
    words = [f"word{i:04d}" for i in range(600)]
    proc = scxpy_vm("--", "sh", "-c", 'echo "$#"; echo "$1 ${600}"', "sh", *words)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["600", "word0000 word0599"]


def test_read_only_workdir_is_writable_in_the_guest(kernel, tmp_path):
    """The host's root is read-only in the guest; the working directory becomes an
    overlay (writes stay in the guest), while mounts below it (the shared cache,
    the scratch directory) stay the real, shared ones."""
    from scxpy.base.cache import cache_root

    cwd = cache_root().resolve().parent  # holds the cache: a shared mount below the workdir
    scratch = cache_root().resolve() / "scratch" / f"boot-test-{os.getpid()}"
    probe = f"scxpy-workdir-probe-{os.getpid()}"
    try:
        proc = subprocess.run(
            # -P: the cwd holds a directory named scxpy (the cache), not our package.
            [sys.executable, "-P", "-m", "scxpy", "vm", "--scratch", str(scratch), "--", "sh", "-c",
             f'echo written > {probe} && cat {probe} && echo shared > "$SCXPY_SCRATCH/through"'],
            capture_output=True, text=True, timeout=300, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[-1] == "written"
        assert not (cwd / probe).exists(), "a guest write to the workdir reached the host"
        assert (scratch / "through").read_text() == "shared\n"
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def test_run_vm_from_the_repo_with_a_workload_that_writes_its_cwd(kernel):
    """The first command a user types: stress-ng writes its temp files to '.' (the repo)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-m", "scxpy", "run", "--vm", "fifo", "--cpus", "2", "--",
                           "stress-ng", "--cpu", "2", "--timeout", "3s"],
                          capture_output=True, text=True, timeout=300, cwd=repo)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "temp-path" not in proc.stdout + proc.stderr
    assert "successful run completed" in proc.stdout + proc.stderr
    assert "fifo exited: UNREG" in proc.stdout


def test_boot_failure_is_not_reported_as_the_commands_status(kernel):
    # 80 MB is too little for the kernel to reach the command: it panics out of memory while booting.
    proc = scxpy_vm("--memory", "80M", "--", "true")
    assert proc.returncode not in (0, 255), proc.returncode
    assert "died before the command started" in proc.stderr and "not the command's exit status" in proc.stderr
    assert "last console lines:" in proc.stderr and "Out of memory" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_guest_that_stops_making_progress_is_ended_and_reported(kernel, tmp_path):
    # The command hides the guest's signs of life (a tmpfs over the shared scratch directory):
    # to the host that is a guest that stopped. Its kernel still answers sysrq.
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "scxpy", "vm", "--timeout", "600", "--scratch", str(tmp_path), "--",
         "sh", "-c", 'mount -t tmpfs hide "$SCXPY_SCRATCH"; sleep 900'],
        capture_output=True, text=True, timeout=500, env={**os.environ, "SCXPY_HANG_AFTER": "20"})
    elapsed = time.monotonic() - start
    assert proc.returncode == 124
    assert "guest hung after" in proc.stderr and "no sign of life from it for" in proc.stderr, proc.stderr
    assert "sysrq dump of blocked tasks" in proc.stderr and "Show Blocked State" in proc.stderr, proc.stderr
    assert "whole console log:" in proc.stderr
    assert elapsed < 400, elapsed  # ended at the hang, not at --timeout
    left = subprocess.run(["pgrep", "-f", f"qemu-system-x86_64.*{tmp_path}"], capture_output=True)
    assert left.returncode == 1, left.stdout
