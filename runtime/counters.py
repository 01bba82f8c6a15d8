"""A policy's counters as people and scripts read them.

Counters are named `GROUP.LABEL.COUNTER` by codegen (`rule.fast.enqueued`,
`queue.batch.dispatched`); anything else (`cpus_fallback_to_global`) is
a policy-wide counter. Here they become:

- `Sample`: totals at one moment; two samples give per-second rates;
- `Grid`: rows (`rule fast`, `queue batch`, ...) by columns (`enqueued`,
  `direct`, ...), the shape of the live table;
- `render_table()`: that grid as an aligned text table (rich) that fits
  the terminal; too wide a grid is shown one counter per line instead;
- `interval_record()`: one JSON-ready object per interval (`--stats-json`).

Nothing here touches BPF: it works on plain {name: total} dicts.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field

POLICY_ROW = "policy"  # the row of counters that belong to no rule or queue


@dataclass(frozen=True)
class Sample:
    """Counter totals read at `t` (time.monotonic())."""

    totals: dict[str, int]
    t: float = field(default_factory=time.monotonic)

    def rates(self, earlier: "Sample | None") -> dict[str, float]:
        """Per-second increase since `earlier` (all zero without one, or with no time between)."""
        dt = self.t - earlier.t if earlier is not None else 0.0
        if dt <= 0:
            return {name: 0.0 for name in self.totals}
        return {name: (v - earlier.totals.get(name, 0)) / dt for name, v in self.totals.items()}


def split_name(name: str) -> tuple[str, str]:
    """`rule.fast.enqueued` -> (`rule fast`, `enqueued`); `x_y` -> (`policy`, `x_y`)."""
    parts = name.split(".")
    if len(parts) >= 3:
        return f"{parts[0]} {'.'.join(parts[1:-1])}", parts[-1]
    return POLICY_ROW, name


@dataclass
class Grid:
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], float]  # (row, column) -> value; missing = no such counter

    @classmethod
    def of(cls, values: dict[str, float]) -> "Grid":
        rows: list[str] = []
        columns: list[str] = []
        cells = {}
        for name, v in values.items():
            row, col = split_name(name)
            if row not in rows:
                rows.append(row)
            if col not in columns:
                columns.append(col)
            cells[(row, col)] = v
        # policy-wide counters last, whatever order the manifest lists them in
        rows.sort(key=lambda r: r == POLICY_ROW)
        return cls(rows, columns, cells)


def fmt_number(v: float) -> str:
    """Short and aligned: 7, 0.4, 812, 12.3k, 4.56M."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f}G"
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a < 10 and v != int(v):
        return f"{v:.1f}"
    return f"{v:.0f}"


def render_table(values: dict[str, float], title: str, width: int = 80) -> str:
    """The counters as an aligned table no wider than `width` columns.

    Rows are rules and queues, columns their counters; policy-wide
    counters follow the table, one per line. A grid that would not fit
    (many or long counter names) is shown one counter per line instead,
    which always fits, rather than with wrapped or cut cells.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if not values:
        return f"{title}\n  (this policy has no counters)\n"
    grouped = {k: v for k, v in values.items() if split_name(k)[0] != POLICY_ROW}
    loose = {k: v for k, v in values.items() if k not in grouped}
    grid = Grid.of(grouped)

    def table(*columns: str) -> Table:
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for i, c in enumerate(columns):
            t.add_column(c, justify="left" if i == 0 else "right", no_wrap=i > 0, overflow="fold")
        return t

    t = table("", *grid.columns)
    for row in grid.rows:
        t.add_row(row, *(fmt_number(grid.cells[(row, c)]) if (row, c) in grid.cells else ""
                         for c in grid.columns))
    for name, v in loose.items():
        t.add_row(name, fmt_number(v), *([""] * (len(grid.columns) - 1)))
    natural = Console(file=io.StringIO(), width=10_000).measure(t).maximum
    if not grid.columns or natural > width:
        t = table("counter", "value")
        for name, v in values.items():
            t.add_row(name, fmt_number(v))
    console = Console(file=io.StringIO(), width=max(width, 20), color_system=None, highlight=False)
    console.print(t)
    return _lines(title, console)


def _lines(title: str, console) -> str:
    # The title on a line of its own: a table narrower than its title would wrap it.
    return title + "\n" + "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def interval_record(name: str, now: Sample, earlier: Sample | None, start: float) -> dict:
    """One `--stats-json` line: totals and per-second rates since the previous one."""
    return {
        "scheduler": name,
        "time": round(time.time(), 3),
        "elapsed_s": round(now.t - start, 3),
        "interval_s": round(now.t - earlier.t, 3) if earlier is not None else 0.0,
        "totals": dict(now.totals),
        "rates": {k: round(v, 3) for k, v in now.rates(earlier).items()},
    }


class StatsLog:
    """Reads counters each interval: prints the rates table, appends a JSON line, keeps the records.

    `read()` returns {name: total}; `table_width` None prints no table.
    """

    def __init__(self, name: str, read, *, table_width: int | None = None, json_path=None, out=None):
        import sys

        self.name = name
        self.read = read
        self.table_width = table_width
        self.out = out or sys.stdout
        self.json_file = open(json_path, "w") if json_path else None
        self.records: list[dict] = []
        self.first = self.last = Sample(read())
        self.start = self.first.t

    def tick(self) -> dict:
        now = Sample(self.read())
        rec = interval_record(self.name, now, self.last, self.start)
        self.last = now
        self.records.append(rec)
        if self.json_file:
            self.json_file.write(json.dumps(rec) + "\n")
            self.json_file.flush()
        if self.table_width:
            self.out.write(render_table(rec["rates"], f"{self.name}  {rec['elapsed_s']:.0f} s  (per second)",
                                        self.table_width))
            self.out.flush()
        return rec

    def finish(self) -> None:
        """Totals since attach (printed when there is a table), then close the JSON file."""
        if self.table_width:
            now = Sample(self.read())
            self.out.write(render_table(now.totals, f"{self.name}  totals after {now.t - self.start:.0f} s",
                                        self.table_width))
            self.out.flush()
        if self.json_file:
            self.json_file.close()
            self.json_file = None


def terminal_width() -> int:
    """$COLUMNS, else the terminal's width, else 80 (a pipe, the guest's console)."""
    import os
    import shutil

    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        return shutil.get_terminal_size((80, 24)).columns


def render_compare(before: dict[str, float] | None, after: dict[str, float], labels: tuple[str, str],
                   title: str, width: int = 80) -> str:
    """Two versions' rates side by side, one counter per row, with the change."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    t.add_column("counter /s", overflow="fold")
    if before is not None:
        t.add_column(labels[0], justify="right", no_wrap=True)
    t.add_column(labels[1], justify="right", no_wrap=True)
    if before is not None:
        t.add_column("change", justify="right", no_wrap=True)
    for name in list(after) + [n for n in (before or {}) if n not in after]:
        new = after.get(name)
        cells = [name]
        if before is not None:
            old = before.get(name)
            cells.append(fmt_number(old) if old is not None else "-")
        cells.append(fmt_number(new) if new is not None else "-")
        if before is not None:
            old = before.get(name)
            cells.append(f"{100 * (new - old) / old:+.0f}%" if old and new is not None else "")
        t.add_row(*cells)
    console = Console(file=io.StringIO(), width=max(width, 20), color_system=None, highlight=False)
    console.print(t)
    return _lines(title, console)
