"""`scxpy tune`: search a policy's tunables for the best value of a measured figure, honestly.

    import scxpy
    result = scxpy.tune("deadline", "mixed-heavy", "p99_us", trials=30,
                        constraints=["hog_bogo_ops_per_s >= 0.95*default"])
    result.study              # the optuna study (trials, Pareto front, dashboards)
    result.best_values        # {tunable: value}; also in OUT/best.toml
    for c in result.comparisons: print(c.line())   # best vs default and vs fair, 95% intervals

optuna's TPE sampler searches (seeded, study in SQLite in the output
directory, or any optuna storage shared by several workers); scipy does
the statistics. Modules: spec (what is asked, checked before any boot),
space, objectives, study (storage and trial slots), measure (one run in
the warm guest), agent (its guest half), tuner (noise, search, final
comparison), stats, report (files, plot), run (the whole of it).
"""

import sys as _sys
import types as _types


def tune(*args, **kwargs):
    from scxpy.tune.run import tune as _tune

    return _tune(*args, **kwargs)


tune.__doc__ = "See scxpy.tune.run.tune: search a policy's tunables against a workload's figure."


class _CallableModule(_types.ModuleType):
    # `scxpy.tune` names both this package and the function: once the package
    # is imported, Python binds the attribute scxpy.tune to the module, so the
    # module itself must be callable for `scxpy.tune(...)` to keep working.
    def __call__(self, *args, **kwargs):
        return tune(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
