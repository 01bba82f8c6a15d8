"""Parsers for the output of the workload tools; each returns plain numbers.

Every parser raises WorkloadOutputError (with the text it could not
read) instead of returning a guess: a benchmark that silently records a
wrong number is worse than one that fails.
"""

from __future__ import annotations

import json
import re

from scxpy.base.errors import ScxpyError


class WorkloadOutputError(ScxpyError):
    """A workload tool printed something we could not read."""


def _excerpt(text: str, limit: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# --- hackbench (rt-tests) ------------------------------------------------

_HACKBENCH_TIME = re.compile(r"^Time:\s*([0-9]+(?:\.[0-9]+)?)\s*$", re.M)


def parse_hackbench(text: str) -> dict[str, float]:
    """hackbench prints `Time: 1.234` (seconds for all messages to pass)."""
    m = _HACKBENCH_TIME.findall(text)
    if len(m) != 1:
        raise WorkloadOutputError(
            f"hackbench output has {len(m)} 'Time:' lines, expected 1; output was:\n{_excerpt(text)}"
        )
    return {"time_s": float(m[0])}


# --- stress-ng --metrics-brief --------------------------------------------

# stress-ng: metrc: [1234] cpu  3196  2.00  1.94  0.00  1595.14  1645.09
# (0.15 labels these lines "metrc:", older releases "info:")
_STRESS_ROW = re.compile(
    r"^stress-ng:\s+\w+:\s+\[\d+\]\s+(?P<stressor>[a-z][\w-]*)\s+"
    r"(?P<ops>\d+)\s+(?P<real>[0-9.]+)\s+(?P<usr>[0-9.]+)\s+(?P<sys>[0-9.]+)\s+"
    r"(?P<rate_real>[0-9.]+)\s+(?P<rate_cpu>[0-9.]+)\s*$",
    re.M,
)


def parse_stress_ng(text: str, stressor: str = "cpu") -> dict[str, float]:
    """The metrics-brief row of `stressor`: bogo ops and rates."""
    rows = [m for m in _STRESS_ROW.finditer(text) if m.group("stressor") == stressor]
    if len(rows) != 1:
        raise WorkloadOutputError(
            f"stress-ng output has {len(rows)} metrics rows for stressor {stressor!r}, expected 1 "
            f"(was --metrics-brief given?); output was:\n{_excerpt(text)}"
        )
    m = rows[0]
    return {
        "bogo_ops": float(m.group("ops")),
        "bogo_ops_per_s": float(m.group("rate_real")),
        "bogo_ops_per_cpu_s": float(m.group("rate_cpu")),
        "real_time_s": float(m.group("real")),
    }


# --- cyclictest --json with a histogram -----------------------------------


def cyclictest_histogram(doc: dict) -> tuple[dict[int, int], int, int]:
    """Merge the per-thread histograms of a cyclictest --json document.

    Returns (histogram us -> count, total cycles, overflows). Samples
    above the histogram range are not in any bucket; they are counted
    as overflows (cycles minus bucketed samples).
    """
    threads = doc.get("thread")
    if not isinstance(threads, dict) or not threads:
        raise WorkloadOutputError("cyclictest JSON has no threads (was -h/--histogram given?)")
    hist: dict[int, int] = {}
    cycles = 0
    for t in threads.values():
        h = t.get("histogram")
        if h is None:
            raise WorkloadOutputError("cyclictest JSON has no histogram (run it with -h US)")
        for us, count in h.items():
            hist[int(us)] = hist.get(int(us), 0) + int(count)
        cycles += int(t["cycles"])
    bucketed = sum(hist.values())
    return hist, cycles, cycles - bucketed


def histogram_percentile(hist: dict[int, int], total: int, q: float) -> float:
    """The smallest bucket value v such that at least q% of `total` samples are <= v.

    `total` includes overflows (samples beyond the last bucket); a
    percentile that falls among them is reported as infinity rather
    than as the histogram's upper bound, which would understate it.
    """
    if total <= 0:
        raise WorkloadOutputError("cyclictest recorded no wake-ups")
    need = q / 100 * total
    seen = 0
    for us in sorted(hist):
        seen += hist[us]
        if seen >= need:
            return float(us)
    return float("inf")


def parse_cyclictest_json(text: str) -> dict[str, float]:
    """Wake-up latency percentiles (us) from cyclictest's --json output."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise WorkloadOutputError(f"cyclictest JSON is not valid JSON ({e}):\n{_excerpt(text)}") from None
    if doc.get("return_code", 0) != 0:
        raise WorkloadOutputError(f"cyclictest reported return_code {doc['return_code']}")
    hist, cycles, overflows = cyclictest_histogram(doc)
    maxes = [float(t["max"]) for t in doc["thread"].values()]
    mins = [float(t["min"]) for t in doc["thread"].values()]

    def pct(q: float) -> float:
        # A q-th percentile of fewer than 100/(100-q) samples is just the
        # maximum under another name; report it as not measured (NaN).
        if cycles < round(100 / (100 - q)):
            return float("nan")
        return histogram_percentile(hist, cycles, q)

    return {
        "p50_us": pct(50),
        "p99_us": pct(99),
        "p99_9_us": pct(99.9),
        "max_us": max(maxes),
        "min_us": min(mins),
        "wakeups": float(cycles),
        "overflows": float(overflows),
    }
