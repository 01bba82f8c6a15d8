"""The tune itself: the default's noise, the search, and the final interleaved comparison.

    measure the default configuration noise_repeats times (its noise band;
        it sets how often each trial repeats, and what "default" means in
        constraints)
    while a trial slot is free (and the budget lasts):
        optuna's TPE sampler proposes values; run them `repeats` times; the
        trial's value is the median (single objective: the median pruner may
        stop it after any run); constraints recorded for the sampler
    pick the best feasible trial (several objectives: the Pareto front, and
        of it the best on the first objective)
    final comparison: best, default and fair in interleaved rounds
        (rotating order), >= 10 each; ratios with 95% bootstrap intervals
        and Mann-Whitney p-values

Everything measured is written as it arrives (trials.jsonl, the study in
its storage), so Ctrl-C loses at most the trial running; the guest is
closed on every way out.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from scxpy.tune import heartbeat, report, study as st, stats
from scxpy.tune.errors import TuneError
from scxpy.tune.measure import TrialFailed
from scxpy.tune.spec import Plan


@dataclass
class Result:
    """What scxpy.tune(...) returns: the optuna study, the best trial's values and the verdicts."""

    study: object
    best_values: dict | None
    best_trial: int | None
    comparisons: list[stats.Comparison] = field(default_factory=list)
    noise: dict[str, stats.Noise] = field(default_factory=dict)
    out: Path | None = None
    overhead_s: list[float] = field(default_factory=list)
    interrupted: bool = False

    @property
    def improved(self) -> bool:
        """True when the best beats the default on the first objective with 95% confidence."""
        first = next((c for c in self.comparisons if c.baseline == "default"), None)
        return bool(first and first.improved)


class Tuner:
    def __init__(self, plan: Plan, study, storage, out: Path, measurer, *, worker: str = "main",
                 owner: bool = True, budget_s: float | None = None, say=print, progress=None):
        self.plan, self.study, self.storage, self.out = plan, study, storage, out
        self.m, self.worker, self.owner, self.budget_s = measurer, worker, owner, budget_s
        self.say, self.progress = say, progress
        self.noise: dict[str, stats.Noise] = {}
        self.default_samples: dict[str, list[float]] = {}
        self.repeats = 1
        self.overheads: list[float] = []
        self.trial_seconds: list[float] = []
        self.t_start = time.monotonic()

    # -- helpers ---------------------------------------------------------------------

    def _log(self, record: dict) -> None:
        with open(self.out / "trials.jsonl", "a") as f:
            f.write(json.dumps(record, allow_nan=False) + "\n")

    def _measure(self, values):
        m = self.m.measure(values)
        self.overheads.append(m.overhead_s)
        return m

    def _shown(self, figures: dict) -> str:
        return ", ".join(f"{k}={figures.get(k):.4g}" if figures.get(k) is not None else f"{k}=not measured"
                         for k in self.plan.figures_needed())

    def default_median(self, metric: str) -> float | None:
        n = self.noise.get(metric)
        return n.median if n else None

    def constraint_values(self, figures: dict) -> list[float]:
        return [c.violation(figures.get(c.metric), self.default_median(c.metric)) for c in self.plan.constraints]

    # -- 1. the default's noise ------------------------------------------------------

    def measure_noise(self) -> None:
        n = self.plan.spec.noise_repeats
        defaults = self.plan.defaults()
        samples: dict[str, list[float]] = {k: [] for k in self.plan.figures_needed()}
        self.m.prepare(defaults)  # attaching is not part of any run's overhead
        for i in range(n):
            self.say(f"scxpy tune: default configuration, run {i + 1}/{n} (its noise, before the search)")
            try:
                m = self._measure(defaults)
            except TrialFailed as e:
                raise TuneError(f"the default configuration itself failed: {e}") from None
            for k in samples:
                samples[k].append(m.figures.get(k))
            self.say(f"  {self._shown(m.figures)} (workload {m.workload_s:.2f} s, overhead {m.overhead_s:.3f} s)")
            self.default_samples = samples  # kept run by run: an interrupted tune still has them
            (self.out / f"noise.{self.worker}.json").write_text(json.dumps({"samples": samples}, indent=1))
        for k, xs in samples.items():
            try:
                self.noise[k] = stats.noise(xs)
            except ValueError:
                raise TuneError(f"the workload produced no value for {k!r} in {n} runs of the default "
                                "(a percentile needs enough wake-ups: try --long)") from None
        self.default_samples = samples
        first = self.plan.objectives[0].name
        self.repeats = max(stats.repeats_needed(self.noise[o.name], self.plan.spec.min_effect,
                                                self.plan.spec.max_repeats) for o in self.plan.objectives)
        self.study.set_user_attr(f"default.{self.worker}", {k: v.to_json() for k, v in self.noise.items()})
        (self.out / f"noise.{self.worker}.json").write_text(json.dumps(
            {"samples": samples, "noise": {k: v.to_json() for k, v in self.noise.items()}}, indent=1))
        nz = self.noise[first]
        self.say(f"scxpy tune: default {first} median {nz.median:.4g} (IQR {nz.q1:.4g}..{nz.q3:.4g}, "
                 f"relative sigma {nz.rel_sigma:.1%}); {self.repeats} run(s) per trial "
                 f"to resolve a {self.plan.spec.min_effect:.0%} change (at most --max-repeats "
                 f"{self.plan.spec.max_repeats})")

    # -- 2. the search ----------------------------------------------------------------

    def run_trial(self, trial) -> None:
        import optuna

        from scxpy.tune import space as sp

        values = sp.suggest(trial, self.plan.space)
        objs = self.plan.objectives
        single = len(objs) == 1
        samples: dict[str, list[float]] = {k: [] for k in self.plan.figures_needed()}
        t0 = time.monotonic()
        state = optuna.trial.TrialState.COMPLETE
        error = None
        for rep in range(self.repeats):
            try:
                m = self._measure(values)
            except TrialFailed as e:
                error = str(e)
                break
            for k in samples:
                samples[k].append(m.figures.get(k))
            if single and self.repeats > 1:
                xs = [x for x in samples[objs[0].name] if x is not None]
                if xs:
                    trial.report(statistics.median(xs), rep)
                    if trial.should_prune():
                        state = optuna.trial.TrialState.PRUNED
                        break
        medians = {k: (statistics.median([x for x in xs if x is not None])
                       if any(x is not None for x in xs) else None) for k, xs in samples.items()}
        obj_values = [medians.get(o.name) for o in objs]
        if error is None and any(v is None or not math.isfinite(v) for v in obj_values):
            error = "the workload produced no value for an objective (a percentile needs enough wake-ups)"
        trial.set_user_attr("worker", self.worker)
        trial.set_user_attr("figures", medians)
        trial.set_user_attr("samples", samples)
        cons = self.constraint_values(medians) if self.plan.constraints else []
        if cons:
            cons = [c if math.isfinite(c) else 1e300 for c in cons]
            trial.set_user_attr("constraints", cons)
            for c, v in zip(self.plan.constraints, cons):
                trial.set_constraint(c.text, v)  # what optuna's sampler steers by
        if error is not None:
            trial.set_user_attr("error", error)
            state = optuna.trial.TrialState.FAIL
        complete = state == optuna.trial.TrialState.COMPLETE
        value = (obj_values[0] if single else obj_values) if complete else None
        told = self.study.tell(trial, value, state=None if complete else state, skip_if_finished=True)
        if told.state != state:  # another worker failed it between the last write and the tell
            raise optuna.exceptions.UpdateFinishedTrialError(f"trial {trial.number} was finished elsewhere")
        took = time.monotonic() - t0
        self.trial_seconds.append(took)
        record = {"trial": trial.number, "worker": self.worker, "state": state.name, "params": values,
                  "values": None if state != optuna.trial.TrialState.COMPLETE else obj_values,
                  "figures": medians, "samples": samples, "feasible": all(c <= 0 for c in cons),
                  "seconds": round(took, 3), "error": error}
        self._log(report.clean(record))
        feasible = "" if not cons or record["feasible"] else " (breaks a constraint)"
        shown = ", ".join(f"{o.label}={v:.4g}" for o, v in zip(objs, obj_values) if v is not None)
        self.say(f"trial {trial.number}: {state.name.lower()} {values} -> {shown or error}{feasible}")

    def search(self) -> bool:
        """Run trials until every slot is finished (or the budget is spent); False if interrupted.

        With no slot left a worker waits while other workers still run trials: on a heartbeat
        storage a dead worker's trial comes back as a waiting one, and this worker runs it; the
        owner also wants every result before it chooses the best.
        """
        beat = heartbeat.interval(self.storage)
        waited_for, limit = None, 0.0
        while True:
            if self.budget_s is not None and time.monotonic() - self.t_start >= self.budget_s:
                self.say("scxpy tune: the --budget is spent; the remaining trial slots wait for --resume")
                return True
            trial = st.next_trial(self.study)
            if trial is not None:
                waited_for = None
                if not self._run(trial):
                    return False
                continue
            others = [t.number for t in st.running(self.study)]
            if not others or not (beat or self.owner):
                return True
            if others != waited_for:  # news: say so, and give these trials time of their own
                waited_for = others
                limit = (time.monotonic() + 3 * max(self.trial_seconds or [60.0]) + 60
                         + (heartbeat.GRACE_BEATS * beat if beat else 0))
                self.say(f"scxpy tune: waiting for {len(others)} trial(s) of other workers"
                         + (" (a dead worker's trial runs again once its heartbeat has stopped "
                            f"for {heartbeat.GRACE_BEATS * beat} s)" if beat else ""))
            elif time.monotonic() >= limit:
                self.say(f"scxpy tune: stopped waiting for other workers' trials {others}; "
                         "going on with the finished ones")
                return True
            time.sleep(min(2, beat or 2))  # a look at the study every 2 s costs the storage little

    def _run(self, trial) -> bool:
        """One trial, beating for it; False if interrupted."""
        import optuna

        with heartbeat.beating(self.storage, trial):
            try:
                self.run_trial(trial)
            except KeyboardInterrupt:
                st.interrupted(self.study, trial)
                return False
            except optuna.exceptions.UpdateFinishedTrialError:
                self.say(f"scxpy tune: trial {trial.number} was failed by another worker while it ran here "
                         "(this worker's heartbeat stopped for the grace period); it runs again, and this "
                         "result is dropped")
        if self.progress is not None:
            self.progress.update(self)
        return True

    # -- 3. the best, and the final comparison -------------------------------------

    def best(self):
        """The best feasible finished trial (Pareto front for several objectives: best on the first)."""
        import optuna

        done = [t for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                if all(c <= 0 for c in t.user_attrs.get("constraints", []))]
        if not done:
            return None, []
        front = report.pareto(done, self.plan.objectives)
        first = self.plan.objectives[0]
        key = (lambda t: -t.values[0]) if first.maximize else (lambda t: t.values[0])
        return min(front, key=key), front

    def final(self, values: dict) -> list[stats.Comparison]:
        from scxpy.bench.stats import interleaved_order

        rounds = self.plan.spec.final_rounds
        contenders = {"best": values, "default": self.plan.defaults(), "fair": None}
        samples = {name: {k: [] for k in self.plan.figures_needed()} for name in contenders}
        order = interleaved_order(list(contenders), rounds, warmup=0, rotate=True)
        self.final_partial = False
        try:
            for i, (rnd, name) in enumerate(order):
                self.say(f"scxpy tune: final comparison, round {rnd + 1}/{rounds}: {name}"
                         f" ({i + 1}/{len(order)})")
                try:
                    m = self.m.measure(contenders[name])  # attach/detach for fair: not a trial's overhead
                except TrialFailed as e:
                    self.say(f"scxpy tune: {name} failed in round {rnd + 1}: {e}")
                    continue
                for k in samples[name]:
                    samples[name][k].append(m.figures.get(k))
                (self.out / "final.json").write_text(json.dumps(report.clean(
                    {"samples": samples, "best": values, "complete": False}), indent=1))
        except KeyboardInterrupt:
            # Ctrl-C: the rounds so far still make a (smaller, and so labelled) comparison.
            self.final_partial = True
            self.say("scxpy tune: final comparison interrupted; the statistics below use the rounds done")
        (self.out / "final.json").write_text(json.dumps(report.clean(
            {"samples": samples, "best": values, "complete": not self.final_partial}), indent=1))
        out = []
        for k in self.plan.figures_needed():
            lower = report.lower_is_better(self.plan, k)
            for base in ("default", "fair"):
                try:
                    out.append(stats.compare(samples["best"][k], samples[base][k], metric=k,
                                             better_if_lower=lower, baseline_name=base, seed=self.plan.spec.seed))
                except ValueError as e:
                    self.say(f"scxpy tune: no comparison of {k} against {base}: {e}")
        return out

    def overhead_line(self) -> str:
        if not self.overheads:
            return "per-trial overhead: nothing measured"
        xs = sorted(self.overheads)
        return (f"per-run overhead beyond the workload's own time (setting the tunables, starting the "
                f"workload, reading counters): median {statistics.median(xs):.3f} s, max {xs[-1]:.3f} s "
                f"over {len(xs)} runs (target <= 0.5 s)")


def worker_name() -> str:
    return f"{os.uname().nodename}-{os.getpid()}"
