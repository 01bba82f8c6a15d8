"""`scxpy dev` end to end in one guest boot: save -> recompiled and swapped, a broken
save reported at its file:line with the previous version still running, and no
QEMU left once the dev process is killed outright (SIGKILL: no atexit, no handler;
the reaper must do it)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

POLICY = '''"""Test policy for scxpy dev: one FIFO."""
from scxpy import Dsq, Rule, Scheduler, ms


class DevTest(Scheduler):
    name = "devtest"
    queue = Dsq("fifo")
    rules = [Rule(queue=queue, slice=SLICE_MS * ms)]
'''


def session_members(sid: int) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:  # after ")": state ppid pgrp session
            out.append(int(pid))
    return out


def children(pid: int) -> list[int]:
    out = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p))
        except (OSError, ValueError):
            continue
    return out


@pytest.mark.boot
@pytest.mark.timeout(420)
def test_dev_swaps_on_save_reports_errors_and_leaves_no_qemu(tmp_path, kernel):
    policy = tmp_path / "devtest.py"
    policy.write_text(POLICY.replace("SLICE_MS", "20"))
    p = subprocess.Popen([sys.executable, "-m", "scxpy", "dev", str(policy), "--cpus", "2",
                          "--stats-socket", "none", "--", "true"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
                         start_new_session=True)
    lines: queue.Queue = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout], daemon=True).start()

    def wait_for(pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert p.poll() is None, "scxpy dev exited:\n" + "".join(seen)
                continue
            seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n" + "".join(seen))

    vng_sids: list[int] = []
    try:
        wait_for(r"scxpy dev: watching", 300)
        vng_sids = [c for c in children(p.pid) if session_members(c)]  # vng leads its own session
        assert vng_sids, "no guest session found under scxpy dev"
        policy.write_text(POLICY.replace("SLICE_MS", "5"))
        wait_for(r"v2 \(devtest\) attached [\d.]+ s after the save; compile .* attach", 60)
        wait_for(r"v2: workload exited 0", 60)
        policy.write_text(POLICY.replace("SLICE_MS", "undefined_name"))
        wait_for(r"v3 does not compile; still running v2", 60)
        wait_for(re.escape(f"{policy.name}:8"), 10)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    deadline = time.monotonic() + 20
    while any(session_members(s) for s in vng_sids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [m for s in vng_sids for m in session_members(s)]
    assert not left, f"processes of the guest outlived scxpy dev: {left}"
