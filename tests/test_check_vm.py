"""scxpy check, VM tier: each check catches the policy built to violate it, and passes fair.

Run inside the guest (2 vCPUs or more):
    scxpy vm --cpus 2 --timeout 1200 -- \\
        /work/main/.venv/bin/python -m pytest -m vm -p no:cacheprovider tests/test_check_vm.py

The probes (scxpy.check.probes) measure under the attached policy and
under fair (nothing attached), one round each, and the card's own judge
(scxpy.check.catalog) gives the verdicts:
- tests/policies/ignores_nice.py fails weight fairness,
- tests/policies/starves_queue.py fails starvation (a long wait, or the
  watchdog's ejection),
- tests/policies/idles_cpu.py fails work conservation,
while fair, measured beside each, passes the same check (against itself:
the thresholds relative to fair then reduce to their slack).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from scxpy.check import catalog, probes

pytestmark = [pytest.mark.vm, pytest.mark.cpus(2)]

POLICIES = Path(__file__).resolve().parent / "policies"
DURATION, WARMUP = 3.0, 0.5


@contextmanager
def attached(path: Path):
    """Attach a policy; yields a callable giving the kernel's exit reason if it was ejected."""
    from scxpy.build import compile_policy_spec
    from scxpy.runtime.scheduler import Scheduler

    c = compile_policy_spec(str(path))
    s = Scheduler(c.obj_path, manifest=c.manifest, c_path=c.c_path)
    s.load()
    final: list[str] = []
    stop = threading.Event()

    def watch():  # as scxpy's agent does: restart on the kernel's request (hotplug), else note the exit
        while not stop.is_set() and not final:
            info = s.wait(timeout=0.05)
            if info is not None and not s.restart_if_asked(info):
                final.append(str(info))

    try:
        s.attach()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            yield lambda: final[0] if final else None
        finally:
            stop.set()
            watcher.join(timeout=10)
        s.detach()
    finally:
        s.close()


def measure(check: str, policy: Path) -> tuple[dict, dict]:
    fair = probes.PROBES[check](DURATION, WARMUP)
    with attached(policy) as ejected:
        pol = probes.PROBES[check](DURATION, WARMUP)
        why = ejected()
    if why:
        pol = {"ejected": why}
    print(f"\n{check}: {policy.stem}: {pol}\nfair: {fair}")
    return pol, fair


def verdict(check: str, pol: dict, fair: dict) -> list[str]:
    return [r.verdict for r in catalog.judge(catalog.CHECKS[check], [pol], [fair])]


@pytest.mark.parametrize("check, policy", [
    ("weight_fairness", "ignores_nice"),
    ("starvation", "starves_queue"),
    ("work_conservation", "idles_cpu"),
])
def test_check_catches_the_policy_built_to_violate_it(check, policy):
    pol, fair = measure(check, POLICIES / f"{policy}.py")
    assert verdict(check, pol, fair) == ["FAIL"], f"{policy} was not caught by {check}: {pol}"
    assert verdict(check, fair, fair) == ["pass"], f"fair failed {check}: {fair}"


def test_affinity_passes_fair_and_a_stock_policy():
    """No policy can break affinity (the kernel enforces it, ejecting a policy that tries);
    what can fail is our measuring: fair and vtime must show no violation."""
    from scxpy import schedulers

    pol, fair = measure("affinity", Path(schedulers.policy_file("vtime")))
    assert pol["switch_ins"] > 0 and fair["switch_ins"] > 0, "the trace saw none of the pinned tasks"
    assert verdict("affinity", pol, fair) == ["pass"], f"vtime failed affinity: {pol}"
    assert verdict("affinity", fair, fair) == ["pass"], f"fair failed affinity: {fair}"


def test_hotplug_under_fair():
    """A CPU offline and back under load with nothing attached: the hogs keep running.
    (A policy's restart after the kernel's hotplug exit is scxpy's agent's job: the card
    measures it through the agent, `scxpy check --only hotplug`.)"""
    fair = probes.hotplug(DURATION, WARMUP)
    assert fair["outcome"] == "survived" and fair["hogs_progressed"], fair


def test_cgroup_shares_helper_measures_fairs_cgroup_weights():
    """The plugin's cgroup_shares workload (the card's cgroup check, once issue 22's policies
    are checked): under fair, hogs in cgroups of cpu.weight 100 and 300 on one CPU get
    25% and 75% within a few points."""
    r = probes.cgroup_shares(DURATION, WARMUP, weights={"a": 100, "b": 300})
    print(f"\ncgroup shares under fair: {r}")
    assert [g["expected"] for g in r["groups"]] == [0.25, 0.75]
    assert r["deviation_pts"] <= 10, r
