"""Debian packages from suites the host does not use (trixie, trixie-backports).

The guest's prebuilt 7.x kernels, the 7.x kernel sources and the pahole
that can describe their kfuncs are Debian binary packages of newer
suites than the host's. They
are fetched with `apt-get download` through a private apt configuration
under the cache (its own sources.list, package lists and archive cache),
so the host's apt sources are never touched and no root is needed.
Every package is asked for by exact version; apt checks each download
against the signed index. The .deb is kept under
`<cache>/debs/<name>=<version>/` (a base.cache entry) with the sha256 the
index gave it, checked again on every reuse, so a second fetch needs no
network and a damaged .deb is fetched again, never used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from scxpy.base.cache import Cache, atomic_write, cache_root, digest, file_digest
from scxpy.base.errors import ScxpyError
from scxpy.vm.progress import Progress

DEFAULT_MIRROR = "http://deb.debian.org/debian"


def mirror() -> str:
    """$SCXPY_DEBIAN_MIRROR (a local mirror or proxy), else deb.debian.org."""
    return os.environ.get("SCXPY_DEBIAN_MIRROR") or DEFAULT_MIRROR

SUITES = ("trixie", "trixie-backports")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBS = Cache("debs")
# The package lists are refreshed when older than this, so that a new
# build of a kernel series is seen within a day.
LISTS_MAX_AGE_S = 24 * 3600


class DebianFetchError(ScxpyError):
    """A pinned Debian package could not be fetched."""


class MirrorUnreachable(DebianFetchError):
    """The package lists could not be refreshed (no network, or the mirror is down)."""


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
                apt.run("download", spec, cwd=stage)  # apt checks it against the signed index
                debs = list(stage.glob("*.deb"))
                (stage / "sha256").write_text(f"{file_digest(debs[0])}  {debs[0].name}\n" if debs else "")
            found[spec.split("=", 1)[0]] = _cached_deb(*spec.split("=", 1))
    return found  # type: ignore[return-value]


def sha256_of(deb: Path) -> str:
    """The sha256 recorded when `deb` was downloaded (apt had checked it against the signed index)."""
    return (deb.parent / "sha256").read_text().split()[0]


def offered(name_regex: str, max_age_s: float = LISTS_MAX_AGE_S, progress: Progress | None = None) -> dict[str, str]:
    """{package: newest version} of the packages whose name matches `name_regex` (anchored).

    Reads the private package lists, refreshing them first when they are
    missing or older than `max_age_s`. MirrorUnreachable when they must be
    refreshed and cannot be.
    """
    with _private_apt() as apt:
        lists = sorted((apt.root / "lists").glob("*_Packages*"))
        age = time.time() - min((f.stat().st_mtime for f in lists), default=0)
        if not lists or age > max_age_s:
            if progress:
                progress.phase(f"apt: refreshing the package lists of {', '.join(SUITES)} (private, {apt.root})")
            proc = apt.run("update", "-q", check=False)
            if proc.returncode != 0 or "Err:" in proc.stdout:
                if not lists or max_age_s == 0:
                    raise MirrorUnreachable(
                        f"could not refresh the package lists of {', '.join(SUITES)} from {mirror()}: "
                        + _last_error(proc.stdout + proc.stderr))
            # Stale lists still name builds that were current a day ago; the
            # fetch says so if one has gone.
            lists = sorted((apt.root / "lists").glob("*_Packages*"))
        # apt-cache takes seconds over these lists; its answer holds until they change.
        state = digest(name_regex, *(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in lists))
        memo = apt.root / "offered.json"
        try:
            remembered = json.loads(memo.read_text())
        except (OSError, ValueError):
            remembered = {}
        if remembered.get(name_regex, {}).get("state") == state:
            return remembered[name_regex]["offered"]
        names = apt.run("search", "--names-only", f"^{name_regex}$", tool="apt-cache").stdout.split("\n")
        names = [line.split(" - ", 1)[0].strip() for line in names if line.strip()]
        out: dict[str, str] = {}
        if names:
            for line in apt.run("madison", *names, tool="apt-cache").stdout.splitlines():
                parts = [p.strip() for p in line.split("|")]
                if len(parts) >= 2 and parts[0] not in out:
                    out[parts[0]] = parts[1]  # madison lists the newest version first
        remembered[name_regex] = {"state": state, "offered": out}
        atomic_write(memo, json.dumps(remembered).encode())
        return out


def _last_error(text: str) -> str:
    """apt's first failure, on one line: `Err:1 URL` and its reason on the line below."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Err:"):
            reason = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith(" ") else ""
            return f"{line.strip()}: {reason}".rstrip(": ")
    errs = [line.strip() for line in lines if line.startswith(("E:", "W:"))]
    return (errs[-1] if errs else text.strip()[-300:]) or "apt-get update failed"


def unpack(deb: Path, dest: Path) -> None:
    """Unpack a .deb's files (not its scripts) under `dest`, as `dpkg -x` does.

    dpkg-deb dies with us: a killed preparation must not go on writing into
    the staging directory the next run removes.
    """
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True,
                          preexec_fn=_die_with_parent)
    if proc.returncode != 0:
        raise DebianFetchError(f"dpkg-deb could not unpack {deb}: {proc.stderr.strip()}")


def _die_with_parent() -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 9)  # SIGKILL when the parent dies


def _cached_deb(name: str, version: str) -> Path | None:
    """The cached .deb, if it is whole: its sha256 is still the one apt checked. A damaged one is removed."""
    d = DEBS.get(f"{name}={version}")
    hits = sorted(d.glob("*.deb")) if d else []
    if not hits:
        return None
    recorded = d / "sha256"
    if recorded.is_file():
        if file_digest(hits[0]) == sha256_of(hits[0]):
            return hits[0]
    elif hits[0].stat().st_size > 0:
        return hits[0]  # fetched before the sha256 was recorded: dpkg-deb will check its structure
    # Truncated or changed since it was fetched: drop the entry so that it is fetched again.
    shutil.rmtree(d, ignore_errors=True)
    return None


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
                f"{(proc.stdout + proc.stderr).strip()[-2000:]}\nCheck the network access to {mirror()}."
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
    sources = "".join(f"deb [signed-by={KEYRING}] {mirror()} {suite} main\n" for suite in SUITES)
    if not (root / "sources.list").is_file() or (root / "sources.list").read_text() != sources:
        (root / "sources.list").write_text(sources)
    (root / "preferences").touch()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _Apt(root)
