"""Which guest kernel: Debian's prebuilt 7.3 by default, a source build, or any other kernel.

This module owns the choice and nothing else; the three ways of getting
a kernel live beside it:

- vm/prebuilt.py: Debian's prebuilt images of a series (7.3, the default;
  7.2, 7.1, 7.0), fetched and trimmed, never built;
- vm/source_build.py: kernels built here from Debian's `linux-source-X.Y`
  (6.12, the design card's kernel, which Debian ships without sched_ext);
- vm/custom.py: --kernel PATH.

`--kernel-version X.Y` takes the prebuilt image where Debian has one and
the source build otherwise (6.12); `scxpy kernel --build X.Y` asks for a
source build of any version vm/source_build.py knows.
"""

from __future__ import annotations

import os
from pathlib import Path

from scxpy.vm import prebuilt, source_build
from scxpy.vm.artifacts import KernelArtifacts
from scxpy.vm.custom import from_path
from scxpy.vm.errors import KernelError
from scxpy.vm.source_build import source, source_identity, source_tree

__all__ = ["KernelArtifacts", "DEFAULT_VERSION", "kernel", "default_kernel", "built", "from_path",
           "from_cache_dir", "versions", "require_known", "offers", "source", "source_identity", "source_tree"]

DEFAULT_VERSION = "7.3"


def versions() -> list[str]:
    """Every X.Y `--kernel-version` takes: the prebuilt series, then the source builds."""
    return list(prebuilt.SERIES) + [v for v in source_build.SOURCES if v not in prebuilt.SERIES]


def require_known(version: str) -> None:
    """Refuse a version scxpy offers neither prebuilt nor as a source build, listing those it does
    (before anything is fetched or built)."""
    if version in prebuilt.SERIES or version in source_build.SOURCES:
        return
    raise KernelError(
        f"--kernel-version {version}: scxpy offers Debian's prebuilt {', '.join(prebuilt.SERIES)} and "
        f"source builds of {', '.join(source_build.SOURCES)}; pick one of those "
        "(`scxpy kernel` lists them), or pass --kernel PATH with a kernel you built"
    )


def kernel(version: str | None = None, progress: bool = True) -> KernelArtifacts:
    """The guest kernel of `version` (default 7.3): Debian's image where it has one, else the source build."""
    version = version or DEFAULT_VERSION
    require_known(version)
    if version in prebuilt.SERIES:
        return prebuilt.kernel(version, progress)
    return source_build.kernel(version, progress)


def default_kernel(progress: bool = True) -> KernelArtifacts:
    """The default guest, and the kernel whose BTF (vmlinux.h) policies compile against."""
    return kernel(DEFAULT_VERSION, progress)


def built(version: str, progress: bool = True) -> KernelArtifacts:
    """A source build of `version`, even where Debian has a prebuilt image."""
    return source_build.kernel(version, progress)


def from_cache_dir(d: Path) -> KernelArtifacts:
    """The artifacts of a kernel cache directory (the guest learns it from $SCXPY_KERNEL_DIR)."""
    d = Path(d)
    if prebuilt.is_prepared_dir(d):
        return prebuilt.from_cache_dir(d)
    return source_build.from_cache_dir(d)


def offers() -> list[tuple[str, str, str, int | None]]:
    """(version, how, state, bytes on disk) for every kernel on offer, from the cache alone (no network)."""
    rows = []
    for s in prebuilt.SERIES:
        builds = prebuilt.cached_builds(s)
        if builds:
            rows.append((s, f"Debian prebuilt {prebuilt.FLAVOUR}", f"cached: {builds[-1].name.split('=')[0]}",
                         _size(builds[-1])))
        else:
            rows.append((s, f"Debian prebuilt {prebuilt.FLAVOUR}", "fetched on first use (~122 MB of .debs)", None))
    for v in source_build.SOURCES:
        k = source_build.cached(v)
        how = "source build" + (" (--build)" if v in prebuilt.SERIES else "")
        rows.append((v, how, f"cached: {k.release}" if k else "built on first use (minutes)",
                     _size(k.dir) if k else None))
    return rows


def _size(d: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(d):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total
