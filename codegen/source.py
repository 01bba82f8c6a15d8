"""Reading the policy's own source: the line of each class attribute, and a
Rule(...) call as written (for the generated file's header). Positions come
from the Python source, so errors and C comments point at the user's lines."""

from __future__ import annotations

import ast
import inspect
import textwrap

from scxpy.codegen.srcloc import SrcLoc, abs_path, display_path


def class_source(cls) -> tuple[str, int, dict[str, int]]:
    """The policy file, the class line and the line of each class attribute assignment."""
    try:
        path = inspect.getsourcefile(cls) or "<unknown>"
        lines, start = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return getattr(cls, "__module__", "<unknown>"), 0, {}
    attr_lines: dict[str, int] = {}
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
        node = tree.body[0]
        for stmt in node.body:  # type: ignore[attr-defined]
            targets = []
            if isinstance(stmt, ast.Assign):
                targets = stmt.targets
            elif isinstance(stmt, ast.AnnAssign):
                targets = [stmt.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    attr_lines[t.id] = start + stmt.lineno - 1
    except (SyntaxError, IndexError):
        pass
    return display_path(path), start, attr_lines


def call_source(loc: SrcLoc, fn: str) -> str:
    """The `fn(...)` call written at `loc`, whitespace collapsed; "" when the source is unavailable."""
    try:
        with open(abs_path(loc.file)) as f:
            text = f.read()
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno == loc.line and \
                isinstance(node.func, ast.Name) and node.func.id == fn:
            seg = ast.get_source_segment(text, node) or ""
            return " ".join(seg.split())
    return ""
