"""What the CLI draws for people: counter tables (rich) and plots (matplotlib).

The data they draw (samples, rates, interval records) is the runtime's,
scxpy.runtime.counters; the runtime, vm and base import neither rich nor
matplotlib (pyproject's import-linter contract `display`).

- `table`: the live table of counters, two versions side by side, the terminal's width;
- `stats_log`: each interval's counters read, printed and written as JSON lines;
- `plot`: the counters over time as a PNG (`--plot FILE.png`).
"""
