"""A policy's counters as data: samples, per-second rates, interval records.

Counters are named `GROUP.LABEL.COUNTER` by codegen (`rule.fast.enqueued`,
`queue.batch.dispatched`); anything else (`cpus_fallback_to_global`) is
a policy-wide counter. Here:

- `Sample`: totals at one moment; two samples give per-second rates;
- `split_name()`: a counter's row (`rule fast`) and column (`enqueued`);
- `interval_record()`: one JSON-ready object per interval (`--stats-json`,
  the guest agent's stream).

Nothing here touches BPF or draws anything: it works on plain
{name: total} dicts. Tables and plots of them are scxpy.display's.
"""

from __future__ import annotations

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
