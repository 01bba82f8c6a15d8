"""Compile the runtime's hand-written BPF fixtures (cached by content).

Objects are a base.cache.Cache entry, keyed by the source, the exit_info
header, the defines, the vmlinux.h and the clang binary, so the VM tier
finds what the host tier compiled; where the cache is not writable we
compile into the scratch (or a temporary) directory.
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from pathlib import Path

from scxpy.base.manifest import Manifest, Stats, Tunable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# What codegen would write for minimal_sched.bpf.c (its globals and counters).
MINIMAL_MANIFEST = Manifest(
    name="scxpy_min", description="the runtime's minimal test scheduler", source="",
    tunables=(Tunable("slice", "slice_ns", 0, None, None, True, "ns", ""),
              Tunable("error_after", "error_after", 0, None, None, False, None, "")),
    stats=Stats("scxpy_stats", ("enqueue", "dispatch", "direct"), row_bytes=64),
)


def _multiarch_include() -> list[str]:
    # <linux/bpf.h> needs <asm/types.h>, which Debian keeps per architecture.
    arch = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(platform.machine())
    d = Path("/usr/include") / arch if arch else None
    return [f"-I{d}"] if d and d.is_dir() else []


def compile_fixture(name: str, *, defines: dict | None = None, vmlinux_h: Path | None = None) -> Path:
    """Compile tests/runtime_fixtures/NAME.bpf.c; returns the .bpf.o path."""
    from scxpy.base.cache import Cache, file_digest
    from scxpy.base.tools import require_tool
    from scxpy.runtime.exit_info import HEADER, INCLUDE_DIR

    clang = require_tool("clang")
    src = HERE / f"{name}.bpf.c"
    args = ["-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", f"-I{INCLUDE_DIR}"]
    args += [f"-D{k}={v}" for k, v in sorted((defines or {}).items())]
    if vmlinux_h is None:
        args += _multiarch_include()
    parts = [src.read_text(), file_digest(HEADER), os.path.realpath(clang), *args,
             file_digest(vmlinux_h) if vmlinux_h is not None else ""]
    obj = f"{name}.bpf.o"

    def build(stage: Path) -> None:
        extra = []
        if vmlinux_h is not None:  # the fixtures say #include "vmlinux.h"
            (stage / "vmlinux.h").symlink_to(Path(vmlinux_h).resolve())
            extra = [f"-I{stage}"]
        subprocess.run([clang, *args, *extra, "-c", str(src), "-o", str(stage / obj)], check=True)
        (stage / "vmlinux.h").unlink(missing_ok=True)

    cache = Cache("runtime-fixtures")
    key = cache.key(*parts)
    try:
        d, _ = cache.get_or_build(key, build, obj)
    except OSError:  # a cache this process cannot write (a read-only mount): build into the scratch
        scratch = Cache("runtime-fixtures", root=os.environ.get("SCXPY_SCRATCH") or tempfile.gettempdir())
        d, _ = scratch.get_or_build(key, build, obj)
    return d / obj
