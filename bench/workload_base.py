"""What every benchmark workload is: its metrics, where it runs, and the interface it implements.

Kept apart from bench/workloads.py (the workloads themselves) so that a
workload in a module of its own (bench/cgroup_shares.py) builds on it
without importing the registry that lists it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    better: str  # "lower" or "higher"


@dataclass
class RunContext:
    """Where and how big one workload run is."""

    cpus: int
    long: bool
    logdir: Path
    tag: str  # unique per run, names its log files
    timeout_s: float = 600.0
    commands: list[list[str]] = field(default_factory=list)  # filled in: what actually ran

    def log(self, name: str) -> Path:
        return self.logdir / f"{self.tag}.{name}"


class Workload:
    name: str
    description: str
    primary: Metric
    metrics: tuple[Metric, ...]

    def run(self, ctx: RunContext) -> dict[str, float]:
        raise NotImplementedError

    def metric(self, key: str) -> Metric:
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(key)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "primary": self.primary.key,
            "metrics": [m.__dict__ for m in self.metrics],
        }
