"""Load a policy file: a .py defining exactly one Scheduler subclass."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import threading
import traceback

from scxpy.base.policy_import import policy_dir_first

from scxpy.codegen import dsl
from scxpy.codegen.errors import PolicyError
from scxpy.codegen.srcloc import SrcLoc, display_path


# Held while a policy is loaded and while its model is built: module
# registration in sys.modules is process-wide, and CPython 3.11's ast module
# (ast.parse, inspect.getsourcelines) fails with "AST constructor recursion
# depth mismatch" when two threads parse at once. Reentrant: build_model()
# holds it around loading too.
LOCK = threading.RLock()


def load_policy_file(path: str):
    """Import `path` and return its one Scheduler subclass, or raise PolicyError.

    Every command loads a policy through here (show, compile, run, bench,
    dev, the Python API), so a helper module beside the policy imports the
    same way everywhere."""
    with LOCK, policy_dir_first(path):
        return _load(path)


def _load(path: str):
    path = os.path.abspath(path)
    shown = display_path(path)
    if not os.path.isfile(path):
        raise PolicyError(f"policy file {shown} does not exist")
    mod_name = "scxpy_policy_" + "".join(ch if ch.isalnum() else "_" for ch in path)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise PolicyError(f"{shown} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except PolicyError:
        sys.modules.pop(mod_name, None)
        raise
    except SyntaxError as e:
        sys.modules.pop(mod_name, None)
        raise PolicyError(f"syntax error: {e.msg}", SrcLoc(shown, e.lineno or 0)) from None
    except Exception as e:  # the user's module raised: point at their line, not our traceback
        tb = [f for f in traceback.extract_tb(e.__traceback__) if os.path.abspath(f.filename) == path]
        loc = SrcLoc(shown, tb[-1].lineno) if tb else None
        sys.modules.pop(mod_name, None)
        raise PolicyError(f"loading the policy raised {type(e).__name__}: {e}", loc) from None
    # The module stays in sys.modules: inspect needs it to find class source lines.
    found = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, dsl.Scheduler) and v is not dsl.Scheduler
             and v.__module__ == mod_name]
    if not found:
        raise PolicyError(f"a policy file must define exactly one Scheduler subclass; {shown} defines none: "
                          "add `class Mine(Scheduler): ...`")
    if len(found) > 1:
        found.sort(key=_class_line)
        names = ", ".join(f"{c.__name__} (line {_class_line(c)})" for c in found)
        raise PolicyError(f"a policy file must define exactly one Scheduler subclass; {shown} defines {names}: "
                          "keep one, or move each other one to a file of its own",
                          SrcLoc(shown, _class_line(found[1])))
    # The module docstring, kept with the class: another load of the same file
    # replaces the module in sys.modules.
    found[0]._scxpy_module_doc = module.__doc__
    return found[0]


def _class_line(cls) -> int:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 0
