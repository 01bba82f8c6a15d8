"""What a guest kernel is, whichever way scxpy got it: the files the runner boots and policies compile against.

The three ways of getting one (vm/prebuilt.py: Debian's images;
vm/source_build.py: built from Debian's sources; vm/custom.py: any other
kernel, --kernel PATH) all hand back a KernelArtifacts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KernelArtifacts:
    dir: Path
    bzimage: Path  # what vng boots (and reads the release and modules' place from)
    vmlinux: Path  # uncompressed, with BTF: vmlinux.h, the peers, and a PVH boot where it helps
    config: Path
    vmlinux_h: Path
    release: str
    version: str | None = None  # X.Y of the Debian kernel; None: unknown (--kernel PATH)
    prebuilt: bool = False  # Debian's image, not built here
    pvh: bool = False  # `vmlinux` can be booted directly (CONFIG_PVH): skips decompression


def series_of(release: str) -> str | None:
    """`7.3` of `7.3.4+deb13-amd64` or `7.3.4-scxpy-...`."""
    m = re.match(r"(\d+\.\d+)", release)
    return m.group(1) if m else None
