"""One PNG per workload: each metric's median relative to fair, with its spread.

Bars are median / fair's median (1.0 = fair, drawn as a line); the
error bar spans the interquartile range, and the thin whisker min..max,
both divided by the same baseline median. Under TCG the plot says the
figures are relative only.
"""

from __future__ import annotations

import math
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display in CI or the guest; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def plot_workload(results: dict, workload: dict, path: Path) -> Path | None:
    plt = _pyplot()
    wsum = results["summary"].get(workload["name"], {})
    metrics = [m for m in workload["metrics"] if wsum.get(m["key"])]
    if not metrics:
        return None
    contenders = [c["name"] for c in results["contenders"]]
    ncols = min(3, len(metrics))  # a grid: five metrics in one row are unreadable
    nrows = math.ceil(len(metrics) / ncols)
    panel_w = max(4.0, 1.0 + 0.9 * len(contenders))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols, 4.0 * nrows + 0.6), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(metrics):]:
        ax.set_visible(False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, m in zip(flat, metrics):
        entries = wsum[m["key"]]
        base = entries.get(results["baseline"])
        names, heights, iqr_lo, iqr_hi, rng_lo, rng_hi = [], [], [], [], [], []
        for c in contenders:
            e = entries.get(c)
            if e is None or base is None or not base["median"] or not math.isfinite(e["median"]):
                continue
            b = base["median"]
            names.append(c)
            heights.append(e["median"] / b)
            iqr_lo.append(max(0.0, (e["median"] - e["q1"]) / b))
            iqr_hi.append(max(0.0, (e["q3"] - e["median"]) / b))
            rng_lo.append(max(0.0, (e["median"] - e["min"]) / b))
            rng_hi.append(max(0.0, (e["max"] - e["median"]) / b) if math.isfinite(e["max"]) else 0.0)
        xs = list(range(len(names)))
        ax.bar(xs, heights, color=[colors[contenders.index(n) % len(colors)] for n in names], alpha=0.85)
        ax.errorbar(xs, heights, yerr=[rng_lo, rng_hi], fmt="none", ecolor="0.45", elinewidth=0.8, capsize=2)
        ax.errorbar(xs, heights, yerr=[iqr_lo, iqr_hi], fmt="none", ecolor="black", elinewidth=2.2, capsize=4)
        ax.axhline(1.0, color="0.3", linestyle="--", linewidth=0.8)
        ax.margins(y=0.12)  # room for the value labels above the whiskers
        for x, h, top in zip(xs, heights, rng_hi):  # above the whisker, so the label never hides it
            ax.annotate(f"{h:.2f}", (x, h + top), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
        ax.set_xticks(xs, names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"median / fair ({m['better']} is better)")
        ax.set_title(f"{m['label']}", fontsize=9)
    env = results["environment"]
    note = " — TCG: relative figures only" if results.get("relative_only") else ""
    fig.suptitle(
        f"{workload['name']}: {env.get('guest', {}).get('cpus', '?')} vCPUs, {env.get('accelerator', '?')}, "
        f"n={results['rounds']} rounds{note}", fontsize=10,
    )
    fig.text(0.01, 0.01, "bar: median; thick: IQR; thin: min..max; dashed: fair", fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_all(results: dict, outdir: Path) -> list[Path]:
    paths = []
    for w in results["workloads"]:
        p = plot_workload(results, w, Path(outdir) / f"{w['name']}.png")
        if p is not None:
            paths.append(p)
    return paths
