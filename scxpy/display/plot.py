"""Counters over time as a PNG (`--plot FILE.png`), from `--stats-json` records.

One panel per row of the stats table's groups (rules, queues, the
policy-wide counters), one line per counter, rates per second against
seconds since attach.
"""

from __future__ import annotations

from scxpy.runtime.counters import split_name


def plot(records: list[dict], path, title: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display in the guest or CI
    import matplotlib.pyplot as plt

    if not records:
        raise ValueError("no stats intervals to plot (the run ended before the first --stats interval)")
    names = list(records[-1]["rates"])
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(split_name(n)[0].split(" ")[0], []).append(n)
    fig, axes = plt.subplots(max(1, len(groups)), 1, figsize=(9, 2.6 * max(1, len(groups))),
                             sharex=True, squeeze=False)
    xs = [r["elapsed_s"] for r in records]
    for ax, (group, members) in zip(axes[:, 0], groups.items()):
        for n in members:
            ax.plot(xs, [r["rates"].get(n, 0) for r in records], label=n, marker=".")
        ax.set_ylabel(f"{group} /s")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[-1, 0].set_xlabel("seconds since attach")
    fig.suptitle(title or f"{records[-1]['scheduler']}: counters per second")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
