"""scxpy.tune(...): check, open the study, boot one guest, tune, compare, write the outputs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from scxpy.tune import heartbeat, report, study as st
from scxpy.tune.errors import TuneError
from scxpy.tune.spec import Spec, parse_duration, resolve
from scxpy.tune.tuner import Result, Tuner, worker_name


class Progress:
    """A rich progress bar on stderr: trials done of requested, best so far, ETA; lines print above it."""

    def __init__(self, enabled: bool):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = Console(stderr=True)
        self.bar = RichProgress(TextColumn("tune"), BarColumn(), MofNCompleteColumn(), TextColumn("trials"),
                                TextColumn("best {task.fields[best]}"), TimeElapsedColumn(),
                                TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
                                disable=not enabled)
        self.task = None

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def start(self, done: int, total: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task("tune", total=total, completed=done, best="-")

    def update(self, tuner: Tuner) -> None:
        done, total = st.counts(tuner.study)
        best, _ = tuner.best()
        shown = ", ".join(f"{o.label}={v:.4g}" for o, v in zip(tuner.plan.objectives, best.values)) if best else "-"
        self.bar.update(self.task, completed=done, total=total, best=shown)

    def stop(self) -> None:
        self.bar.stop()


def _open(spec: Spec | None, *, out: Path, storage_url: str | None, join: str | None, resume: bool,
          study_name: str | None, compiled):
    """(plan, study, storage, owner): create the study, or load it to resume or join."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if join and not storage_url:
        raise TuneError("--join STUDY needs --storage URL: the storage the first worker created the study in")
    if not (join or resume):
        plan = resolve(spec, compiled)  # every check before anything is written
        storage = st.storage_for(storage_url, out, plan.spec.heartbeat_s)
    else:
        storage = st.storage_for(storage_url, out)  # to read the spec, and with it the heartbeat
    if join or resume:
        name = join or study_name or (f"{Path(spec.policy).stem}-{spec.workload}" if spec else None)
        if name is None:
            raise TuneError("--resume needs the POLICY and -w WORKLOAD of the tune (or --study-name)")
        loaded = st.load(storage, name, 0, None)
        stored = loaded.user_attrs.get("spec")
        if stored is None:
            raise TuneError(f"study {name!r} was not made by scxpy tune (it has no spec)")
        spec = Spec.from_json(stored)
        plan = resolve(spec, compiled)
        storage = st.storage_for(storage_url, out, spec.heartbeat_s)
        worker = 1 + len([k for k in loaded.user_attrs if k.startswith("default.")]) if join else 0
        study = st.load(storage, name, spec.seed, _pruner(plan), worker=worker)
        if resume:
            stale = st.requeue_stale(study, storage)
            if stale:
                print(f"scxpy tune: {stale} trial(s) left running by the interrupted tune go back in the queue",
                      file=sys.stderr)
        return plan, study, storage, not join
    name = study_name or f"{Path(spec.policy).stem}-{spec.workload}"
    study = st.create(storage, name, plan.directions, spec.trials, spec.seed, _pruner(plan),
                      {"spec": spec.to_json()})
    return plan, study, storage, True


def _pruner(plan):
    import optuna

    if len(plan.objectives) > 1:
        return optuna.pruners.NopPruner()  # optuna prunes single-objective studies only
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)


def tune(policy=None, workload: str | None = None, objective=None, *, maximize: bool = False,
         params: list[str] | None = None, constraints: list[str] | None = None, trials: int = 20,
         budget: str | float | None = None, seed: int = 0, out=None, resume: bool = False,
         storage: str | None = None, join: str | None = None, study_name: str | None = None,
         rebuild: bool = False, noise_repeats: int = 5, max_repeats: int = 3, min_effect: float = 0.05,
         final_rounds: int = 10, cpus: int = 2, long: bool = False,
         heartbeat_s: int = heartbeat.DEFAULT_INTERVAL_S, kernel=None, progress: bool = True, measurer=None,
         compiled=None) -> Result:
    """Search POLICY's tunables for the best OBJECTIVE(s) on WORKLOAD in one warm guest.

    objective: a figure of the workload ("p99_us", "time_s", ...) or a policy
    counter (its rate per second); a list for several (a Pareto front).
    Returns a Result: the optuna study, the best values, and the final
    comparisons of best vs default and vs fair (ratio of medians, 95%
    bootstrap interval, Mann-Whitney p). Bad input raises TuneError before
    any guest boots. heartbeat_s: how often a worker tells an RDB storage
    it is alive (a trial silent for 3 beats is failed and run again).
    `measurer(plan)` replaces the guest (tests only).
    """
    objectives = [objective] if isinstance(objective, str) else list(objective or [])
    spec = None
    if not join:
        if policy is None or workload is None:
            raise TuneError("give a POLICY and a workload (-w), or --join STUDY --storage URL")
        spec = Spec(str(policy) if not isinstance(policy, type) else policy.__name__, workload, objectives,
                    maximize, list(params or []), list(constraints or []), trials, seed, rebuild, noise_repeats,
                    max_repeats, min_effect, final_rounds, cpus, long, heartbeat_s)
        if isinstance(policy, type) and compiled is None:
            from scxpy.build import compile_policy_spec

            compiled = compile_policy_spec(policy)
    budget_s = parse_duration(budget) if isinstance(budget, str) else budget
    out = Path(out) if out else Path(f"tune-{Path(spec.policy).stem}-{spec.workload}" if spec else "tune-join")
    if not (resume or join) and (out / "trials.jsonl").exists() and storage is None:
        raise TuneError(f"{out} already holds a tune; pass --resume to go on with it, or another --out")
    plan, study, store, owner = _open(spec, out=out, storage_url=storage, join=join, resume=resume,
                                      study_name=study_name, compiled=compiled)
    out.mkdir(parents=True, exist_ok=True)
    if measurer is None:
        from scxpy.tune.measure import GuestMeasurer

        m = GuestMeasurer(plan.compiled, plan.spec.workload, cpus=plan.spec.cpus, long=plan.spec.long,
                          kernel=kernel, rebuild=plan.spec.rebuild, progress=progress)
    else:
        m = measurer(plan)
    bar = Progress(progress and sys.stderr.isatty())
    tuner = Tuner(plan, study, store, out, m, worker=worker_name() if join else "main", owner=owner,
                  budget_s=budget_s, say=bar.say if progress else (lambda s: None), progress=bar)
    result = Result(study, None, None, out=out)
    try:
        m.start()
        tuner.measure_noise()
        result.noise = tuner.noise
        bar.start(*st.counts(study))
        finished = tuner.search()
        bar.stop()
        if finished and owner:
            best, front = tuner.best()
            if best is not None:
                result.best_values, result.best_trial = dict(best.params), best.number
                result.comparisons = tuner.final(best.params)
                result.interrupted = tuner.final_partial
                report.write_best(out / "best.toml", plan, best, result.comparisons)
        elif not finished:
            result.interrupted = True
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.stop()
        m.close()  # no QEMU, no attached scheduler left behind, however we leave
        result.overhead_s = list(tuner.overheads)
        report.write_trials(study, out / "trials.jsonl")
    _finish(tuner, result, plan, out, bar.say if progress else print)
    return result


def _finish(tuner: Tuner, result: Result, plan, out: Path, say) -> None:
    from scxpy.tune import stats

    best, _ = tuner.best()
    done, total = st.counts(tuner.study)
    say(f"scxpy tune: {done}/{total} trials finished; study {tuner.study.study_name!r}, outputs in {out}/")
    if best is None:
        say("scxpy tune: no feasible trial finished, so there is no best configuration")
    else:
        shown = ", ".join(f"{o.label}={v:.4g}" for o, v in zip(plan.objectives, best.values))
        say(f"scxpy tune: best so far: trial {best.number} {dict(best.params)} -> {shown}")
        if result.interrupted or not result.comparisons:
            # Its statistics without the final rounds: its own runs against the default's noise runs.
            for o in plan.objectives:
                mine = (best.user_attrs.get("samples") or {}).get(o.name) or []
                base = tuner.default_samples.get(o.name) or []
                try:
                    c = stats.compare(mine, base, metric=o.name, better_if_lower=not o.maximize)
                    say(f"  {c.line()} (trial runs vs the default's noise runs; no final comparison)")
                except ValueError as e:
                    say(f"  {o.name}: no statistics yet ({e})")
    for c in result.comparisons:
        say(f"  {c.line()}")
    if result.comparisons and not result.improved:
        say(f"scxpy tune: {stats.NO_GAIN} on {plan.objectives[0].label} (its 95% interval includes 1.0 or "
            "is on the wrong side)")
    say("scxpy tune: " + tuner.overhead_line())
    try:
        note = report.plot(out / "tune.png", tuner.study, plan, tuner.noise)
        say(f"scxpy tune: plot {out / 'tune.png'}" + (f" ({note})" if note else ""))
    except Exception as e:  # a plot must never lose the results written above
        say(f"scxpy tune: no plot: {type(e).__name__}: {e}")
    if (out / "best.toml").exists() and result.comparisons:
        say(f"scxpy tune: apply with --set-file {out / 'best.toml'}")
