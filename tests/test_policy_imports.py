"""Every command imports a policy the same way: its own directory first on the import
path, so a helper module beside the policy works (scxpy.base.policy_import.policy_dir_first,
used by codegen's loader for DSL policies and the runtime's for userspace ones).

Each command runs as the user runs it, `python -m scxpy ...` from another
directory. Without the policy's directory on the path the policy's
`from slice_choice import ...` raises ModuleNotFoundError, which the
loader reports as a PolicyError: every test would see that message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPER = "slice_choice"  # a name no installed package has
POLICY = f'''"""A policy whose slice comes from a helper module beside it."""

from scxpy import Dsq, Rule, Scheduler, Tunable, ms
from {HELPER} import SLICE_MS


class WithHelper(Scheduler):
    name = "with_helper"
    queue = Dsq("fifo")
    knob = Tunable(3, min=0, max=10)
    rules = [Rule(queue=queue, slice=SLICE_MS * ms)]
'''
SLICE_MS = 7


def policy_with_helper(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{HELPER}.py").write_text(f"SLICE_MS = {SLICE_MS}\n")
    policy = where / "with_helper.py"
    policy.write_text(POLICY)
    return policy


def scxpy(*argv: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "scxpy", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_helper_found(r: subprocess.CompletedProcess) -> None:
    assert "No module named" not in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr


@pytest.fixture
def policy(tmp_path) -> Path:
    return policy_with_helper(tmp_path / "policies")


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    d = tmp_path / "elsewhere"
    d.mkdir()
    return d


def test_loading_puts_the_policy_directory_first_and_takes_it_off_again(policy):
    from scxpy.codegen import load_policy_file

    before = list(sys.path)
    try:
        cls = load_policy_file(str(policy))
        assert cls.__name__ == "WithHelper"
        assert sys.path == before
        assert sys.modules[HELPER].__file__ == str(policy.parent / f"{HELPER}.py")
    finally:
        sys.modules.pop(HELPER, None)


def test_a_userspace_policy_imports_its_helper_too(tmp_path):
    from scxpy.runtime.userspace import load_user_policy

    where = tmp_path / "user"
    where.mkdir()
    (where / "user_choice.py").write_text("SLICE_MS = 4\n")
    (where / "shortest.py").write_text(
        '"""Whatever came first, with the slice from a helper beside it."""\n'
        "from scxpy import Decision, UserScheduler, ms\n"
        "from user_choice import SLICE_MS\n\n\n"
        "class Shortest(UserScheduler):\n"
        '    name = "shortest"\n'
        "    slice = SLICE_MS * ms\n\n"
        "    def init(self):\n"
        "        self.q = []\n\n"
        "    def __len__(self):\n"
        "        return len(self.q)\n\n"
        "    def enqueue(self, task):\n"
        "        self.q.append(task)\n\n"
        "    def dispatch(self):\n"
        "        return Decision(self.q.pop(0)) if self.q else None\n")
    before = list(sys.path)
    try:
        cls = load_user_policy(where / "shortest.py")
        assert cls.__name__ == "Shortest" and cls.slice == 4_000_000
        assert sys.path == before
    finally:
        sys.modules.pop("user_choice", None)


def test_show(policy, elsewhere):
    r = scxpy("show", str(policy), cwd=elsewhere)
    assert_helper_found(r)
    assert r.returncode == 0, r.stderr
    assert f"{SLICE_MS * 1_000_000}" in r.stdout  # the helper's slice, in ns, in the C


def test_bench_loads_the_policy_before_anything_else(policy, elsewhere):
    """bench checks every contender before it builds or boots anything: the policy
    loads (its helper found), then the unknown peer after it is refused."""
    r = scxpy("bench", str(policy), "peer:nosuch", cwd=elsewhere)
    assert_helper_found(r)
    assert r.returncode != 0 and "nosuch" in r.stderr, r.stderr


@pytest.mark.clang
def test_compile(policy, elsewhere, vmlinux_h):
    r = scxpy("compile", str(policy), "--vmlinux-h", str(vmlinux_h), cwd=elsewhere)
    assert_helper_found(r)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).read_bytes()[:4] == b"\x7fELF"


@pytest.mark.clang
def test_run_vm_compiles_on_the_host_with_the_helper(policy, elsewhere, vmlinux_h):
    """`run --vm` compiles here before it boots; a --set naming no tunable is refused
    against the compiled manifest, still before the boot: the policy compiled."""
    r = scxpy("run", "--vm", str(policy), "--set", "nosuch=1", "--", "true", cwd=elsewhere)
    assert_helper_found(r)
    assert r.returncode != 0 and "--set nosuch: with_helper has no such tunable" in r.stderr, r.stderr
    assert "knob" in r.stderr


@pytest.mark.clang
def test_dev_compiles_the_policy_and_watches_its_helper(policy, vmlinux_h, monkeypatch):
    from scxpy.cmd_dev import Compiler

    monkeypatch.setenv("SCXPY_VMLINUX_H", str(vmlinux_h))
    c = Compiler(policy.resolve())
    try:
        assert c.compile().manifest.name == "with_helper"
        assert c.files == {policy.resolve(), (policy.parent / f"{HELPER}.py").resolve()}
    finally:
        sys.modules.pop(HELPER, None)


@pytest.mark.vm
def test_run_in_the_guest(tmp_path):
    """`scxpy run` on a sched_ext kernel (the guest's): compiles, loads and runs the
    policy whose slice comes from the helper beside it."""
    policy = policy_with_helper(tmp_path / "policies")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = scxpy("run", str(policy), "--", "true", cwd=elsewhere, timeout=600)
    assert_helper_found(r)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "with_helper attached" in r.stdout
