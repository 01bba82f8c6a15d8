"""scxpy's stock scheduling policies, one DSL file each.

stock() maps each policy name to its file; policy_file() turns what a
user types (a stock name or a path) into a file for codegen;
stock_policy() gives a stock policy's Scheduler class, to subclass;
descriptions() gives the first line of each file's docstring (read
without importing the file).
"""

from __future__ import annotations

import ast
import os

_DIR = os.path.dirname(os.path.abspath(__file__))
ORDER = ("fifo", "vtime", "prio", "interactive", "layered", "local", "central", "deadline", "cgroup")
# Userspace policies (scxpy.UserScheduler): decisions made by Python methods at run time.
USERSPACE = ("uvtime", "ushortest")


def stock() -> dict[str, str]:
    """Stock policy name -> absolute path of its .py file, in a stable order."""
    return {name: os.path.join(_DIR, f"{name}.py") for name in ORDER}


def userspace_stock() -> dict[str, str]:
    """Stock userspace policy name -> its file (not in stock(): codegen compiles those alone)."""
    return {name: os.path.join(_DIR, f"{name}.py") for name in USERSPACE}


def policy_file(spec: str | os.PathLike) -> str:
    """POLICY as the CLI takes it (a stock name or a .py path) -> the policy file's path."""
    p = os.fspath(spec)
    if p.endswith(".py") or os.sep in p:
        return p
    found = stock().get(p) or userspace_stock().get(p)
    if found is None:
        from scxpy.codegen.errors import PolicyError

        raise PolicyError(f"unknown policy {p!r}: not a .py file and not a stock policy "
                          f"({', '.join(sorted([*stock(), *userspace_stock()]))})")
    return found


def stock_policy(name: str) -> type:
    """The Scheduler class of the stock policy `name`, e.g. to subclass:
    `class MyVtime(stock_policy("vtime")): timeout = 5000 * ms`."""
    import importlib

    from scxpy.codegen.dsl import Scheduler

    if name not in ORDER:
        from scxpy.codegen.errors import PolicyError

        raise PolicyError(f"stock_policy({name!r}): no such stock policy; the stock policies are "
                          f"{', '.join(ORDER)} (`scxpy list` describes them)")
    module = importlib.import_module(f"{__name__}.{name}")
    (cls,) = [v for v in vars(module).values()
              if isinstance(v, type) and issubclass(v, Scheduler) and v.__module__ == module.__name__]
    return cls


def description(name: str) -> str:
    with open(policy_file(name)) as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def descriptions() -> dict[str, str]:
    """Stock policy name -> one-line description."""
    return {name: description(name) for name in ORDER}


def userspace_descriptions() -> dict[str, str]:
    """Stock userspace policy name -> one-line description."""
    return {name: description(name) for name in USERSPACE}
