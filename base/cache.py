"""Where scxpy keeps what it builds (kernels, objects, peers): outside the repo, one root for all."""

import functools
import hashlib
import os
from pathlib import Path


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
