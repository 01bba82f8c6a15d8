"""scxpy: write Linux sched_ext schedulers in Python.

One flat public namespace. A policy file writes

    from scxpy import Scheduler, Dsq, Rule, Tunable, task, ms

and a notebook or script drives a guest kernel with

    with scxpy.Guest(cpus=4) as g:
        result = g.run("fifo", ["stress-ng", "--cpu", "4", "--timeout", "5s"])
        result.stats

Names are loaded on first use, so `import scxpy` stays light and the
layers below (scxpy.base, scxpy.codegen, ...) can import this package
without pulling in the API above them. docs/dsl-reference.md documents
every name in __all__.
"""

from scxpy.base.version import __version__

# name -> the module that defines it
_DSL = "scxpy.codegen.dsl"
_API = "scxpy.api"
_PUBLIC = {
    # the policy DSL
    **dict.fromkeys((
        "Scheduler", "Dsq", "Rule", "Tunable", "TaskVar",
        "Priority", "RoundRobin", "EarliestVtime",
        "RawC", "RawDecl", "RawTimer",
        "task", "cpu", "nr_idle", "now", "cpus", "where", "greatest", "least",
        "ns", "us", "ms", "sec", "MAX_CPUS", "GLOBAL", "LOCAL",
        "SCHED_NORMAL", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_IDLE",
        "SCHED_DEADLINE", "SCHED_EXT",
    ), _DSL),
    "PolicyError": "scxpy.codegen.errors",
    "stock_policy": "scxpy.schedulers",
    # userspace policies: decisions as Python methods (docs/userspace-tutorial.md)
    **dict.fromkeys(("UserScheduler", "Decision", "ANY_CPU"), "scxpy.runtime.userspace"),
    # running policies from Python
    **dict.fromkeys(("Guest", "RunResult", "Swap", "LoadFailed", "compile_policy"), _API),
    # searching a policy's tunables (scxpy tune)
    "tune": "scxpy.tune",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'scxpy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
