"""A tune's outputs: trials.jsonl, best.toml, the plot, and the lines printed at the end."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path


def clean(doc):
    """Strict JSON: NaN and infinities become null."""
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: clean(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [clean(v) for v in doc]
    return doc


def lower_is_better(plan, metric: str) -> bool:
    for o in plan.objectives:
        if o.name == metric:
            return not o.maximize
    try:
        return plan.workload.metric(metric).better == "lower"
    except KeyError:
        return True


def pareto(trials, objectives) -> list:
    """The trials no other trial beats on every objective (as good on all, better on one)."""
    signs = [-1 if o.maximize else 1 for o in objectives]

    def key(t):
        return [s * v for s, v in zip(signs, t.values)]

    keys = {t.number: key(t) for t in trials}

    def dominated(a):
        ka = keys[a.number]
        return any(all(x <= y for x, y in zip(keys[b.number], ka)) and keys[b.number] != ka for b in trials)

    return [t for t in trials if not dominated(t)]


def write_trials(study, path: Path) -> None:
    """trials.jsonl from the study: every worker's trials (spare ones, never run, left out)."""
    from scxpy.tune.heartbeat import retried
    from scxpy.tune.study import SPARE

    trials = study.get_trials(deepcopy=False)
    again = retried(trials)
    lines = []
    for t in trials:
        if t.user_attrs.get(SPARE) or t.state.name == "WAITING":  # never run, or not yet
            continue
        lines.append(json.dumps(clean({
            "trial": t.number, "state": t.state.name, "params": t.params, "values": t.values,
            "worker": t.user_attrs.get("worker"), "figures": t.user_attrs.get("figures"),
            "samples": t.user_attrs.get("samples"), "constraints": t.user_attrs.get("constraints"),
            "error": t.user_attrs.get("error"), "interrupted": t.user_attrs.get("interrupted", False),
            "retried": t.number in again,  # its worker died; optuna's heartbeat failed it, it ran again
            "seconds": (t.duration.total_seconds() if t.duration else None),
        }), allow_nan=False))
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a TOML basic string is a JSON string


def write_best(path: Path, plan, trial, comparisons) -> None:
    """best.toml: the values under [set] (what `--set-file` applies), how they were found as comments."""
    spec = plan.spec
    lines = [f"# scxpy tune: the best configuration of {spec.policy} on the {spec.workload} workload",
             f"# trial {trial.number}; objective(s): "
             + ", ".join(f"{o.label} ({o.direction})" for o in plan.objectives),
             "# " + ", ".join(f"{o.label} = {v:.6g}" for o, v in zip(plan.objectives, trial.values))]
    lines += [f"# final: {c.line()}" for c in comparisons]
    lines += [f"# apply: scxpy run --vm {spec.policy} --set-file {path.name} -- WORKLOAD ...",
              f"policy = {_toml_value(spec.policy)}",
              f"workload = {_toml_value(spec.workload)}",
              "",
              "[set]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in sorted(trial.params.items())]
    path.write_text("\n".join(lines) + "\n")


def plot(path: Path, study, plan, noise: dict) -> str | None:
    """Objective per trial with the default's noise band (IQR dark, min..max light, median dashed),
    best so far as a step line; and the parameters' importance (optuna's evaluator)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()
              and not t.user_attrs.get("spare")]
    n_obj = len(plan.objectives)
    fig, axes = plt.subplots(n_obj + 1, 1, figsize=(8, 3.2 * (n_obj + 1)), squeeze=False)
    for i, o in enumerate(plan.objectives):
        ax = axes[i][0]
        nz = noise.get(o.name)
        if nz is not None:
            ax.axhspan(nz.lo, nz.hi, color="tab:green", alpha=0.12, label="default min..max")
            ax.axhspan(nz.q1, nz.q3, color="tab:green", alpha=0.3, label="default IQR")
            ax.axhline(nz.median, color="tab:green", ls="--", lw=1, label="default median")
        xs, ys, colors = [], [], []
        best, best_x, best_y = None, [], []
        for t in sorted(trials, key=lambda t: t.number):
            v = (t.user_attrs.get("figures") or {}).get(o.name)
            if v is None:
                continue
            feasible = all(c <= 0 for c in t.user_attrs.get("constraints", []))
            xs.append(t.number)
            ys.append(v)
            colors.append("tab:blue" if t.state == optuna.trial.TrialState.COMPLETE and feasible
                          else "tab:orange" if t.state == optuna.trial.TrialState.PRUNED else "tab:gray")
            if t.state == optuna.trial.TrialState.COMPLETE and feasible:
                if best is None or (v > best if o.maximize else v < best):
                    best = v
                best_x.append(t.number)
                best_y.append(best)
        ax.scatter(xs, ys, c=colors, s=18, zorder=3)
        if best_x:
            ax.step(best_x, best_y, where="post", color="tab:red", lw=1.2, label="best so far")
        ax.set_xlabel("trial (blue: feasible, grey: infeasible or failed, orange: pruned)")
        ax.set_ylabel(o.label)
        ax.set_title(f"{plan.spec.policy} on {plan.spec.workload}: {o.label} ({o.direction})")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    ax = axes[n_obj][0]
    note = None
    sign = -1 if plan.objectives[0].maximize else 1  # the evaluator ranks by what gives low targets
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # that same remark, made on every call
            imp = optuna.importance.get_param_importances(study, target=lambda t: sign * t.values[0])
        ax.barh(list(imp)[::-1], list(imp.values())[::-1], color="tab:purple")
        ax.set_title(f"parameter importance for {plan.objectives[0].label} (optuna)")
    except (RuntimeError, ValueError) as e:  # too few finished trials, or no variation
        note = f"no parameter importance: {e}"
        ax.text(0.02, 0.5, note, transform=ax.transAxes, fontsize=8)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return note
