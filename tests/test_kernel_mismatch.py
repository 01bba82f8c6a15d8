"""A kfunc the kernel cannot give the object is the kernel's (or its toolchain's) fault,
and the error says so: which kernel, which kfunc, the likely cause.

The loads here are real (libbpf and the verifier of the kernel these tests
run on; the VM tier runs them on every guest kernel); the pahole case is
the classifier fed such a captured log with a 7.x release and a BTF
without kfunc decl tags, since building a 7.x kernel with the old pahole
only to watch it fail costs a kernel build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from scxpy.runtime import verifier_log
from scxpy.runtime.errors import KernelMismatch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "runtime_fixtures"))
from build import compile_fixture  # noqa: E402

IN_GUEST = os.environ.get("SCXPY_IN_GUEST") == "1"
is_root = pytest.mark.skipif(os.geteuid() != 0 and not IN_GUEST, reason="loading BPF needs root")

# Captured from a real load (tests/runtime_fixtures/kfunc_mismatch.bpf.c on a
# 6.18 host): the verifier log of a reachable call to an unresolved weak
# kfunc, as libbpf rewrites it. Users of a 7.2 kernel built with pahole 1.24
# got the same lines for scx_bpf_select_cpu_dfl.
UNRESOLVED_LOG = """\
0: R1=ctx() R10=fp0
; return bpf_cpumask_first(1, 2); @ kfunc_mismatch.bpf.c:27
0: (b7) r1 = 1                        ; R1=1
1: (b7) r2 = 2                        ; R2=2
2: <invalid kfunc call>
kfunc 'bpf_cpumask_first' is referenced but wasn't resolved
processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""
ISSUE_LOG = "kfunc 'scx_bpf_select_cpu_dfl' is referenced but wasn't resolved\n"
INCOMPATIBLE_LIBBPF = (
    "libbpf: extern (func ksym) 'scx_bpf_create_dsq': func_proto [27] incompatible with vmlinux [48102]\n"
    "libbpf: failed to load object 'scx_simple'\n"
)


def test_classifier_finds_libbpf_wordings():
    assert [(p.name, p.what) for p in verifier_log.kfunc_problems(UNRESOLVED_LOG)] == [
        ("bpf_cpumask_first", "unresolved")]
    assert [(p.name, p.what) for p in verifier_log.kfunc_problems(ISSUE_LOG)] == [
        ("scx_bpf_select_cpu_dfl", "unresolved")]
    assert [(p.name, p.what) for p in verifier_log.kfunc_problems("", INCOMPATIBLE_LIBBPF)] == [
        ("scx_bpf_create_dsq", "incompatible")]
    missing = "libbpf: extern (func ksym) 'scx_bpf_foo': not found in kernel or module BTFs\n"
    assert [(p.name, p.what) for p in verifier_log.kfunc_problems("", missing)] == [("scx_bpf_foo", "missing")]
    assert verifier_log.kfunc_problems("R1 invalid mem access 'map_value_or_null'\n") == []


def test_flavored_names_are_reported_by_the_kernels_name():
    log = "kfunc 'scx_bpf_dsq_insert___v2___scxpy' is referenced but wasn't resolved\n"
    (p,) = verifier_log.kfunc_problems(log)
    assert p.name == "scx_bpf_dsq_insert___v2" and p.declared == "scx_bpf_dsq_insert___v2___scxpy"


def test_7x_kernel_without_kfunc_decl_tags_blames_pahole():
    problems = verifier_log.kfunc_problems(ISSUE_LOG)
    msg = verifier_log.kfunc_mismatch_message("fifo", problems, "7.2.13-scxpy-0123456789", False)
    assert "kernel 7.2.13-scxpy-0123456789" in msg
    assert "scx_bpf_select_cpu_dfl" in msg
    assert "pahole older than 1.26" in msg and "KF_IMPLICIT_ARGS" in msg
    assert "not a fault in the policy" in msg
    assert "Fix the code" not in msg


def test_other_kernels_get_the_version_range_cause():
    problems = verifier_log.kfunc_problems("", INCOMPATIBLE_LIBBPF)
    for release, tags in (("6.12.117-scxpy-0123456789", False), ("7.3.4-scxpy-0123456789", True),
                          ("7.2.13", None)):
        msg = verifier_log.kfunc_mismatch_message("scx_simple", problems, release, tags)
        assert f"kernel {release}" in msg and "scx_bpf_create_dsq" in msg
        assert "pahole" not in msg and "--kernel-version" in msg


def test_btf_decl_tag_probe_reads_the_string_table():
    import struct

    def btf(strings: bytes) -> bytes:
        hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 0, 0, len(strings))
        return hdr + strings

    assert verifier_log.btf_has_kfunc_decl_tags(btf(b"\0int\0bpf_kfunc\0")) is True
    assert verifier_log.btf_has_kfunc_decl_tags(btf(b"\0int\0bpf_kfunc_x\0")) is False
    assert verifier_log.btf_has_kfunc_decl_tags(b"not btf") is None


def _load_error(strong: bool) -> KernelMismatch:
    from scxpy.runtime.bpf_object import BpfObject

    obj = compile_fixture("kfunc_mismatch", defines={"STRONG": 1} if strong else None)
    o = BpfObject(obj)
    try:
        with pytest.raises(KernelMismatch) as e:
            o.load()
    finally:
        o.close()
    return e.value


@pytest.mark.clang
@is_root
@pytest.mark.parametrize("strong", [False, True], ids=["weak", "strong"])
def test_real_load_names_kernel_and_kfunc(strong):
    _check_real_load(strong)


@pytest.mark.vm
@pytest.mark.parametrize("strong", [False, True], ids=["weak", "strong"])
def test_real_load_names_kernel_and_kfunc_in_guest(strong):
    _check_real_load(strong)


def _check_real_load(strong: bool) -> None:
    err = _load_error(strong)
    msg = str(err)
    assert err.kfuncs == ["bpf_cpumask_first"]
    assert f"kernel {os.uname().release}" in msg
    assert "bpf_cpumask_first" in msg and "not a fault in the policy" in msg
    assert ("func_proto incompatible" in msg) if strong else ("no kfunc of that name and prototype" in msg)
    assert "Fix the code the log points at" not in msg


@pytest.mark.vm
def test_guest_kernel_btf_has_kfunc_decl_tags_iff_built_with_pahole_1_26():
    """What the classifier's pahole diagnosis reads, true of the kernel this guest runs."""
    import re

    tags = verifier_log.btf_has_kfunc_decl_tags(Path("/sys/kernel/btf/vmlinux").read_bytes())
    assert tags is not None
    built_with = Path(os.environ["SCXPY_KERNEL_DIR"]) / "built-with"
    if built_with.is_file():  # a kernel scxpy built (not --kernel PATH) records its pahole
        m = re.search(r"pahole[ =](\d+)\.(\d+)", built_with.read_text())
        assert m, built_with.read_text()
        assert tags is ((int(m.group(1)), int(m.group(2))) >= (1, 26))
    if os.uname().release.startswith("7."):
        assert tags  # without them no sched_ext scheduler loads on 7.x
