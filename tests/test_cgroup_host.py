"""Cgroup shares on the host: the DSL's checks, what the generated C contains, and the
runtime's verdict on kernels without the callbacks (kernel facts faked, object real).

The shares themselves are measured in the guest (tests/test_cgroup_vm.py) and by
`scxpy bench -w cgroup-shares`.
"""

from __future__ import annotations

import textwrap

import pytest

from scxpy import codegen
from scxpy.codegen import PolicyError
from scxpy.schedulers import policy_file

HEADER = '"""A test policy."""\nfrom scxpy import *\n'


def write(tmp_path, body: str, name: str = "pol.py") -> str:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


# -- the DSL -------------------------------------------------------------------

def test_share_cgroup_needs_a_vtime_queue(tmp_path):
    p = write(tmp_path, """
        class P(Scheduler):
            q = Dsq("fifo", share="cgroup")
            rules = [Rule(queue=q)]
    """)
    with pytest.raises(PolicyError, match="share='cgroup' divides CPU time by weight: it needs order='vtime'"):
        codegen.render(p)


def test_unknown_share_is_refused_with_the_choices(tmp_path):
    p = write(tmp_path, """
        class P(Scheduler):
            q = Dsq("vtime", share="pod")
            rules = [Rule(queue=q)]
    """)
    with pytest.raises(PolicyError, match="Dsq share 'pod': choose 'task'.*or 'cgroup'"):
        codegen.render(p)


def test_cgroup_policy_generates_the_cgroup_callbacks():
    c = codegen.render(policy_file("cgroup"))
    for cb in ("cgroup_init", "cgroup_exit", "cgroup_set_weight", "cgroup_set_bandwidth", "cgroup_set_idle",
               "runnable", "quiescent"):
        assert f".{cb}" in c and f"scxpy_op_{cb}" in c, cb
    # Callbacks newer than 6.12 go through scxpy's own ops type (libbpf drops the suffix).
    assert "struct sched_ext_ops___scxpy scxpy_ops = {" in c
    # Every share="cgroup" rule charges with the task's share through the hierarchy.
    assert "set_vtime_weight(tctx, cgroup_weight(p, (s64)p->scx.weight));" in c
    model = codegen.build_model(policy_file("cgroup"))
    assert model.manifest().cgroup == ("weight", "idle", "bandwidth")


def test_policies_without_cgroup_shares_are_unchanged():
    c = codegen.render(policy_file("vtime"))
    assert "struct sched_ext_ops scxpy_ops = {" in c
    assert "cgroup" not in c
    assert codegen.build_model(policy_file("vtime")).manifest().to_dict().get("cgroup") is None


# -- the runtime's verdict on the kernel ------------------------------------------

@pytest.fixture
def opened(vmlinux_h):
    """A Scheduler over a compiled object, opened (not loaded): what load() checks first."""
    from scxpy.runtime.scheduler import Scheduler

    made = []

    def open_(policy: str):
        c = codegen.compile(policy_file(policy), str(vmlinux_h))
        s = Scheduler(c.obj_path, manifest=c.manifest)
        made.append(s)
        return s

    yield open_
    for s in made:
        s.close()


def _fake_kernel(monkeypatch, members: set[str], cgroup_root=None):
    from scxpy.runtime import ops_members

    monkeypatch.setattr(ops_members, "kernel_ops_members", lambda: frozenset(members))
    if cgroup_root is not None:
        monkeypatch.setattr(ops_members, "CGROUP_ROOT", cgroup_root)


BASE_612 = {"select_cpu", "enqueue", "dispatch", "tick", "runnable", "running", "stopping", "quiescent", "init_task",
            "enable", "cpu_online", "cpu_offline", "init", "exit", "cgroup_init", "cgroup_exit",
            "cgroup_prep_move", "cgroup_move", "cgroup_cancel_move", "cgroup_set_weight"}


def _cgroup_root(tmp_path, controllers: str, enabled: str):
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text(enabled + "\n")
    return root


@pytest.mark.clang
def test_on_612_the_newer_callbacks_are_cleared_and_said(monkeypatch, tmp_path, opened):
    _fake_kernel(monkeypatch, BASE_612, _cgroup_root(tmp_path, "cpuset cpu memory", "cpu"))
    s = opened("cgroup")
    notes = s._kernel_support()
    assert any(n.startswith("cpu.max (CPU bandwidth limits) is not enforced") and "6.17" in n for n in notes)
    assert any(n.startswith("cpu.idle is not honoured") and "6.19" in n for n in notes)
    from scxpy.runtime import ops_members

    # Cleared: libbpf now skips them instead of failing the load.
    left = ops_members._object_callbacks(s.obj, s.ops_map)
    assert "cgroup_set_bandwidth" not in left and "cgroup_set_idle" not in left
    assert "cgroup_set_weight" in left


@pytest.mark.clang
def test_on_7x_cpu_max_and_idle_are_honoured_without_a_notice(monkeypatch, tmp_path, opened):
    _fake_kernel(monkeypatch, BASE_612 | {"cgroup_set_bandwidth", "cgroup_set_idle"},
                 _cgroup_root(tmp_path, "cpu", "cpu"))
    assert opened("cgroup")._kernel_support() == []


@pytest.mark.clang
def test_no_ext_group_sched_is_one_line_naming_it(monkeypatch, tmp_path, opened):
    from scxpy.runtime.errors import KernelLacksCallback

    no_cgroup_ops = {m for m in BASE_612 if not m.startswith("cgroup_")}
    _fake_kernel(monkeypatch, no_cgroup_ops, _cgroup_root(tmp_path, "cpu", "cpu"))
    with pytest.raises(KernelLacksCallback) as e:
        opened("cgroup")._kernel_support()
    msg = str(e.value)
    assert "\n" not in msg and "CONFIG_EXT_GROUP_SCHED" in msg and "cgroup" in msg


@pytest.mark.clang
def test_no_cpu_controller_is_one_line_naming_it(monkeypatch, tmp_path, opened):
    from scxpy.runtime.errors import KernelLacksCallback

    _fake_kernel(monkeypatch, BASE_612, _cgroup_root(tmp_path, "cpuset memory pids", ""))
    with pytest.raises(KernelLacksCallback) as e:
        opened("cgroup")._kernel_support()
    msg = str(e.value)
    assert "\n" not in msg and "cpu controller is not available" in msg and "CONFIG_CGROUP_SCHED" in msg


@pytest.mark.clang
def test_cpu_controller_not_enabled_anywhere_is_a_note(monkeypatch, tmp_path, opened):
    _fake_kernel(monkeypatch, BASE_612 | {"cgroup_set_bandwidth", "cgroup_set_idle"},
                 _cgroup_root(tmp_path, "cpu memory", "memory"))
    notes = opened("cgroup")._kernel_support()
    assert any("echo +cpu >" in n and "cgroup.subtree_control" in n for n in notes)


@pytest.mark.clang
def test_a_raw_callback_the_kernel_lacks_names_its_version(monkeypatch, tmp_path, vmlinux_h):
    from scxpy.runtime.errors import KernelLacksCallback
    from scxpy.runtime.scheduler import Scheduler

    p = write(tmp_path, """
        class P(Scheduler):
            q = Dsq("vtime")
            rules = [Rule(queue=q)]
            raw = [RawC("cgroup_set_idle", "(void)idle;")]
    """)
    c = codegen.compile(p, str(vmlinux_h))
    assert "struct sched_ext_ops___scxpy" in open(c.c_path).read()
    _fake_kernel(monkeypatch, BASE_612)
    s = Scheduler(c.obj_path, manifest=c.manifest)
    try:
        with pytest.raises(KernelLacksCallback, match=r"ops.cgroup_set_idle.*came in Linux 6.19"):
            s._kernel_support()
    finally:
        s.close()
