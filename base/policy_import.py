"""How every policy file is imported: its own directory searched first.

A policy may import a helper module that sits beside it, as `python
POLICY.py` would find it. Both loaders (codegen's for DSL policies, the
runtime's for userspace ones) run the policy inside policy_dir_first(),
so every command (show, compile, run, run --vm, bench, dev, tune, check,
the Python API) finds the same helpers.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def policy_dir_first(path: str | os.PathLike):
    """While the policy runs, its own directory is first on the import path."""
    where = os.path.dirname(os.path.abspath(os.fspath(path)))
    sys.path.insert(0, where)
    try:
        yield
    finally:
        sys.path.remove(where)  # the first occurrence: ours, unless the policy moved it
