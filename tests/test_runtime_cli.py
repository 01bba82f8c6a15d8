"""`scxpy run` on the host: argument handling and the errors a host without
sched_ext must give (the real runs are in tests/test_runtime_vm.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "runtime_fixtures"))
from build import compile_fixture  # noqa: E402

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


def test_missing_prebuilt_object_is_clear(tmp_path):
    r = scxpy("run", str(tmp_path / "nope.bpf.o"))
    assert r.returncode != 0 and "does not exist" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.clang
def test_object_without_struct_ops_is_refused():
    r = scxpy("run", str(compile_fixture("globals_maps")))
    assert r.returncode != 0 and "no struct_ops map" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.clang
def test_no_sched_ext_here_is_clear(vmlinux_h):
    if Path("/sys/kernel/sched_ext").exists():
        pytest.skip("this kernel has sched_ext")
    obj = compile_fixture("minimal_sched", vmlinux_h=vmlinux_h)
    r = scxpy("run", str(obj), "--", "true")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "has no sched_ext" in r.stderr and "scxpy run --vm" in r.stderr
