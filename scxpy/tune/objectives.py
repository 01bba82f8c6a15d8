"""What a tune optimises: objectives and constraints, checked against what the workload produces.

An objective is a figure the bench workload reports (`p99_us`, `time_s`,
`hog_bogo_ops_per_s`, ...; its direction is the workload's own: lower
latency, higher throughput) or the rate per second of one of the policy's
counters (`rule.critical.enqueued`, minimised unless told otherwise).
`NAME:max` or `NAME:min` overrides the direction; `--maximize` makes
every objective without one a maximum.

A constraint is `METRIC >= 0.95*default` (or <=, or a plain number): a
trial whose median breaks it is infeasible; optuna's sampler steers away
from it and it never becomes the best. `default` is the default
configuration's median, measured before the search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scxpy.tune.errors import TuneError


@dataclass(frozen=True)
class Objective:
    name: str  # a workload metric key, or a counter name (its rate per second)
    maximize: bool
    counter: bool = False

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    @property
    def label(self) -> str:
        return f"{self.name}/s" if self.counter else self.name


@dataclass(frozen=True)
class Constraint:
    """metric OP factor*default, or metric OP value (factor None)."""

    metric: str
    op: str  # ">=" or "<="
    value: float
    relative: bool  # value is a factor of the default's median
    text: str

    def bound(self, default_median: float | None) -> float:
        if not self.relative:
            return self.value
        if default_median is None:
            raise TuneError(f"constraint {self.text!r} needs the default's {self.metric}, which was not measured")
        return self.value * default_median

    def violation(self, value: float | None, default_median: float | None) -> float:
        """optuna's convention: <= 0 feasible, > 0 by how much it is broken."""
        if value is None:
            return float("inf")
        bound = self.bound(default_median)
        return bound - value if self.op == ">=" else value - bound


def _known(workload, counters) -> str:
    ms = ", ".join(m.key for m in workload.metrics)
    cs = ", ".join(counters) if counters else "none"
    return f"the {workload.name} workload's figures: {ms}; the policy's counters (rates per second): {cs}"


def parse_objective(text: str, workload, counters: list[str], maximize: bool = False) -> Objective:
    name, _, way = text.strip().partition(":")
    if way not in ("", "min", "max"):
        raise TuneError(f"--objective {text!r}: the direction after ':' is min or max")
    name = name.removesuffix("/s") if name.removesuffix("/s") in counters else name
    keys = {m.key: m for m in workload.metrics}
    if name in keys:
        natural = keys[name].better == "higher"
        return Objective(name, way == "max" if way else (maximize or natural))
    if name in counters:
        return Objective(name, way == "max" if way else maximize, counter=True)
    raise TuneError(f"--objective {name!r} is not produced by this tune; choose from {_known(workload, counters)}")


_CONSTRAINT = re.compile(r"^\s*(?P<metric>[\w.]+)\s*(?P<op>>=|<=)\s*(?P<num>\d+(?:\.\d+)?)?\s*(?P<star>\*)?\s*"
                         r"(?P<default>default)?\s*$")


def parse_constraint(text: str, workload, counters: list[str]) -> Constraint:
    m = _CONSTRAINT.match(text)
    if not m or (m["default"] and m["num"] and not m["star"]) or not (m["num"] or m["default"]) \
            or (m["star"] and not (m["num"] and m["default"])):
        raise TuneError(f"--constraint {text!r} is not METRIC >= FACTOR*default (or <=, or a number); "
                        "write e.g. 'hog_bogo_ops_per_s >= 0.95*default'")
    metric = m["metric"]
    if metric not in {k.key for k in workload.metrics} and metric not in counters:
        raise TuneError(f"--constraint {text!r}: {metric!r} is not produced by this tune; "
                        f"choose from {_known(workload, counters)}")
    relative = bool(m["default"])
    value = float(m["num"]) if m["num"] else 1.0
    return Constraint(metric, m["op"], value, relative, text.strip())
