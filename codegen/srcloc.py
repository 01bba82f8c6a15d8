"""Where in the user's policy a DSL object was written.

Every DSL node records the first stack frame outside codegen/ when it is
constructed, so errors and generated C comments point at user lines
(Amaranth's src_loc idea).
"""

from __future__ import annotations

import ast
import os
import re
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


def c_line_file(file: str) -> str:
    """`file` as it can stand in a C #line directive (only safe characters, so no injection)."""
    return re.sub(r"[^A-Za-z0-9_./+-]", "_", file)


@dataclass(frozen=True)
class TextOrigin:
    """Where a str literal was written: its first character's line and 0-based column.

    exact: the literal's k-th line is line `line + k` of the file (a plain or
    triple-quoted literal without escaped newlines or implicit concatenation).
    """
    file: str
    line: int
    col: int
    exact: bool


_AST_CACHE: dict[tuple[str, int], tuple[str, ast.AST]] = {}
_QUOTE = re.compile("[rRuUfFbB]*(\'\'\'|\"\"\"|\'|\")")


def _parsed(path: str):
    try:
        key = (path, os.stat(path).st_mtime_ns)
        if key not in _AST_CACHE:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            _AST_CACHE[key] = (text, ast.parse(text))
        return _AST_CACHE[key]
    except (OSError, SyntaxError, ValueError):
        return None


def _candidate_files(value: str, near: SrcLoc) -> list[str]:
    """The file of `near`, then every loaded module holding `value` itself as a global
    (a constant imported from another module, or defined elsewhere in this one)."""
    out = [abs_path(near.file)]
    for mod in list(sys.modules.values()):
        d = getattr(mod, "__dict__", None)
        f = getattr(mod, "__file__", None)
        if d and f and f.endswith(".py") and any(v is value for v in list(d.values())):
            f = os.path.abspath(f)
            if f not in out:
                out.append(f)
    return out


def string_origin(value: str, near: SrcLoc) -> TextOrigin | None:
    """Find the str literal `value` was written as: in the file of `near` (the call
    that received it; the closest literal at or after that line wins), else in
    a module that holds it as a global. None when it was computed at run time."""
    for path in _candidate_files(value, near):
        parsed = _parsed(path)
        if parsed is None:
            continue
        text, tree = parsed
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == value
                 and isinstance(n.value, str)]
        if not nodes:
            continue
        same = path == abs_path(near.file)
        node = min(nodes, key=lambda n: (n.lineno < near.line, abs(n.lineno - near.line))
                   if same else n.lineno)
        src_line = text.splitlines()[node.lineno - 1]
        m = _QUOTE.match(src_line, node.col_offset)
        col = m.end() if m else node.col_offset
        exact = m is not None and value.count("\n") == (node.end_lineno or node.lineno) - node.lineno
        return TextOrigin(display_path(path), node.lineno, col, exact)
    return None


def keyword_loc(call: SrcLoc, name: str) -> SrcLoc:
    """Where the `name=` argument of the call made at `call` is written (its own line,
    for calls spread over several lines); `call` itself when it cannot be found."""
    parsed = _parsed(abs_path(call.file))
    if parsed is None:
        return call
    for node in ast.walk(parsed[1]):
        if isinstance(node, ast.Call) and node.lineno == call.line:
            for kw in node.keywords:
                if kw.arg == name:
                    return SrcLoc(call.file, kw.value.lineno)
    return call
