"""pahole new enough for the kernel being built.

From 7.x the sched_ext kfuncs take implicit arguments (KF_IMPLICIT_ARGS)
and their BPF-visible prototypes come from pahole's kfunc decl tags
(`--btf_features=decl_tag_kfuncs`, pahole >= 1.26). Built with an older
pahole, the kernel boots but its BTF lacks those prototypes and no
sched_ext scheduler loads. Debian 12 (bookworm) has pahole 1.24.

When the host's pahole is too old, this module installs trixie's pahole
privately: the pinned .debs of pahole and of every library it needs,
glibc included (trixie's pahole needs glibc 2.38, bookworm has 2.36), are
unpacked under `<cache>/tools/` and a wrapper runs pahole through that
glibc's own loader with `--library-path`, never touching the host's
libraries. The kernel build gets the wrapper as `PAHOLE=`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scxpy.base.cache import Cache, digest
from scxpy.base.tools import ToolMissing, require_tool
from scxpy.vm import debian
from scxpy.vm.errors import KernelError
from scxpy.vm.progress import Progress

# trixie's pahole and its run-time closure (apt-cache depends, recursively),
# pinned: a change here is a different pahole and so a different kernel.
TRIXIE_PAHOLE = {
    "pahole": "1.30-1",
    "libbpf1": "1:1.5.0-3",
    "libdw1t64": "0.192-4",
    "libelf1t64": "0.192-4",
    "libc6": "2.41-12+deb13u5",
    "libgcc-s1": "14.2.0-19",
    "zlib1g": "1:1.3.dfsg+really1.3.1-1+deb13u1",
    "libzstd1": "1.5.7+dfsg-1",
    "liblzma5": "5.8.1-1+deb13u2",
    "libbz2-1.0": "1.0.8-6",
}
LIBDIR = "usr/lib/x86_64-linux-gnu"
TOOLS = Cache("tools")  # pahole-<version>-<hash>/: root/ (the unpacked .debs), bin/pahole
_TRIXIE_IDENTITY = "trixie " + " ".join(f"{n}={v}" for n, v in sorted(TRIXIE_PAHOLE.items()))


@dataclass(frozen=True)
class Pahole:
    path: str
    version: tuple[int, int]
    identity: str  # what the kernel cache key records about it

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def pahole_for(minimum: tuple[int, int] | None, progress: Progress) -> Pahole:
    """The host's pahole when it is at least `minimum` (or none is needed), else trixie's (installed on first use)."""
    host = _host_pahole(required=minimum is None)
    if host and (minimum is None or host.version >= minimum):
        return host
    progress.phase(
        (f"host pahole {host.version_text}" if host else "no host pahole") + " is older than the "
        f"{minimum[0]}.{minimum[1]} this kernel's BTF needs (kfunc decl tags); using Debian trixie's pahole"
    )
    return _trixie_pahole(progress)


def identity_for(minimum: tuple[int, int] | None) -> str:
    """What pahole_for(minimum) would return, for the kernel cache key, without installing anything."""
    host = _host_pahole(required=minimum is None)
    if host and (minimum is None or host.version >= minimum):
        return host.identity
    return _TRIXIE_IDENTITY


def _host_pahole(required: bool) -> Pahole | None:
    try:
        path = require_tool("pahole")
    except ToolMissing:
        if required:
            raise
        return None
    version = version_of(path)
    return Pahole(path, version, f"host pahole {version[0]}.{version[1]}")


def version_of(pahole: str) -> tuple[int, int]:
    proc = subprocess.run([pahole, "--version"], capture_output=True, text=True)
    m = re.search(r"v?(\d+)\.(\d+)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise KernelError(f"`{pahole} --version` failed: {(proc.stdout + proc.stderr).strip()}")
    return int(m.group(1)), int(m.group(2))


def _trixie_pahole(progress: Progress) -> Pahole:
    key = f"pahole-{TRIXIE_PAHOLE['pahole']}-{digest(_TRIXIE_IDENTITY)[:10]}"

    def install(stage: Path) -> None:
        debs = debian.fetch(TRIXIE_PAHOLE, progress)
        progress.phase(f"installing pahole {TRIXIE_PAHOLE['pahole']} (Debian trixie, with its own glibc) "
                       f"into {TOOLS.path(key)}")
        for deb in debs.values():
            debian.unpack(deb, stage / "root")
        (stage / "bin").mkdir()
        _write_wrapper(stage / "bin" / "pahole", TOOLS.path(key) / "root")

    d, _hit = TOOLS.get_or_build(key, install, "bin/pahole", lock=True)
    wrapper = d / "bin" / "pahole"
    version = version_of(str(wrapper))
    if version < (1, 26):
        raise KernelError(f"{wrapper} reports pahole {version}, expected {TRIXIE_PAHOLE['pahole']}")
    return Pahole(str(wrapper), version, _TRIXIE_IDENTITY)


def _write_wrapper(path: Path, root: Path) -> None:
    # The loader of the unpacked glibc runs pahole with only the unpacked
    # libraries: the host's older glibc never mixes in.
    lib = root / LIBDIR
    path.write_text(
        "#!/bin/sh\n"
        "# trixie's pahole through trixie's glibc loader (written by scxpy vm/pahole.py)\n"
        f'exec "{lib}/ld-linux-x86-64.so.2" --library-path "{lib}" "{root}/usr/bin/pahole" "$@"\n'
    )
    path.chmod(0o755)
