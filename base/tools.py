"""External tools, found in one place.

Each tool has an environment override (SCXPY_<NAME>, e.g. SCXPY_CLANG)
and an actionable error when it is missing.
"""

from __future__ import annotations

import os
import shutil

from scxpy.base.errors import ScxpyError

# name -> (candidate executables in preference order, Debian package)
_TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "clang": (("clang-16", "clang-17", "clang-18", "clang"), "clang-16"),
    "llvm-strip": (("llvm-strip-16", "llvm-strip"), "llvm-16"),
    "bpftool": (("bpftool", "/usr/sbin/bpftool"), "bpftool (from bookworm-backports)"),
    "pahole": (("pahole",), "dwarves"),
    "vng": (("vng",), "virtme-ng (pip; run scripts/setup.sh)"),
    "qemu-system-x86_64": (("qemu-system-x86_64",), "qemu-system-x86"),
    "make": (("make",), "build-essential"),
    "stress-ng": (("stress-ng",), "stress-ng"),
    "hackbench": (("hackbench",), "rt-tests"),
    "cyclictest": (("cyclictest",), "rt-tests"),
}


class ToolMissing(ScxpyError):
    pass


def env_var(name: str) -> str:
    return "SCXPY_" + name.upper().replace("-", "_")


def require_tool(name: str) -> str:
    """Return the path of tool `name`, or raise ToolMissing saying how to get it."""
    candidates, package = _TOOLS.get(name, ((name,), name))
    override = os.environ.get(env_var(name))
    if override:
        found = shutil.which(override)
        if not found:
            raise ToolMissing(
                f"{env_var(name)}={override!r} does not name an executable; "
                f"fix the variable or unset it to search PATH for {name}"
            )
        return found
    for cand in candidates:
        found = shutil.which(cand) or _venv_bin(cand)
        if found:
            return found
    raise ToolMissing(
        f"{name} not found (looked for {', '.join(candidates)} on PATH). "
        f"Install {package} (scripts/setup.sh does), or set {env_var(name)} to its path."
    )


def _venv_bin(cand: str) -> str | None:
    # Console scripts of our own virtualenv (vng) even when it is not activated.
    import sys

    path = os.path.join(os.path.dirname(sys.executable), cand)
    return path if os.access(path, os.X_OK) else None
