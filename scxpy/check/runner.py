"""Host side of `scxpy check`: rounds of the probes in one warm guest, the policy and fair alternating.

Round r runs every selected probe under fair (nothing attached) and under
the policy, in the order fair, policy on even rounds and policy, fair on
odd ones, so that drift of the emulated machine hits both alike. The
probes run in the guest (scxpy.check.guest) through the agent's run
request; their figures come back in one marked line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field

from scxpy.base.errors import ScxpyError
from scxpy.check import catalog
from scxpy.check.guest import RESULT_MARK
from scxpy.check.intervals import METHOD

DURATION = 3.0  # seconds each probe measures (after its warm-up)
WARMUP = 0.5
TARGET_S = 300  # the target for one policy's card on one kernel


class CheckError(ScxpyError):
    """`scxpy check` could not run (bad arguments, a guest that failed)."""


@dataclass
class Card:
    policy: str
    kernel: str
    rows: list[catalog.Row]
    rounds: int
    elapsed_s: float
    load_average: tuple[float, float, float]
    accel: str
    raw: dict = field(default_factory=dict)  # {"policy"|"fair": [each round's probe results]}

    @property
    def failed(self) -> bool:
        return any(r.verdict in (catalog.FAIL, catalog.ERROR) for r in self.rows)

    def to_json(self) -> dict:
        return {"policy": self.policy, "kernel": self.kernel, "rounds": self.rounds,
                "elapsed_s": round(self.elapsed_s, 1), "load_average": self.load_average,
                "accel": self.accel, "statistics": METHOD + "; verdict on the mean",
                "failed": self.failed, "rows": [r.to_json() for r in self.rows], "raw": self.raw}


def probe(guest, checks: list[str], duration: float = DURATION, warmup: float = WARMUP,
          args: dict | None = None) -> dict:
    """Run the named probes once in `guest` under whatever is attached (or fair): {check: figures}.
    If the kernel ejected the attached policy meanwhile, every figure is replaced by
    {"ejected": reason}: what was measured after that was fair."""
    req = json.dumps({"checks": checks, "duration": duration, "warmup": warmup, "args": args or {}})
    budget = len(checks) * (duration + warmup) * 6 + 120  # a slow emulated guest, not a hung one
    res = guest.run(None, [sys.executable, "-m", "scxpy.check.guest", req], capture=True, timeout=budget)
    if res.cancelled:
        raise CheckError(f"the probes did not finish in {budget:.0f} s in the guest ({res.cancelled}); "
                         f"their output:\n{(res.output or '')[-2000:]}")
    if res.ejected:
        return {name: {"ejected": res.ejected} for name in checks}
    for line in (res.output or "").splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    raise CheckError(f"the probes exited with status {res.status} without a result; their output:\n"
                     f"{(res.output or '')[-2000:]}")


def load_policy(spec):
    """(Scheduler class, its promises) for a stock name, a .py path or a class."""
    from scxpy import codegen, schedulers

    cls = spec if isinstance(spec, type) else codegen.resolve(schedulers.policy_file(spec))
    promises = catalog.check_promises(getattr(cls, "promises", None), f"policy {getattr(cls, 'name', spec)}")
    if "cgroup_weight" not in promises and not _schedules_by_cgroup(cls):
        promises["cgroup_weight"] = False  # cgroup weights are promised by share='cgroup' queues only
    return cls, promises


def _schedules_by_cgroup(cls) -> bool:
    """Whether some queue of the policy shares CPU time by cgroup weight (Dsq(share='cgroup'))."""
    from scxpy.codegen import dsl

    return any(isinstance(v, dsl.Dsq) and v.share == "cgroup"
               for klass in cls.__mro__ for v in vars(klass).values())


def run_card(spec, *, kernel=None, rounds: int = 3, only: list[str] | None = None, cpus: int = 2,
             duration: float = DURATION, warmup: float = WARMUP, progress: bool = True) -> Card:
    """One policy's report card on one kernel (a vm.kernel.KernelArtifacts; None: the default)."""
    from scxpy.api import Guest, compile_policy
    from scxpy.vm import accel

    if rounds < 1:
        raise CheckError(f"--rounds {rounds}: at least one round is needed")
    checks = catalog.select(only)
    t0 = time.monotonic()
    cls, promises = load_policy(spec)
    compiled = compile_policy(cls)
    names = [c.name for c in checks if c.available]
    results: dict[str, list[dict]] = {"fair": [], "policy": []}
    say = (lambda m: print(f"scxpy check: {m}", file=sys.stderr, flush=True)) if progress else (lambda m: None)
    per_side = len(names) * (duration + warmup) * 6 + 120
    with Guest(cpus=cpus, kernel=kernel, timeout=rounds * 2 * per_side + 600, stats_socket="none",
               progress=progress) as g:
        release = g.warm.ready.get("kernel", "?")
        for r in range(rounds):
            for side in (("fair", "policy") if r % 2 == 0 else ("policy", "fair")):
                ts = time.monotonic()
                if side == "policy":
                    g.attach(None, compiled=compiled)
                elif g.attached is not None:
                    g.detach()
                results[side].append(probe(g, names, duration, warmup) if names else {})
                say(f"round {r + 1}/{rounds}: {cls.name if side == 'policy' else 'fair'} measured in "
                    f"{time.monotonic() - ts:.0f} s ({time.monotonic() - t0:.0f} s so far)")
        if g.attached is not None:
            g.detach()
    rows = []
    for c in checks:
        per_round = {side: [r.get(c.name, {"error": "not measured"}) for r in results[side]] for side in results}
        rows += catalog.judge(c, per_round["policy"], per_round["fair"], promises)
    return Card(cls.name, release, rows, rounds, time.monotonic() - t0, os.getloadavg(),
                accel.choose(notice=False), results)


def kernels_for(versions: list[str], path: str | None, progress: bool = True) -> list:
    """The guest kernels to check on: --kernel PATH, or each --kernel-version (default 6.12)."""
    from scxpy.vm import kernel as vm_kernel

    if path and versions:
        raise CheckError("give either --kernel PATH or --kernel-version X.Y, not both")
    if path:
        return [vm_kernel.from_path(path)]
    versions = versions or [vm_kernel.DEFAULT_VERSION]
    for v in versions:
        vm_kernel.source(v)  # an unknown version fails before any build or boot
    return [vm_kernel.kernel(v, progress=progress) for v in versions]
