"""scxpy's stock scheduling policies, one DSL file each.

stock() maps each policy name to its file; policy_file() turns what a
user types (a stock name or a path) into a file for codegen;
descriptions() gives the first line of each file's docstring (read
without importing the file).
"""

from __future__ import annotations

import ast
import os

_DIR = os.path.dirname(os.path.abspath(__file__))
ORDER = ("fifo", "vtime", "prio", "interactive", "layered", "local", "central", "deadline")


def stock() -> dict[str, str]:
    """Stock policy name -> absolute path of its .py file, in a stable order."""
    return {name: os.path.join(_DIR, f"{name}.py") for name in ORDER}


def policy_file(spec: str | os.PathLike) -> str:
    """POLICY as the CLI takes it (a stock name or a .py path) -> the policy file's path."""
    p = os.fspath(spec)
    if p.endswith(".py") or os.sep in p:
        return p
    found = stock().get(p)
    if found is None:
        from scxpy.codegen.errors import PolicyError

        raise PolicyError(f"unknown policy {p!r}: not a .py file and not a stock policy "
                          f"({', '.join(sorted(stock()))})")
    return found


def description(name: str) -> str:
    with open(stock()[name]) as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def descriptions() -> dict[str, str]:
    """Stock policy name -> one-line description."""
    return {name: description(name) for name in ORDER}
