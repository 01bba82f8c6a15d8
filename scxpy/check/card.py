"""The report card: one row per check figure, the policy's and fair's figures side by side."""

from __future__ import annotations

from scxpy.check import catalog
from scxpy.check.intervals import METHOD
from scxpy.check.runner import TARGET_S, Card

_STYLE = {catalog.PASS: "green", catalog.FAIL: "bold red", catalog.ERROR: "bold red",
          catalog.NOT_PROMISED: "yellow", catalog.NOT_CHECKED: "dim"}


def table(card: Card):
    from rich.table import Table

    t = Table(title=f"scxpy check: {card.policy} on {card.kernel}",
              caption=f"{card.rounds} round(s) each; 95% interval of the policy's figure: {METHOD}; "
                      "verdict on the mean",
              title_justify="left", caption_justify="left")
    for col, kw in (("check", {}), ("policy", {"justify": "right"}), ("fair", {"justify": "right"}),
                    ("threshold", {}), ("verdict", {}), ("95% interval", {"justify": "right"})):
        t.add_column(col, **kw)
    for r in card.rows:
        t.add_row(r.label, r.policy, r.fair, r.threshold, f"[{_STYLE[r.verdict]}]{r.verdict}[/]", r.interval)
    return t


def notes(card: Card) -> list[str]:
    out = [f"{r.label}: {r.note}" for r in card.rows if r.note]
    out.append(f"card in {card.elapsed_s / 60:.1f} min (target ≤ {TARGET_S / 60:.0f} min per policy per kernel); "
               f"{card.accel}, host load average {card.load_average[0]:.1f} "
               f"{card.load_average[1]:.1f} {card.load_average[2]:.1f}")
    return out


def markdown(card: Card) -> str:
    """The card as a Markdown table (docs/behaviour-results.md)."""
    lines = [f"#### {card.policy} on {card.kernel}", "",
             "| check | policy | fair | threshold | verdict | 95% interval |", "|---|---:|---:|---|---|---:|"]
    for r in card.rows:
        lines.append(f"| {r.label} | {r.policy} | {r.fair} | {r.threshold} | {r.verdict} | {r.interval} |")
    lines.append("")
    lines += [f"- {n}" for n in notes(card)]
    return "\n".join(lines) + "\n"


def show(card: Card, console=None) -> None:
    from rich.console import Console

    console = console or Console(width=max(120, Console().width))  # a row per line in logs too
    console.print(table(card))
    for n in notes(card):
        console.print(n, markup=False, highlight=False)
