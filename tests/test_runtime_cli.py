"""`scxpy run` on the host: argument handling and the errors a host without
sched_ext must give (the real runs are in tests/test_runtime_vm.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "runtime_fixtures"))
from build import MINIMAL_MANIFEST, compile_fixture  # noqa: E402

from scxpy import cmd_run  # noqa: E402


def scxpy(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "scxpy", *argv], capture_output=True, text=True,
                          cwd=REPO, **kw)


@pytest.mark.parametrize("text,value", [
    ("42", 42), ("0x10", 16), ("4ms", 4_000_000), ("250us", 250_000), ("1.5s", 1_500_000_000),
    ("7ns", 7), ("true", 1), ("off", 0), ("abc", "abc"),
])
def test_parse_value(text, value):
    assert cmd_run.parse_value(text) == value


def test_parse_sets_rejects_missing_equals():
    assert cmd_run.parse_sets(["a=1", "b = 2ms"]) == {"a": 1, "b": 2_000_000}
    with pytest.raises(cmd_run.RunError, match="NAME=VALUE"):
        cmd_run.parse_sets(["slice"])


def test_run_help_lists_options():
    r = scxpy("run", "--help")
    assert r.returncode == 0
    for opt in ("--stats", "--set", "--vm", "--cpus", "--timeout", "--kernel"):
        assert opt in r.stdout


@pytest.fixture
def fake_sched_ext(tmp_path) -> dict:
    """Environment making the runtime believe in an idle sched_ext (to reach later checks)."""
    d = tmp_path / "sched_ext"
    (d / "root").mkdir(parents=True)
    (d / "state").write_text("disabled\n")
    (d / "root" / "ops").write_text("\n")
    (d / "enable_seq").write_text("0\n")
    import os

    return {**os.environ, "SCXPY_SCHED_EXT_SYSFS": str(d)}


def test_missing_prebuilt_object_is_clear(tmp_path, fake_sched_ext):
    r = scxpy("run", str(tmp_path / "nope.bpf.o"), env=fake_sched_ext)
    assert r.returncode != 0 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_no_counters_needs_a_policy_to_compile(tmp_path, fake_sched_ext):
    obj = tmp_path / "x.bpf.o"
    obj.write_bytes(b"\x7fELF")
    r = scxpy("run", "--no-counters", str(obj), env=fake_sched_ext)
    assert r.returncode != 0 and "scxpy compile --no-counters" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.clang
def test_stats_of_a_build_without_counters_is_refused(fake_sched_ext):
    r = scxpy("run", "--no-counters", "fifo", "--stats", "1", env=fake_sched_ext)
    assert r.returncode != 0 and "has no event counters" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.clang
def test_object_without_struct_ops_is_refused(fake_sched_ext):
    r = scxpy("run", str(compile_fixture("globals_maps")), env=fake_sched_ext)
    assert r.returncode != 0 and "no struct_ops map" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.clang
def test_manifest_from_another_version_says_recompile(tmp_path, fake_sched_ext, vmlinux_h):
    import json
    import shutil

    obj = tmp_path / "old.bpf.o"
    shutil.copy(compile_fixture("minimal_sched", vmlinux_h=vmlinux_h), obj)
    old = MINIMAL_MANIFEST.to_dict()
    del old["version"]  # what scxpy wrote before the manifest was versioned
    (tmp_path / "old.json").write_text(json.dumps(old))
    r = scxpy("run", str(obj), env=fake_sched_ext)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"manifest {tmp_path / 'old.json'} is manifest version 1" in r.stderr
    assert "Recompile the policy" in r.stderr


@pytest.mark.clang
def test_no_sched_ext_here_is_clear(vmlinux_h):
    if Path("/sys/kernel/sched_ext").exists():
        pytest.skip("this kernel has sched_ext")
    obj = compile_fixture("minimal_sched", vmlinux_h=vmlinux_h)
    r = scxpy("run", str(obj), "--", "true")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "has no sched_ext" in r.stderr and "scxpy run --vm" in r.stderr


# --- boot: `scxpy run --vm` from the host ------------------------------------------

@pytest.fixture
def prebuilt(vmlinux_h, tmp_path):
    import shutil

    obj = tmp_path / "minimal.bpf.o"
    shutil.copy(compile_fixture("minimal_sched", vmlinux_h=vmlinux_h), obj)
    MINIMAL_MANIFEST.write(tmp_path / "minimal.json")  # found beside the object
    return obj


@pytest.mark.boot
def test_run_vm_clean_detach_is_status_0(prebuilt):
    r = scxpy("run", "--vm", "--cpus", "2", "--timeout", "300", str(prebuilt), "--stats", "0.5",
              "--", "sh", "-c", "sleep 1; grep ext.enabled /proc/self/sched", timeout=400)
    assert r.returncode == 0, r.stderr
    assert "scxpy_min attached" in r.stdout and "exited: UNREG" in r.stdout
    assert re.search(r"^enqueue +\S+$", r.stdout, re.M) and "totals after" in r.stdout, r.stdout


@pytest.mark.boot
def test_run_vm_ejection_propagates_nonzero_status_and_reason(prebuilt):
    dump = prebuilt.parent / "ejected.dump"
    r = scxpy("run", "--vm", "--cpus", "2", "--timeout", "300", str(prebuilt), "--set", "error_after=20",
              "--exit-dump", str(dump), "--", "sh", "-c", "sleep 2", timeout=400)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "ejected" in r.stderr and "ERROR_BPF" in r.stderr and "fixture error after 20 enqueues" in r.stderr
    # the guest's dump, copied to the host's path and named once (not the guest's scratch path)
    assert [line for line in r.stderr.splitlines() if "debug dump" in line] == \
        [f"scxpy: the kernel's debug dump: {dump}"], r.stderr
    assert "\nCPU states\n" in dump.read_text()


def test_stats_output_in_a_missing_directory_fails_before_anything_runs(tmp_path):
    r = scxpy("run", "--vm", "fifo", "--stats-json", str(tmp_path / "no" / "s.jsonl"), "--", "true")
    assert r.returncode != 0 and "--stats-json" in r.stderr and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr


# --- the kernel's debug dump of an ejection ---------------------------------------

def _stall(dump: str = "CPU states\n----------\n\n  R hog[42] +3000ms\n      dsq_id=0x2 dsq_vtime=7\n\n    f+0x1\n"):
    from scxpy.runtime.exit_info import ExitInfo, ExitKind

    return ExitInfo(ExitKind.ERROR_STALL, 0, "runnable task stall", "hog[42] failed to run for 3.000s", dump)


def _args(exit_dump=None, relay=False):
    import argparse

    return argparse.Namespace(exit_dump=exit_dump, exit_dump_relay=relay)


def test_exit_dump_is_written_and_named(tmp_path):
    path = tmp_path / "stall.dump"
    lines = cmd_run.keep_exit_dump(_stall(), "fifo", _args(str(path)))
    assert path.read_text().startswith("CPU states\n")
    assert lines == [f"scxpy: the kernel's debug dump: {path}", "scxpy: the dump on hog[42]:",
                     "  R hog[42] +3000ms", "      dsq_id=0x2 dsq_vtime=7"]
    # in the guest of `run --vm` the host names the file it keeps
    assert cmd_run.keep_exit_dump(_stall(), "fifo", _args(str(path), relay=True))[0] == "scxpy: the dump on hog[42]:"


def test_exit_dump_default_is_a_new_file_in_tmpdir(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    lines = cmd_run.keep_exit_dump(_stall(), "fifo", _args())
    written = list(tmp_path.glob("scxpy-fifo-*.dump"))
    assert len(written) == 1 and lines[0] == f"scxpy: the kernel's debug dump: {written[0]}"


def test_no_dump_no_file_and_an_unwritable_path_is_one_line(tmp_path):
    from scxpy.runtime.exit_info import ExitInfo, ExitKind

    unreg = ExitInfo(ExitKind.UNREG, 0, "unregistered from user space", "")
    assert cmd_run.keep_exit_dump(unreg, "fifo", _args(str(tmp_path / "x"))) == []
    assert cmd_run.keep_exit_dump(None, "fifo", _args(str(tmp_path / "x"))) == []
    assert cmd_run.keep_exit_dump(_stall(""), "fifo", _args(str(tmp_path / "x"))) == []
    assert not (tmp_path / "x").exists()
    lines = cmd_run.keep_exit_dump(_stall(), "fifo", _args(str(tmp_path / "gone" / "x.dump")))
    assert len(lines) == 1 and "could not be written" in lines[0] and "--exit-dump FILE" in lines[0]


@pytest.mark.parametrize("where", ["dir", "missing"])
def test_exit_dump_bad_path_fails_before_anything_runs(tmp_path, where):
    path = tmp_path if where == "dir" else tmp_path / "no" / "x.dump"
    r = scxpy("run", "--vm", "fifo", "--exit-dump", str(path), "--", "true")
    assert r.returncode != 0 and "--exit-dump" in r.stderr and "Traceback" not in r.stderr
    assert ("is a directory" if where == "dir" else "does not exist") in r.stderr
