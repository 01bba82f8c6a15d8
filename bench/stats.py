"""Order statistics for benchmark samples, and the interleaved run order.

Benchmarks on shared or emulated machines drift; we therefore report
medians and quartiles (robust to the odd outlier), never means, and
compare contenders by ratios measured in the same boot. Percentiles use
linear interpolation between order statistics (numpy's default,
"type 7"), so results match what an engineer gets from numpy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of values, linearly interpolated."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


@dataclass(frozen=True)
class Summary:
    """Median and spread of one contender's samples of one metric."""

    n: int
    median: float
    q1: float
    q3: float
    min: float
    max: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def to_json(self) -> dict:
        d = asdict(self)
        d["iqr"] = self.iqr
        return d


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no samples to summarize")
    return Summary(
        n=len(values),
        median=median(values),
        q1=percentile(values, 25),
        q3=percentile(values, 75),
        min=min(values),
        max=max(values),
    )


def ratio(value: float, baseline: float) -> float | None:
    """value / baseline, or None when the baseline is zero (no meaningful ratio)."""
    if baseline == 0:
        return None
    return value / baseline


def paired_ratios(samples: dict[int, float], baseline: dict[int, float]) -> list[float]:
    """Per-round ratios contender/baseline, for rounds where both have a sample.

    Rounds are interleaved, so a contender and the baseline in the same
    round saw nearly the same machine state; the spread of these paired
    ratios shows how stable the comparison is, independent of drift
    across rounds.
    """
    out = []
    for rnd in sorted(samples):
        if rnd in baseline and baseline[rnd] != 0:
            out.append(samples[rnd] / baseline[rnd])
    return out


def interleaved_order(contenders: Sequence[str], rounds: int, warmup: int = 1,
                      rotate: bool = False) -> list[tuple[int, str]]:
    """The run order: warm-up rounds then measured rounds, each A B C ...

    Returns (round, contender) pairs; warm-up rounds are numbered
    negative (-warmup .. -1) so that measured rounds are 0 .. rounds-1
    and a sample's round number alone says whether it counts. With
    `rotate`, measured round r starts r places further along (A B C,
    B C A, C A B, ...), so no contender always runs right after the same
    one (a peer's exit, say, or a cold start).
    """
    if rounds < 1:
        raise ValueError("at least one measured round is needed")
    if warmup < 0:
        raise ValueError("warm-up rounds cannot be negative")
    order = []
    n = len(contenders)
    for rnd in range(-warmup, rounds):
        shift = rnd % n if rotate and rnd >= 0 and n else 0
        for name in list(contenders[shift:]) + list(contenders[:shift]):
            order.append((rnd, name))
    return order
