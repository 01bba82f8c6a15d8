"""Pinned Debian packages from suites the host does not use (trixie, trixie-backports).

The guest's 7.x kernel sources and the pahole that can describe their
kfuncs are Debian binary packages of newer suites than the host's. They
are fetched with `apt-get download` through a private apt configuration
under the cache (its own sources.list, package lists and archive cache),
so the host's apt sources are never touched and no root is needed.
Every package is asked for by exact version; the .deb is kept under
`<cache>/debs/<name>=<version>/` (a base.cache entry), so a second fetch
needs no network.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
from pathlib import Path

from scxpy.base.cache import Cache, cache_root
from scxpy.base.errors import ScxpyError
from scxpy.vm.progress import Progress

MIRROR = "http://deb.debian.org/debian"
SUITES = ("trixie", "trixie-backports")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBS = Cache("debs")


class DebianFetchError(ScxpyError):
    """A pinned Debian package could not be fetched."""


def fetch(packages: dict[str, str], progress: Progress) -> dict[str, Path]:
    """Paths of the .debs for {name: version}, downloading those not yet cached."""
    found = {name: _cached_deb(name, version) for name, version in packages.items()}
    if all(found.values()):
        return found  # type: ignore[return-value]
    with _private_apt() as apt:
        # Again under the lock: another process may have fetched them meanwhile.
        found = {name: _cached_deb(name, version) for name, version in packages.items()}
        specs = [f"{n}={v}" for n, v in packages.items() if found[n] is None]
        if not specs:
            return found  # type: ignore[return-value]
        if _missing(apt, specs):
            progress.phase(f"apt: refreshing the package lists of {', '.join(SUITES)} (private, {apt.root})")
            apt.run("update", "-q")
        missing = _missing(apt, specs)
        if missing:
            raise DebianFetchError(
                f"Debian ({', '.join(SUITES)}) no longer offers {', '.join(missing)}: the mirror keeps "
                "only current versions. Update the pinned version in vm/kernel.py (kernel sources) or "
                f"vm/pahole.py (pahole and its libraries) to one `apt-cache policy` lists there."
            )
        progress.phase("apt: downloading " + ", ".join(specs))
        for spec in specs:
            with DEBS.writing(spec) as stage:
                apt.run("download", spec, cwd=stage)
            found[spec.split("=", 1)[0]] = _cached_deb(*spec.split("=", 1))
    return found  # type: ignore[return-value]


def unpack(deb: Path, dest: Path) -> None:
    """Unpack a .deb's files (not its scripts) under `dest`, as `dpkg -x` does."""
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise DebianFetchError(f"dpkg-deb could not unpack {deb}: {proc.stderr.strip()}")


def _cached_deb(name: str, version: str) -> Path | None:
    d = DEBS.get(f"{name}={version}")
    hits = sorted(d.glob("*.deb")) if d else []
    return hits[0] if hits else None


def _missing(apt: "_Apt", specs: list[str]) -> list[str]:
    """Those of `name=version` the package lists do not offer (one apt-cache run when all are there)."""
    def offered(*some: str) -> bool:
        return apt.run("show", *some, check=False, tool="apt-cache").returncode == 0

    if offered(*specs):
        return []
    return [spec for spec in specs if not offered(spec)]


class _Apt:
    """apt-get and apt-cache with every path of state pointed into `root`."""

    def __init__(self, root: Path):
        self.root = root

    def options(self) -> list[str]:
        r = self.root
        return [
            "-o", f"Dir::Etc::sourcelist={r / 'sources.list'}",
            "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::Etc::preferences={r / 'preferences'}",
            "-o", "Dir::Etc::preferencesparts=-",
            "-o", f"Dir::State::Lists={r / 'lists'}",
            "-o", "Dir::State::status=/dev/null",  # nothing is installed from here
            "-o", f"Dir::Cache={r / 'cache'}",
            "-o", "APT::Architecture=amd64",
            "-o", "Acquire::Languages=none",
            # Downloads land in our own cache; apt's _apt sandbox user could not write there.
            "-o", "APT::Sandbox::User=" + _current_user(),
        ]  # fmt: skip

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, tool: str = "apt-get"):
        exe = shutil.which(tool)
        if not exe:
            raise DebianFetchError(f"{tool} not found: fetching Debian packages needs a Debian host (apt)")
        proc = subprocess.run([exe, *self.options(), *args], cwd=cwd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise DebianFetchError(
                f"`{tool} {' '.join(args)}` (private apt configuration in {self.root}) failed:\n"
                f"{(proc.stdout + proc.stderr).strip()[-2000:]}\nCheck the network access to {MIRROR}."
            )
        return proc


def _current_user() -> str:
    import pwd
    import os

    return pwd.getpwuid(os.getuid()).pw_name


@contextlib.contextmanager
def _private_apt():
    """The private apt configuration, created on first use; one user at a time."""
    root = cache_root() / "apt"
    for sub in ("lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    sources = "".join(f"deb [signed-by={KEYRING}] {MIRROR} {suite} main\n" for suite in SUITES)
    if not (root / "sources.list").is_file() or (root / "sources.list").read_text() != sources:
        (root / "sources.list").write_text(sources)
    (root / "preferences").touch()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _Apt(root)
