"""The behaviours a policy may say it does not promise: `promises = {"weight_fairness": False}`.

`scxpy check` (scxpy.check.catalog) has one check per name; the code
generator validates a policy's `promises` against this list, at the
policy's line. Kept here, at the bottom, so that both can read it.
"""

from __future__ import annotations

BEHAVIOURS = ("weight_fairness", "latency", "starvation", "work_conservation", "affinity", "hotplug",
              "cgroup_weight")


def problem(promises) -> str | None:
    """What is wrong with a `promises` value, or None: a dict {behaviour name: True or False}."""
    if not isinstance(promises, dict):
        return f"promises must be a dict such as {{\"weight_fairness\": False}}, not {type(promises).__name__}"
    for k, v in promises.items():
        if k not in BEHAVIOURS:
            return f"promises names {k!r}, which is no behaviour scxpy checks; choose from {', '.join(BEHAVIOURS)}"
        if not isinstance(v, bool):
            return f"promises[{k!r}] must be True or False, not {v!r}"
    return None
