"""scxpy list / show / compile (the codegen side of the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scxpy.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    bpf, user = capsys.readouterr().out.split("\n\n")
    names = [line.split()[0] for line in bpf.splitlines()]
    assert names == ["fifo", "vtime", "prio", "interactive", "layered", "local", "central", "deadline", "cgroup"]
    heading, *user = user.splitlines()
    assert heading.startswith("userspace") and [line.split()[0] for line in user] == ["uvtime", "ushortest"]
    assert all(len(line.split(None, 1)) == 2 for line in bpf.splitlines() + user)


def test_show_userspace_policy_opens_with_its_own_description(capsys):
    assert main(["show", "ushortest"]) == 0
    c = capsys.readouterr().out
    assert " * Short bursts first" in c and "Subclass it" not in c  # not UserScheduler's docstring


def test_show_stock_and_path(capsys):
    assert main(["show", "fifo"]) == 0
    c = capsys.readouterr().out
    assert c.startswith("/* SPDX-License-Identifier: GPL-2.0 */") and '.name		= "fifo"' in c
    path = Path(__file__).parent / "policies" / "kitchen_sink.py"
    assert main(["show", str(path)]) == 0
    assert "kitchen_sink" in capsys.readouterr().out


def test_show_bad_policy_is_one_clear_message(tmp_path, capsys):
    p = tmp_path / "bad.py"
    p.write_text('"""x"""\nfrom scxpy import *\nclass S(Scheduler):\n    q = Dsq()\n'
                 '    rules = [Rule(task.nope, queue=q), Rule(queue=q)]\n')
    assert main(["show", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scxpy: error: ") and "bad.py:5: task has no attribute 'nope'" in err
    assert "Traceback" not in err


def test_unknown_policy(capsys):
    assert main(["show", "nosuch"]) == 2
    assert "unknown policy 'nosuch'" in capsys.readouterr().err


@pytest.mark.clang
def test_compile_with_output(tmp_path, vmlinux_h, capsys, monkeypatch):
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "fifo.bpf.o"
    assert main(["compile", "fifo", "-o", str(out), "--vmlinux-h", str(vmlinux_h)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes()[:4] == b"\x7fELF"
    assert (tmp_path / "fifo.json").is_file() and (tmp_path / "fifo.bpf.c").is_file()


@pytest.mark.clang
def test_compile_userspace_policy(tmp_path, vmlinux_h, capsys, monkeypatch):
    """Its BPF half, as `scxpy run` would load it (not an error about a missing Scheduler)."""
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["compile", "uvtime", "--vmlinux-h", str(vmlinux_h)]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "uvtime.bpf.o" and path.read_bytes()[:4] == b"\x7fELF"


@pytest.mark.clang
def test_compile_uses_env_vmlinux_h(tmp_path, vmlinux_h, capsys, monkeypatch):
    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SCXPY_VMLINUX_H", str(vmlinux_h))
    assert main(["compile", "vtime"]) == 0
    path = capsys.readouterr().out.strip()
    assert path.startswith(str(tmp_path / "cache")) and path.endswith(".bpf.o")


@pytest.mark.clang
def test_compile_output_follows_a_change_of_tunable_bounds_only(tmp_path, vmlinux_h, capsys, monkeypatch):
    """Changing only a Tunable's bounds leaves the C as it was; the manifest must still follow."""
    from scxpy.base.manifest import Manifest

    monkeypatch.setenv("SCXPY_CACHE_DIR", str(tmp_path / "cache"))
    policy = tmp_path / "bounded.py"
    body = ('"""Bounded slice."""\nfrom scxpy import *\n\n\nclass Bounded(Scheduler):\n'
            '    q = Dsq()\n    slice_len = Tunable(5 * ms, min=1 * ms, max={max} * ms, live=True)\n'
            '    rules = [Rule(queue=q, slice=slice_len)]\n')
    out = tmp_path / "bounded.bpf.o"
    seen = []
    for max_ms in (10, 50):
        policy.write_text(body.format(max=max_ms))
        assert main(["compile", str(policy), "-o", str(out), "--vmlinux-h", str(vmlinux_h)]) == 0
        capsys.readouterr()
        seen.append(((tmp_path / "bounded.bpf.c").read_text(), Manifest.read(tmp_path / "bounded.json")))
    (c10, m10), (c50, m50) = seen
    assert c10 == c50  # the bounds are checked by the loader, not in C
    assert m10.tunable("slice_len").max == 10_000_000
    assert m50.tunable("slice_len").max == 50_000_000


def test_show_no_counters(capsys):
    assert main(["show", "--no-counters", "fifo"]) == 0
    c = capsys.readouterr().out
    assert "stat_inc" not in c and "Event counters: none" in c


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    """`scxpy show POLICY | head`: the closed pipe ends the command with SIGPIPE's status,
    without a traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "scxpy", "show", "deadline"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the C is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""
