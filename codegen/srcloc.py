"""Where in the user's policy a DSL object was written.

Every DSL node records the first stack frame outside codegen/ when it is
constructed, so errors and generated C comments point at user lines
(Amaranth's src_loc idea).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

_CODEGEN_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class SrcLoc:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def c_comment_text(self) -> str:
        """file:line, safe inside a C block comment (no '*/', no control characters)."""
        return c_comment_safe(str(self))


def c_comment_safe(text: str) -> str:
    out = []
    for ch in text:
        # Only printable ASCII, never a comment terminator or a line break.
        out.append(ch if 0x20 <= ord(ch) < 0x7F else "?")
    return "".join(out).replace("*/", "*?").replace("/*", "/?")


def caller_loc() -> SrcLoc:
    """The innermost frame that is not codegen's own code."""
    frame = sys._getframe(1)
    while frame is not None:
        fname = os.path.abspath(frame.f_code.co_filename)
        if os.path.dirname(fname) != _CODEGEN_DIR:
            return SrcLoc(display_path(fname), frame.f_lineno)
        frame = frame.f_back
    return SrcLoc("<unknown>", 0)


def display_path(path: str) -> str:
    """Repository-relative when the file is inside the scxpy checkout, else absolute.

    Keeps generated C identical across working directories (determinism).
    """
    root = os.path.dirname(_CODEGEN_DIR)
    path = os.path.abspath(path)
    if path.startswith(root + os.sep):
        return os.path.relpath(path, root)
    return path


def abs_path(shown: str) -> str:
    """Inverse of display_path()."""
    if os.path.isabs(shown):
        return shown
    return os.path.join(os.path.dirname(_CODEGEN_DIR), shown)


def source_line(loc: SrcLoc) -> str | None:
    """The text of the policy line `loc` points at, if the file can be read."""
    try:
        with open(abs_path(loc.file), encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                if i == loc.line:
                    return line.rstrip("\n")
    except OSError:
        pass
    return None
