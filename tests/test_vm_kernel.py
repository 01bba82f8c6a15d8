"""Host tests of kernel acquisition logic: fragment check, --kernel checks, accelerator choice."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from base.tools import require_tool
from vm import accel
from vm import kernel as kmod
from vm.errors import KernelError, VmError

FRAGMENT = kmod.FRAGMENT.read_text()


def _config_from_fragment(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith("CONFIG_"))


def test_fragment_check_passes_when_every_option_survives():
    assert kmod.check_fragment(FRAGMENT, _config_from_fragment(FRAGMENT)) == []


def test_fragment_check_names_a_dropped_option():
    config = _config_from_fragment(FRAGMENT).replace("CONFIG_SCHED_CLASS_EXT=y", "# CONFIG_SCHED_CLASS_EXT is not set")
    assert kmod.check_fragment(FRAGMENT, config) == ["CONFIG_SCHED_CLASS_EXT=y"]


def test_fragment_check_names_a_changed_value():
    config = _config_from_fragment(FRAGMENT).replace("CONFIG_NR_CPUS=64", "CONFIG_NR_CPUS=8")
    assert kmod.check_fragment(FRAGMENT, config) == ["CONFIG_NR_CPUS=64"]


def test_fragment_has_what_the_guest_needs():
    for opt in ("CONFIG_SCHED_CLASS_EXT=y", "CONFIG_DEBUG_INFO_BTF=y", "CONFIG_BPF_JIT=y",
                "CONFIG_9P_FS=y", "CONFIG_OVERLAY_FS=y", "CONFIG_VIRTIO_CONSOLE=y",
                "CONFIG_HOTPLUG_CPU=y", "CONFIG_KPROBES=y", "CONFIG_CGROUPS=y"):
        assert opt in FRAGMENT


def test_release_names_the_fragment(monkeypatch, tmp_path):
    first = kmod.default_release()
    assert first.startswith("6.12")
    changed = tmp_path / "guest.config"
    changed.write_text(FRAGMENT + "CONFIG_IKCONFIG=y\n")
    monkeypatch.setattr(kmod, "FRAGMENT", changed)
    assert kmod.default_release() != first


def test_kernel_path_that_is_not_a_kernel(tmp_path):
    junk = tmp_path / "bzImage"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(KernelError, match="not an x86 Linux kernel image"):
        kmod.from_path(junk)


def test_kernel_path_missing():
    with pytest.raises(KernelError, match="no such file"):
        kmod.from_path("/nonexistent/bzImage")


def test_kernel_without_sched_ext_is_refused(kernel, tmp_path):
    # A real bzImage with a vmlinux beside it whose BTF lacks sched_ext_ops:
    # a tiny BPF object's BTF stands in for that vmlinux.
    (tmp_path / "bzImage").write_bytes(kernel.bzimage.read_bytes())
    clang = require_tool("clang")
    src = tmp_path / "x.c"
    src.write_text("struct not_sched_ext { int a; } v;\n")
    subprocess.run([clang, "-target", "bpf", "-g", "-c", str(src), "-o", str(tmp_path / "vmlinux")], check=True)
    with pytest.raises(KernelError, match="has no sched_ext"):
        kmod.from_path(tmp_path / "bzImage")


def test_cli_reports_a_bad_kernel_clearly(tmp_path):
    junk = tmp_path / "bzImage"
    junk.write_text("not a kernel")
    proc = subprocess.run([sys.executable, "-m", "scxpy", "vm", "--kernel", str(junk), "--", "true"],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "not an x86 Linux kernel image" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cache_hit_is_fast(kernel):
    start = time.monotonic()
    again = kmod.default_kernel(progress=False)
    assert time.monotonic() - start < 1.0
    assert again.dir == kernel.dir
    for f in (again.bzimage, again.vmlinux, again.config, again.vmlinux_h):
        assert f.is_file()
    assert "struct sched_ext_ops {" in again.vmlinux_h.read_text()


def test_kvm_refused_without_vmx_or_svm(tmp_path):
    dev = tmp_path / "kvm"
    dev.write_text("")
    reason = accel.kvm_unusable_reason("flags\t: fpu sse sse2 hypervisor\n", str(dev))
    assert reason and "neither vmx nor svm" in reason
    assert accel.kvm_unusable_reason("flags\t: fpu vmx\n", str(dev)) is None
    assert "does not exist" in accel.kvm_unusable_reason("", str(tmp_path / "none"))


def test_accel_can_be_forced(monkeypatch):
    monkeypatch.setenv("SCXPY_ACCEL", "kvm")
    assert accel.choose() == "kvm"
    monkeypatch.setenv("SCXPY_ACCEL", "tcg")
    assert accel.choose() == "tcg"
    monkeypatch.setenv("SCXPY_ACCEL", "hvf")
    with pytest.raises(VmError, match="SCXPY_ACCEL=kvm or SCXPY_ACCEL=tcg"):
        accel.choose()
