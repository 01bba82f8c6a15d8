"""scxpy: write Linux sched_ext schedulers in Python.

The Python API (scxpy.api) is reachable from here, loaded on first use so
that `import scxpy` stays light:

    with scxpy.Guest(cpus=4) as g:
        result = g.run("fifo", ["stress-ng", "--cpu", "4", "--timeout", "5s"])
        result.stats
"""

__version__ = "0.1.0"

_API = ("Guest", "RunResult", "Attached", "LoadFailed", "compile_policy")


def __getattr__(name):
    if name in _API:
        from scxpy import api

        return getattr(api, name)
    raise AttributeError(f"module 'scxpy' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
