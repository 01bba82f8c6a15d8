"""Where scxpy keeps what it builds (kernels, objects, peers): outside the repo, one root for all.

`Cache(kind)` is the one content-addressed store every folder uses:

    objects = Cache("objects")
    key = objects.key(c_text, clang_version, *flags)   # everything that shapes the artefact
    d = objects.get(key, "policy.bpf.o")                # the entry's directory on a hit, else None
    with objects.writing(key) as stage:                 # a group of files under one key
        (stage / "policy.bpf.o").write_bytes(...)       # ... published on exit, all or nothing

An entry is the directory `<root>/<kind>/<key>/`. It is built in a
private staging directory beside it and published with one `os.replace`,
so a reader sees the whole group or nothing, and a killed builder never
leaves a half entry that counts as a hit. Where builders are expensive
and may race (a kernel, the peers), `lock(key)` makes the others wait
and then take the winner's entry. Staging left by a killed builder is
removed by the next writer of that kind.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# Staging directories: .stage-<boot id>-<pid>-<random>. The boot id tells a
# guest's builders (own pid namespace, same cache over 9p) from the host's.
_STAGE_PREFIX = ".stage-"
_STAGE_RE = re.compile(r"\.stage-([0-9a-f]+)-(\d+)-")
# A staging directory this old is abandoned whoever made it (a kernel build takes minutes).
_STALE_AFTER_S = 24 * 3600


def cache_root() -> Path:
    """$SCXPY_CACHE_DIR, else $XDG_CACHE_HOME/scxpy, else ~/.cache/scxpy."""
    env = os.environ.get("SCXPY_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "scxpy"


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's content, remembered while its size and mtime stay the same."""
    st = os.stat(path)
    return _file_digest(os.fspath(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest(*parts: str | bytes) -> str:
    """sha256 over `parts`, each length-prefixed so that no two lists of parts collide."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else bytes(part)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class Cache:
    """Entries of one kind under `<root>/<kind>/<key>/`, each a group of files written at once."""

    def __init__(self, kind: str, root: str | os.PathLike | None = None):
        if not kind or "/" in kind or kind.startswith("."):
            raise ValueError(f"bad cache kind {kind!r}")
        self.kind = kind
        self._root = Path(root) if root is not None else None

    @property
    def dir(self) -> Path:
        # Looked up on each use: tests and benchmarks move $SCXPY_CACHE_DIR.
        return (self._root if self._root is not None else cache_root()) / self.kind

    def key(self, *parts: str | bytes) -> str:
        """A key from everything that affects the artefact (the kind is part of it)."""
        return digest(self.kind, *parts)

    def path(self, key: str) -> Path:
        """Where the entry for `key` lives (whether or not it exists)."""
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"bad cache key {key!r}")
        return self.dir / key

    def get(self, key: str, *required: str) -> Path | None:
        """The entry's directory if it exists and holds every `required` file, else None."""
        d = self.path(key)
        if not d.is_dir() or not all((d / name).exists() for name in required):
            return None
        return d

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        """Yield an empty staging directory; on a clean exit publish it as the entry of `key`.

        If the entry already exists (another writer won the race) it is kept
        and the staged files are dropped: equal keys mean equal content.
        On an exception nothing is published.
        """
        final = self.path(key)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.remove_stale_staging()
        stage = Path(tempfile.mkdtemp(prefix=f"{_STAGE_PREFIX}{_boot_id()}-{os.getpid()}-", dir=self.dir))
        try:
            os.chmod(stage, 0o755)  # mkdtemp's 0700 would make the entry private
            yield stage
            try:
                os.replace(stage, final)
            except OSError:
                if not final.is_dir():  # not a lost race: a real failure
                    raise
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, key: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the builders' lock of `key` (fcntl.flock); `on_wait` runs if another holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / f".lock-{key}", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def get_or_build(self, key: str, build: Callable[[Path], None], *required: str,
                     lock: bool = False, on_wait: Callable[[], None] | None = None) -> tuple[Path, bool]:
        """(entry directory, was a hit): `build(stage)` fills the staging directory on a miss.

        With `lock`, one builder per key runs at a time; the others wait and
        then take its entry (for builds that take long enough to race).
        """
        hit = self.get(key, *required)
        if hit:
            return hit, True
        with self.lock(key, on_wait) if lock else contextlib.nullcontext():
            hit = self.get(key, *required)
            if hit:
                return hit, True
            with self.writing(key) as stage:
                build(stage)
            return self.path(key), False

    def remove_stale_staging(self) -> None:
        """Remove staging directories whose builder is gone (killed, or from a finished boot)."""
        try:
            entries = list(os.scandir(self.dir))
        except FileNotFoundError:
            return
        me = _boot_id()
        now = time.time()
        for e in entries:
            m = _STAGE_RE.match(e.name)
            if not m:
                continue
            try:
                old = now - e.stat(follow_symlinks=False).st_mtime > _STALE_AFTER_S
            except FileNotFoundError:
                continue
            dead = m.group(1) == me and not _pid_alive(int(m.group(2)))
            if dead or old:
                shutil.rmtree(e.path, ignore_errors=True)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write one file so that a reader sees the old content or the new, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@functools.lru_cache(maxsize=1)
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip().replace("-", "")[:12]
    except OSError:
        return "0"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
