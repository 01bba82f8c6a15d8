"""Statistics of a check's figure over rounds: the mean and its 95% interval.

Each round gives one figure per contender (the policy, fair). The
interval is Student's t interval of the mean, mean ± t(0.975, n-1) · s/√n,
with scipy's t quantile: few rounds (3 by default) and figures that are
themselves averages or percentiles of thousands of events, for which a
bootstrap over three values would say nothing. With one round there is
no interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

METHOD = "Student's t interval of the mean over rounds, 95%"


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float | None
    high: float | None
    n: int

    def to_json(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def estimate(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    if not values:
        raise ValueError("no values to estimate from")
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, None, None, n)
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)
