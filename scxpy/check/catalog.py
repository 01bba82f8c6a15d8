"""The behaviour checks: what each measures, its figures, and the threshold a policy must meet.

Host side and pure: the probes (probes.py, in the guest) produce raw
figures per round; judge() turns the rounds of the policy and of fair
into report-card rows. Thresholds are absolute where the behaviour has an
absolute meaning (affinity: no violation at all) and relative to fair,
measured in the same guest in alternate rounds, where the emulated
machine's speed moves the figure (latency).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scxpy.base.promises import BEHAVIOURS
from scxpy.check.intervals import Estimate, estimate

PASS, FAIL, NOT_PROMISED, NOT_CHECKED, ERROR = "pass", "FAIL", "not promised", "not checked", "error"


@dataclass(frozen=True)
class AtMost:
    limit: float

    def text(self, unit: str) -> str:
        return f"≤ {_fmt(self.limit, unit)}"

    def ok(self, value: float, fair: float | None) -> bool:
        return value <= self.limit


@dataclass(frozen=True)
class FairTimesPlus:
    """At most factor × fair's figure + slack: fair as the yardstick, slack for what a
    policy may legitimately add (e.g. one time slice)."""

    factor: float
    slack: float

    def text(self, unit: str) -> str:
        times = "fair" if self.factor == 1 else f"{self.factor:g}×fair"
        return f"≤ {times} + {_fmt(self.slack, unit)}"

    def ok(self, value: float, fair: float | None) -> bool:
        return fair is not None and value <= self.factor * fair + self.slack


@dataclass(frozen=True)
class OneOf:
    allowed: tuple[str, ...]

    def text(self, unit: str) -> str:
        return " or ".join(self.allowed)

    def ok(self, value: str, fair) -> bool:
        return value in self.allowed


@dataclass(frozen=True)
class Figure:
    key: str  # in the probe's result
    label: str
    unit: str
    threshold: object


@dataclass(frozen=True)
class Check:
    name: str
    title: str
    what: str  # one paragraph for --help and the docs
    figures: tuple[Figure, ...]
    available: bool = True
    why_not: str = ""


CHECKS: dict[str, Check] = {c.name: c for c in (
    Check("weight_fairness", "weight fairness",
          "CPU hogs at nice -5, 0, 0 and 5 pinned to one CPU; each one's share of their CPU "
          "time (the kernel's sum_exec_runtime) against its share of the weights (57, 19, 19 "
          "and 6%). Figure: the largest deviation, in percentage points of the CPU.",
          (Figure("deviation_pts", "weight fairness (worst deviation)", "pts", AtMost(10)),)),
    Check("latency", "interactive latency under load",
          "A task waking every 10 ms while one hog per CPU saturates every CPU; per wakeup, the "
          "time it waited on a run queue (the kernel's sched_info run_delay). p50 and p99.",
          (Figure("p50_us", "latency under load p50", "µs", FairTimesPlus(2, 20_000)),
           Figure("p99_us", "latency under load p99", "µs", FairTimesPlus(2, 20_000)))),
    Check("starvation", "starvation",
          "Hogs (twice as many as CPUs), a task forking 1 ms children and a task yielding in a loop; "
          "the longest any of them waited runnable (sched_wakeup/sched_switch tracepoints). The "
          "kernel's watchdog ejects a scheduler at its timeout (at most 30 s).",
          (Figure("max_wait_ms", "starvation (longest wait)", "ms", AtMost(2000)),)),
    Check("work_conservation", "work conservation",
          "Twice as many tasks as CPUs, each running 3 ms and sleeping 2 ms; the CPU time a CPU "
          "ran its idle task while a task allowed on it had been waiting for over 1 ms "
          "(sched_switch/sched_wakeup tracepoints), as a share of all CPU time.",
          (Figure("idle_while_waiting_pct", "idle CPU while work waited", "%",
                  FairTimesPlus(1, 10)),)),
    Check("affinity", "affinity",
          "A hog pinned to each CPU, an unpinned one, and two tasks moving their own affinity to "
          "another CPU every 20 ms; every switch-in (sched_switch) checked against the task's "
          "allowed CPUs at that moment. Figure: switch-ins on a CPU not allowed.",
          (Figure("violations", "affinity violations", "", AtMost(0)),)),
    Check("hotplug", "hotplug and restart",
          "Hogs on every CPU while the last CPU goes offline and back online; the scheduler must "
          "still be enabled afterwards, unchanged or loaded again after the kernel's restart "
          "request, and every hog must have run since.",
          (Figure("outcome", "CPU hotplug under load", "", OneOf(("survived", "restarted"))),)),
    Check("cgroup_weight", "cgroup weight shares",
          "One hog in each of two cgroups of cpu.weight 100 and 200, both pinned to one CPU; each "
          "group's share of their CPU time against its share of the weights (33 and 67%). Figure: "
          "the largest deviation, in percentage points. Only a policy that schedules by cgroup "
          "(a Dsq(share='cgroup'), e.g. the stock `cgroup`) promises it; for others it is "
          "reported, not promised.",
          (Figure("deviation_pts", "cgroup weight shares", "pts", AtMost(10)),)),
)}

# What a policy may list in `promises = {...}` (scxpy.base.promises, read by codegen too).
assert tuple(CHECKS) == BEHAVIOURS, "a check per behaviour a policy may disclaim"


@dataclass
class Row:
    check: str
    label: str
    policy: str
    fair: str
    threshold: str
    verdict: str
    interval: str
    note: str = ""
    policy_estimate: Estimate | None = None
    fair_estimate: Estimate | None = None
    rounds: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "check": self.check, "figure": self.label, "policy": self.policy, "fair": self.fair,
            "threshold": self.threshold, "verdict": self.verdict, "interval_95": self.interval,
            "note": self.note,
            "policy_estimate": self.policy_estimate.to_json() if self.policy_estimate else None,
            "fair_estimate": self.fair_estimate.to_json() if self.fair_estimate else None,
            "rounds": self.rounds,
        }


def _fmt(v: float, unit: str, scale_as: float | None = None) -> str:
    """v in its unit; µs from 10 ms up as ms (`scale_as`: decide by that value instead, so
    both ends of an interval share a unit)."""
    if unit == "µs" and abs(v if scale_as is None else scale_as) >= 10_000:
        return f"{v / 1000:.1f} ms"
    s = f"{v:.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.2g}" if abs(v) < 1 else f"{v:.1f}"
    return f"{s} {unit}".rstrip()


def _interval(e: Estimate | None, unit: str) -> str:
    if e is None or e.low is None:
        return "—"
    return f"{_fmt(max(0.0, e.low), unit, e.high)} … {_fmt(e.high, unit)}"  # every figure is ≥ 0


def judge(check: Check, policy_rounds: list[dict], fair_rounds: list[dict],
          promises: dict[str, bool] | None = None) -> list[Row]:
    """Rows of the card for one check, from each round's probe result of the policy and of fair.

    A round result is the probe's dict, or {"error": TEXT} (the probe could not
    measure) or {"ejected": TEXT} (the kernel ejected the policy in that round)."""
    promised = (promises or {}).get(check.name, True)
    rows = []
    for fig in check.figures:
        if not check.available:
            rows.append(Row(check.name, fig.label, "—", "—", fig.threshold.text(fig.unit), NOT_CHECKED, "—",
                            check.why_not))
            continue
        rows.append(_judge_figure(check, fig, policy_rounds, fair_rounds, promised))
    return rows


def _judge_figure(check: Check, fig: Figure, policy_rounds, fair_rounds, promised: bool) -> Row:
    pol = [r.get(fig.key) for r in policy_rounds if fig.key in r]
    fair = [r.get(fig.key) for r in fair_rounds if fig.key in r]
    troubles = [r for r in policy_rounds if fig.key not in r]
    fair_troubles = [r for r in fair_rounds if fig.key not in r]
    thr = fig.threshold.text(fig.unit)
    rounds = {"policy": pol, "fair": fair}
    ejected = [r["ejected"] for r in troubles if "ejected" in r]
    if ejected:
        verdict = NOT_PROMISED if not promised else FAIL
        return Row(check.name, fig.label, "ejected", _summary(fair, fig), thr, verdict, "—",
                   f"the kernel ejected the policy: {ejected[0]}", rounds=rounds)
    errors = [r.get("error", "no figure") for r in troubles + fair_troubles]
    if errors or not pol or not fair:
        return Row(check.name, fig.label, _summary(pol, fig), _summary(fair, fig), thr, ERROR, "—",
                   f"could not measure: {errors[0] if errors else 'no rounds'}", rounds=rounds)
    if isinstance(fig.threshold, OneOf):
        bad = [v for v in pol if not fig.threshold.ok(v, None)]
        ok = not bad
        row = Row(check.name, fig.label, _summary(pol, fig), _summary(fair, fig), thr, PASS, "—",
                  rounds=rounds)
    else:
        pe, fe = estimate(pol), estimate(fair)
        ok = fig.threshold.ok(pe.mean, fe.mean)
        row = Row(check.name, fig.label, _fmt(pe.mean, fig.unit), _fmt(fe.mean, fig.unit), thr, PASS,
                  _interval(pe, fig.unit), policy_estimate=pe, fair_estimate=fe, rounds=rounds)
    if not ok:
        row.verdict = FAIL if promised else NOT_PROMISED
    return row


def _summary(values: list, fig: Figure) -> str:
    if not values:
        return "—"
    if isinstance(fig.threshold, OneOf):
        counts = {v: values.count(v) for v in dict.fromkeys(values)}
        return ", ".join(f"{v} {n}/{len(values)}" for v, n in counts.items())
    return _fmt(sum(values) / len(values), fig.unit)


def select(only: list[str] | None) -> list[Check]:
    """The checks to run, in card order; `only` names some (an unknown name is an error)."""
    from scxpy.base.errors import ScxpyError

    if not only:
        return list(CHECKS.values())
    unknown = [n for n in only if n not in CHECKS]
    if unknown:
        raise ScxpyError(f"--only {', '.join(unknown)}: no such check; the checks are {', '.join(CHECKS)}")
    return [c for c in CHECKS.values() if c.name in only]


def check_promises(promises, where: str) -> dict[str, bool]:
    """A policy's `promises` attribute: {check name: bool}; anything else is an error naming the fix
    (the code generator refuses the same at the policy's line)."""
    from scxpy.base.errors import ScxpyError
    from scxpy.base.promises import problem

    if promises is None:
        return {}
    wrong = problem(promises)
    if wrong:
        raise ScxpyError(f"{where}: {wrong}")
    return dict(promises)
