"""What a tune is asked to do, checked in full before any guest boots.

A Spec is made from the command line or from scxpy.tune(...); it is
stored in the study (user attribute "spec"), so a worker that joins with
only `--join STUDY --storage URL` tunes exactly the same thing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from scxpy.tune import heartbeat, objectives as obj
from scxpy.tune import space as sp
from scxpy.tune.errors import TuneError


@dataclass
class Spec:
    policy: str
    workload: str
    objectives: list[str]
    maximize: bool = False
    params: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    trials: int = 20
    seed: int = 0
    rebuild: bool = False
    noise_repeats: int = 5
    max_repeats: int = 3
    min_effect: float = 0.05
    final_rounds: int = 10
    cpus: int = 2
    long: bool = False
    heartbeat_s: int = heartbeat.DEFAULT_INTERVAL_S  # in the spec: every worker must beat as often

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Spec":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Plan:
    """A Spec resolved against the compiled policy and the workload."""

    spec: Spec
    compiled: object  # codegen's Compiled
    workload: object  # bench.workloads.Workload
    space: list[sp.Param]
    objectives: list[obj.Objective]
    constraints: list[obj.Constraint]

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    def figures_needed(self) -> list[str]:
        """Every figure the verdict needs: the objectives', then the constraints'."""
        names = [o.name for o in self.objectives]
        return names + [c.metric for c in self.constraints if c.metric not in names]

    def defaults(self) -> dict[str, int]:
        return {p.name: p.default for p in self.space}


def parse_duration(text: str | None) -> float | None:
    """`--budget`: 90, 90s, 20m, 1.5h -> seconds."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise TuneError(f"--budget {text!r} is not a duration; write e.g. 20m, 90s or 1.5h")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[m[2]]


def resolve(spec: Spec, compiled=None) -> Plan:
    """Check everything that can be checked on the host; compile the policy."""
    from scxpy.bench import workloads

    if spec.trials < 1:
        raise TuneError(f"--trials {spec.trials}: a tune needs at least one trial")
    if spec.noise_repeats < 5:
        raise TuneError(f"--noise-repeats {spec.noise_repeats}: the default's noise needs at least 5 runs")
    if spec.final_rounds < 10:
        raise TuneError(f"--final-rounds {spec.final_rounds}: the final comparison needs at least 10 rounds")
    if type(spec.heartbeat_s) is not int or spec.heartbeat_s < 1:
        raise TuneError(f"--heartbeat {spec.heartbeat_s!r}: give whole seconds, at least 1 (default "
                        f"{heartbeat.DEFAULT_INTERVAL_S})")
    if spec.max_repeats < 1:
        raise TuneError("--max-repeats must be at least 1")
    if not spec.objectives:
        raise TuneError("give at least one --objective (a figure of the workload, or a policy counter)")
    try:
        workload = workloads.get(spec.workload)
    except workloads.UnknownWorkload as e:
        raise TuneError(str(e)) from None
    if compiled is None:
        from scxpy.build import compile_policy_spec

        compiled = compile_policy_spec(spec.policy)
    manifest = compiled.manifest
    counters = list(manifest.stats.names) if manifest.stats else []
    space = sp.build(manifest.tunables, spec.params, rebuild=spec.rebuild)
    objs = [obj.parse_objective(o, workload, counters, spec.maximize) for o in spec.objectives]
    if len({o.name for o in objs}) != len(objs):
        raise TuneError("the same --objective is given twice")
    cons = [obj.parse_constraint(c, workload, counters) for c in spec.constraints]
    return Plan(spec, compiled, workload, space, objs, cons)
