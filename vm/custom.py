"""Any other kernel (--kernel PATH): checked, never built or fetched.

This module owns what scxpy accepts from a user's own kernel: a build
tree, or a bzImage with its vmlinux beside it, that has sched_ext in its
BTF. Its vmlinux.h is generated once and cached by the vmlinux's path,
size and mtime.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from scxpy.base.cache import Cache
from scxpy.vm import btf
from scxpy.vm.artifacts import KernelArtifacts
from scxpy.vm.errors import KernelError

CUSTOM = Cache("custom-kernels")  # <hash of the vmlinux>/: vmlinux.h of a --kernel PATH


def from_path(path: str | os.PathLike) -> KernelArtifacts:
    """Check a user-supplied kernel: a build tree, or a bzImage with its vmlinux beside it."""
    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise KernelError(f"--kernel {path}: no such file or directory")
    if p.is_dir():
        if (p / "bzImage").is_file():  # one of our cache directories
            bzimage, vmlinux = p / "bzImage", p / "vmlinux"
        else:
            bzimage, vmlinux = p / "arch/x86/boot/bzImage", p / "vmlinux"
    else:
        bzimage = p
        candidates = [p.parent / "vmlinux", p.parent.parent.parent.parent / "vmlinux"]
        vmlinux = next((c for c in candidates if c.is_file()), candidates[0])
    if not bzimage.is_file():
        raise KernelError(f"--kernel {path}: no bzImage found (looked for {bzimage})")
    if not _looks_like_bzimage(bzimage):
        raise KernelError(
            f"--kernel {path}: {bzimage} is not an x86 Linux kernel image (no 'HdrS' boot header). "
            "Pass a bzImage, a kernel build tree, or omit --kernel to use the default kernel."
        )
    if not vmlinux.is_file():
        raise KernelError(
            f"--kernel {path}: no vmlinux beside {bzimage}; scxpy needs it to check the kernel's "
            "BTF for sched_ext and to generate vmlinux.h. Pass the kernel build tree instead."
        )
    if not btf.has_sched_ext(vmlinux):
        raise KernelError(
            f"--kernel {path}: this kernel has no sched_ext (its BTF has no struct sched_ext_ops). "
            "Build it with CONFIG_SCHED_CLASS_EXT=y (and CONFIG_DEBUG_INFO_BTF=y), "
            "or omit --kernel to use the default kernel."
        )
    st = vmlinux.stat()
    key = hashlib.sha256(f"{vmlinux}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    meta, _hit = CUSTOM.get_or_build(key, lambda stage: btf.write_vmlinux_h(vmlinux, stage / "vmlinux.h"), "vmlinux.h")
    config = bzimage.parent / ".config" if p.is_dir() else vmlinux.parent / ".config"
    return KernelArtifacts(
        dir=meta, bzimage=bzimage, vmlinux=vmlinux, config=config,
        vmlinux_h=meta / "vmlinux.h", release=release_of(bzimage),
    )


def _looks_like_bzimage(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(0x210)
    return len(head) >= 0x206 and head[0x202:0x206] == b"HdrS"


def release_of(bzimage: Path) -> str:
    """The release string from the bzImage's boot header (kernel_version field)."""
    with open(bzimage, "rb") as f:
        data = f.read(0x10000)
    offset = int.from_bytes(data[0x20E:0x210], "little") + 0x200
    end = data.find(b"\0", offset)
    text = data[offset:end].decode(errors="replace")
    return text.split(" ")[0] or "unknown"
