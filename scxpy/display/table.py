"""Counters as aligned text tables (rich) that fit the terminal.

- `Grid`: rows (`rule fast`, `queue batch`, ...) by columns (`enqueued`,
  `direct`, ...), the shape of the live table;
- `render_table()`: that grid as text no wider than the terminal; too wide
  a grid is shown one counter per line instead;
- `render_compare()`: two versions' rates side by side (`scxpy dev`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from scxpy.runtime.counters import POLICY_ROW, split_name


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
    if not after and not before:  # no counters (a userspace policy in the warm guest): the title says it all
        return title + "\n"
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
