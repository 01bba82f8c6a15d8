"""Where scxpy keeps what it builds (kernels, objects, peers): outside the repo, one root for all."""

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
