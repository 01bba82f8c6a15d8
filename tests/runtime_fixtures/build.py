"""Compile the runtime's hand-written BPF fixtures (cached by content).

Objects are cached under the scxpy cache root, keyed by the source, the
defines, the vmlinux.h and the clang binary, so the VM tier finds what
the host tier compiled (the guest sees the host's file system read-only);
where the cache is not writable we compile into a temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from base.manifest import Manifest, Stats, Tunable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# What codegen would write for minimal_sched.bpf.c (its globals and counters).
MINIMAL_MANIFEST = Manifest(
    name="scxpy_min", description="the runtime's minimal test scheduler", source="",
    tunables=(Tunable("slice", "slice_ns", 0, None, None, True, "ns", ""),
              Tunable("error_after", "error_after", 0, None, None, False, None, "")),
    stats=Stats("scxpy_stats", ("enqueue", "dispatch", "direct")),
)


def _cache_dir() -> Path:
    from base.cache import cache_root

    return cache_root() / "runtime-fixtures"


def _multiarch_include() -> list[str]:
    # <linux/bpf.h> needs <asm/types.h>, which Debian keeps per architecture.
    arch = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(platform.machine())
    d = Path("/usr/include") / arch if arch else None
    return [f"-I{d}"] if d and d.is_dir() else []


def compile_fixture(name: str, *, defines: dict | None = None, vmlinux_h: Path | None = None) -> Path:
    """Compile tests/runtime_fixtures/NAME.bpf.c; returns the .bpf.o path."""
    from runtime.exit_info import INCLUDE_DIR
    from base.tools import require_tool

    clang = require_tool("clang")
    src = HERE / f"{name}.bpf.c"
    args = ["-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", f"-I{INCLUDE_DIR}"]
    args += [f"-D{k}={v}" for k, v in sorted((defines or {}).items())]
    key = hashlib.sha256()
    key.update(src.read_bytes())
    key.update((INCLUDE_DIR / "scxpy" / "exit_info.h").read_bytes())
    key.update(repr((args, os.path.realpath(clang))).encode())
    if vmlinux_h is not None:
        key.update(Path(vmlinux_h).read_bytes())
    else:
        args += _multiarch_include()
    digest = key.hexdigest()[:16]
    suffix = "-".join(f"{k}{v}" for k, v in sorted((defines or {}).items()))
    filename = f"{name}{'-' + suffix if suffix else ''}-{digest}.bpf.o".replace('"', "")
    cached = _cache_dir() / filename
    if cached.is_file():
        return cached
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        out_dir = cached.parent if os.access(cached.parent, os.W_OK) else None
    except OSError:
        out_dir = None
    if out_dir is None:
        out_dir = Path(os.environ.get("SCXPY_SCRATCH") or tempfile.gettempdir()) / "runtime-fixtures"
        out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / filename
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="scxpy-vmlinux-") as inc:
        if vmlinux_h is not None:  # the fixtures say #include "vmlinux.h"
            (Path(inc) / "vmlinux.h").symlink_to(Path(vmlinux_h).resolve())
            args.append(f"-I{inc}")
        subprocess.run([clang, *args, "-c", str(src), "-o", str(tmp)], check=True)
    os.replace(tmp, out)  # atomic: a concurrent reader never sees half an object
    return out
