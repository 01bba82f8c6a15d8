"""Host tests of kernel acquisition logic: source builds' versions and their fragments, the
fragment check, the private apt and pahole, --kernel checks, accelerator choice."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from scxpy.base.tools import require_tool
from scxpy.vm import accel, debian, pahole
from scxpy.vm import kernel as front
from scxpy.vm import source_build as kmod
from scxpy.vm.errors import KernelError, VmError

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
    for v in kmod.SOURCES:
        options = kmod.fragment_options(v)
        for opt in ("CONFIG_SCHED_CLASS_EXT=y", "CONFIG_DEBUG_INFO_BTF=y", "CONFIG_BPF_JIT=y",
                    "CONFIG_9P_FS=y", "CONFIG_OVERLAY_FS=y", "CONFIG_VIRTIO_CONSOLE=y",
                    "CONFIG_HOTPLUG_CPU=y", "CONFIG_KPROBES=y", "CONFIG_CGROUPS=y"):
            assert opt in options, (v, opt)


def test_every_option_group_says_why():
    # drgn vmtest style: a comment above each group of options.
    for path in [kmod.FRAGMENT] + [kmod.source(v).overlay for v in kmod.SOURCES]:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("CONFIG_") and (i == 0 or not lines[i - 1].strip()):
                raise AssertionError(f"{path.name}:{i + 1}: {line} starts a group with no comment above it")


def test_options_a_version_dropped_are_only_in_the_versions_that_have_them():
    # 7.2 loses PREEMPT_VOLUNTARY and SCHED_DEBUG, 7.3 also PROC_SYSCTL: the
    # strict check would stop those builds if the common part kept them.
    common = kmod.FRAGMENT.read_text()
    for gone in ("CONFIG_PREEMPT_VOLUNTARY", "CONFIG_SCHED_DEBUG", "CONFIG_PROC_SYSCTL"):
        assert gone not in common
        assert any(o.startswith(gone + "=") for o in kmod.fragment_options("6.12"))
    for v in ("7.2", "7.3"):
        options = kmod.fragment_options(v)
        assert not any(o.startswith(("CONFIG_PREEMPT_VOLUNTARY=", "CONFIG_SCHED_DEBUG=")) for o in options)
        assert "CONFIG_PREEMPT_LAZY=y" in options
    assert "CONFIG_SYSCTL=y" in kmod.fragment_options("7.3")
    assert "CONFIG_PROC_SYSCTL=y" not in kmod.fragment_options("7.3")


def test_release_carries_the_version_and_differs_per_version():
    releases = {v: kmod.release(v) for v in kmod.SOURCES}
    assert releases["6.12"].startswith("6.12.")
    assert releases["7.2"].startswith("7.2.12-scxpy-")
    assert releases["7.3"].startswith("7.3.4-scxpy-")
    assert len(set(releases.values())) == len(releases)
    assert kmod.default_release() == releases["6.12"]


def test_release_names_the_fragment_options_not_its_comments(monkeypatch, tmp_path):
    first = kmod.release("7.3")
    for name in ("guest.config", "guest-7.3.config"):
        (tmp_path / name).write_text(kmod.FRAGMENT.with_name(name).read_text())
    monkeypatch.setattr(kmod, "FRAGMENT", tmp_path / "guest.config")
    assert kmod.release("7.3") == first
    (tmp_path / "guest.config").write_text(kmod.FRAGMENT.read_text() + "# only a comment\n")
    assert kmod.release("7.3") == first
    (tmp_path / "guest-7.3.config").write_text((tmp_path / "guest-7.3.config").read_text() + "CONFIG_IKCONFIG=y\n")
    assert kmod.release("7.3") != first


def test_release_names_the_pahole(monkeypatch):
    monkeypatch.setattr(pahole, "identity_for", lambda minimum: "host pahole 1.24")
    first = kmod.release("6.12")
    monkeypatch.setattr(pahole, "identity_for", lambda minimum: "host pahole 1.30")
    assert kmod.release("6.12") != first


def test_unknown_version_lists_the_known_ones():
    with pytest.raises(KernelError, match=r"6\.12, 7\.2, 7\.3"):
        kmod.release("5.15")
    proc = subprocess.run([sys.executable, "-m", "scxpy", "kernel", "--version", "5.15"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--kernel-version 5.15" in proc.stderr and "7.3" in proc.stderr


def test_kernel_and_kernel_version_exclude_each_other():
    proc = subprocess.run([sys.executable, "-m", "scxpy", "vm", "--kernel", "/x", "--kernel-version", "7.3",
                           "--", "true"], capture_output=True, text=True)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


def test_7x_needs_pahole_1_26_and_6_12_the_hosts():
    assert kmod.source("7.3").min_pahole == (1, 26) and kmod.source("7.2").min_pahole == (1, 26)
    assert kmod.source("6.12").min_pahole is None
    assert pahole.identity_for(None).startswith("host pahole")
    ident = pahole.identity_for((99, 0))
    assert ident.startswith("trixie ") and " pahole=1.30-1 " in ident


def test_pahole_for_7x_runs():
    """The real install: fetched through the private apt on first use (the 7.x build does it)."""
    from scxpy.vm.progress import Progress

    tool = pahole.pahole_for((1, 26), Progress("test"))
    assert tool.version >= (1, 26)
    assert pahole.version_of(tool.path) == tool.version


def test_private_apt_keeps_every_path_in_its_own_directory(tmp_path):
    opts = debian._Apt(tmp_path).options()
    values = [o.split("=", 1)[1] for o in opts if o.startswith("Dir::")]
    assert all(v in ("-", "/dev/null") or v.startswith(str(tmp_path)) for v in values), values
    assert "Dir::Etc::sourceparts=-" in opts  # the host's sources.list.d is never read


def test_kernel_path_that_is_not_a_kernel(tmp_path):
    junk = tmp_path / "bzImage"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(KernelError, match="not an x86 Linux kernel image"):
        front.from_path(junk)


def test_kernel_path_missing():
    with pytest.raises(KernelError, match="no such file"):
        front.from_path("/nonexistent/bzImage")


def test_kernel_without_sched_ext_is_refused(kernel, tmp_path):
    # A real bzImage with a vmlinux beside it whose BTF lacks sched_ext_ops:
    # a tiny BPF object's BTF stands in for that vmlinux.
    (tmp_path / "bzImage").write_bytes(kernel.bzimage.read_bytes())
    clang = require_tool("clang")
    src = tmp_path / "x.c"
    src.write_text("struct not_sched_ext { int a; } v;\n")
    subprocess.run([clang, "-target", "bpf", "-g", "-c", str(src), "-o", str(tmp_path / "vmlinux")], check=True)
    with pytest.raises(KernelError, match="has no sched_ext"):
        front.from_path(tmp_path / "bzImage")


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
    again = front.default_kernel(progress=False)
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
