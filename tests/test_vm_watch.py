"""Host tests of the guest's watch (vm/watch.py): what a failure report shows from the console."""

from __future__ import annotations

from pathlib import Path

from scxpy.vm.watch import GuestWatch


def _watch(tmp_path: Path) -> GuestWatch:
    return GuestWatch.beside(tmp_path / ".scxpy-command-x.sh")


def test_console_tail_leads_with_what_went_wrong(tmp_path):
    w = _watch(tmp_path)
    lines = ["[ 1.0] boot"] + ["[ 2.0] Oops: int3: 0000 [#1] SMP"] + [f"[ 3.{i}]  frame{i}" for i in range(40)]
    w.console.write_text("\r\n".join(lines) + "\r\n")
    tail = w.console_tail(10)
    assert tail[0] == "[ 2.0] Oops: int3: 0000 [#1] SMP" and tail[-1] == "[ 3.39]  frame39" and len(tail) == 10


def test_console_tail_of_a_quiet_or_missing_console(tmp_path):
    w = _watch(tmp_path)
    assert w.console_tail() == []
    w.console.write_text("\n\n[ 1.0] only line\n")
    assert w.console_tail() == ["[ 1.0] only line"]


def test_signs_of_life(tmp_path):
    w = _watch(tmp_path)
    assert w.silent_for(since_start=5.0) < 0  # booting: within the boot's allowance
    assert not w.has_started()
    w.alive.write_text("")
    assert 0 <= w.silent_for(since_start=500.0) < 5
    sh = w.guest_sh()
    assert str(w.started) in sh and str(w.alive) in sh and "& )" in sh  # detached: a command's `wait` ignores it


def test_no_qemu_no_dump(tmp_path):
    w = _watch(tmp_path)
    assert w.task_dump(wait_s=0.5) == []
