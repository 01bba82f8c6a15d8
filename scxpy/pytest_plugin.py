"""scxpy's pytest plugin (entry point `pytest11`): test your own policy's behaviour like code.

    # test_mypolicy.py
    from scxpy.pytest_plugin import assert_at_most

    def test_nice_is_respected(scxpy_guest, scxpy_attach):
        scxpy_attach("mypolicy.py")
        deviations = [scxpy_guest.weight_deviation_pts(nices=[-5, 0, 5]) for _ in range(3)]
        assert_at_most(deviations, 10, "worst CPU-share deviation from the nice weights (points)")

    $ pytest test_mypolicy.py --scxpy-kernel 6.12 --scxpy-kernel 7.3

Fixtures:
  scxpy_kernel   the guest kernel version of this test (one run per --scxpy-kernel; default 6.12)
  scxpy_guest    a warm guest on that kernel, booted once per session (a CheckGuest)
  scxpy_attach   attach(policy) attaches a policy for this test; detached after it
Workloads (CheckGuest methods; each measured in the guest, from the kernel's accounting):
  weight_deviation_pts / shares (hogs at nice values), cgroup_shares (hogs in cgroups of given
  cpu.weight), latency (a periodic probe under hogs: p50/p99 µs), hackbench (seconds),
  stress_ng (exit status), probe (any check of `scxpy check`).
Assertions: assert_at_most, assert_at_least, assert_within: a figure (or one per round)
against a target; a failure names the figure, its mean, the 95% interval and the target.

Nothing here runs unless a test asks for these fixtures: loading the plugin
costs an import of this module only.
"""

from __future__ import annotations

import math
from typing import Sequence

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("scxpy", "scxpy policy tests")
    group.addoption("--scxpy-kernel", action="append", dest="scxpy_kernels", metavar="X.Y", default=[],
                    help="guest kernel version for scxpy_guest; repeat to run each test on several (default 6.12)")
    group.addoption("--scxpy-cpus", type=int, default=2, dest="scxpy_cpus", metavar="N",
                    help="vCPUs of the scxpy guest (default 2)")


def pytest_generate_tests(metafunc) -> None:
    if "scxpy_kernel" in metafunc.fixturenames:
        versions = metafunc.config.getoption("scxpy_kernels") or [_default_version()]
        metafunc.parametrize("scxpy_kernel", versions, scope="session", ids=[f"linux-{v}" for v in versions])


def _default_version() -> str:
    from scxpy.vm.kernel import DEFAULT_VERSION

    return DEFAULT_VERSION


class CheckGuest:
    """A warm guest with workload helpers; `api` is the scxpy.Guest underneath."""

    def __init__(self, api, version: str):
        self.api = api
        self.version = version

    def probe(self, check: str, duration: float = 3.0, warmup: float = 0.5, **args) -> dict:
        """One run of a `scxpy check` probe under what is attached: its figures (see scxpy check --help).
        Raises ScxpyError if the kernel ejected the policy meanwhile or the probe could not measure."""
        from scxpy.base.errors import ScxpyError
        from scxpy.check.runner import probe

        out = probe(self.api, [check], duration, warmup, {check: args} if args else None)[check]
        if "ejected" in out:
            raise ScxpyError(f"the kernel ejected the policy during {check}: {out['ejected']}")
        if "error" in out:
            raise ScxpyError(f"{check} could not measure: {out['error']}")
        return out

    def shares(self, nices: Sequence[int], duration: float = 3.0) -> list[dict]:
        """Hogs at these nice values on one CPU: [{"nice", "share", "expected", "error"}]."""
        return self.probe("weight_fairness", duration, nices=list(nices))["hogs"]

    def weight_deviation_pts(self, nices: Sequence[int] = (-5, 0, 0, 5), duration: float = 3.0) -> float:
        """Hogs at these nice values on one CPU: the worst |share - weight share|, in
        percentage points of the CPU (e.g. 57% expected, 50% measured: 7)."""
        return self.probe("weight_fairness", duration, nices=list(nices))["deviation_pts"]

    def cgroup_shares(self, weights: dict[str, int], duration: float = 3.0) -> dict:
        """One hog per cgroup (cpu.weight as given) on one CPU: {"deviation_pts", "error_pct", "groups": [...]}."""
        return self.probe("cgroup_weight", duration, weights=dict(weights))

    def latency(self, duration: float = 3.0, period_s: float = 0.01, hogs_per_cpu: int = 1) -> dict:
        """A task waking every period_s while hogs saturate every CPU: {"p50_us", "p99_us", "max_us"}."""
        return self.probe("latency", duration, period=period_s, hogs_per_cpu=hogs_per_cpu)

    def hackbench(self, groups: int = 2, loops: int = 200) -> float:
        """hackbench (rt-tests) under what is attached: its total time in seconds."""
        from scxpy.base.errors import ScxpyError
        from scxpy.bench.parsers import parse_hackbench

        r = self.api.run(None, ["hackbench", "--groups", str(groups), "--loops", str(loops)], capture=True,
                         timeout=600)
        if r.status != 0 or r.ejected:
            raise ScxpyError(f"hackbench failed (status {r.status}, ejected: {r.ejected}): {(r.output or '')[-800:]}")
        return parse_hackbench(r.output or "")["time_s"]

    def stress_ng(self, *args: str, timeout: float = 600) -> int:
        """stress-ng ARGS under what is attached (from a writable directory): its exit status.
        Raises ScxpyError if the kernel ejected the policy meanwhile."""
        from scxpy.base.errors import ScxpyError

        r = self.api.run(None, ["sh", "-c", 'cd "${SCXPY_SCRATCH:-/tmp}" && exec stress-ng "$@"', "stress-ng",
                                *args], timeout=timeout)
        if r.ejected:
            raise ScxpyError(f"the kernel ejected the policy under stress-ng: {r.ejected}")
        return r.status


@pytest.fixture(scope="session")
def scxpy_guest(scxpy_kernel, request):
    """A guest on kernel `scxpy_kernel`, booted once for the session and stopped after it."""
    from scxpy.api import Guest
    from scxpy.vm import kernel as vm_kernel

    kernel = vm_kernel.kernel(scxpy_kernel)
    g = Guest(cpus=request.config.getoption("scxpy_cpus"), kernel=kernel, stats_socket="none")
    g.start()
    try:
        yield CheckGuest(g, scxpy_kernel)
    finally:
        g.close()


@pytest.fixture
def scxpy_attach(scxpy_guest):
    """attach(policy, **sets): compile a policy (stock name, .py path or Scheduler class) and
    attach it in the guest for this test; it is detached after the test."""
    from scxpy.check.runner import load_policy

    def attach(policy, **sets):
        cls, _ = load_policy(str(policy) if not isinstance(policy, type) else policy)
        return scxpy_guest.api.attach(cls, sets=sets)

    yield attach
    if scxpy_guest.api.attached is not None:
        scxpy_guest.api.detach()


# -- assertions -----------------------------------------------------------------------


def _values(figure) -> list[float]:
    return [float(v) for v in (figure if isinstance(figure, (list, tuple)) else [figure])]


def _explain(values: list[float], what: str, target: str) -> str:
    from scxpy.check.intervals import METHOD, estimate

    e = estimate(values)
    spread = "" if e.low is None else f", 95% interval {e.low:.4g} … {e.high:.4g} ({METHOD}, n={e.n})"
    rounds = ", ".join(f"{v:.4g}" for v in values)
    return f"{what}: {e.mean:.4g} (rounds: {rounds}{spread}); target {target}"


def assert_at_most(figure, limit: float, what: str) -> None:
    """The mean of `figure` (a number, or one per round) must be ≤ limit."""
    values = _values(figure)
    if not sum(values) / len(values) <= limit:
        pytest.fail(_explain(values, what, f"≤ {limit:g}") + " — too high", pytrace=False)


def assert_at_least(figure, limit: float, what: str) -> None:
    """The mean of `figure` (a number, or one per round) must be ≥ limit."""
    values = _values(figure)
    if not sum(values) / len(values) >= limit:
        pytest.fail(_explain(values, what, f"≥ {limit:g}") + " — too low", pytrace=False)


def assert_within(figure, target: float, tolerance: float, what: str) -> None:
    """The mean of `figure` must be within ±tolerance (relative, e.g. 0.2 = 20%) of target."""
    values = _values(figure)
    mean = sum(values) / len(values)
    if not (math.isfinite(mean) and abs(mean - target) <= abs(target) * tolerance):
        pytest.fail(_explain(values, what, f"{target:g} ± {tolerance:.0%}") + " — outside", pytrace=False)
