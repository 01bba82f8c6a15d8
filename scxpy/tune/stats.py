"""Whether a tune's best beats the default: medians, their ratio's 95% interval, and a rank test.

On TCG and on shared hosts one run proves nothing: hackbench moves by a
few percent between rounds and latency percentiles by far more. So the
default's noise is measured before the search, a trial is repeated as
often as that noise requires, and the final verdict rests on interleaved
rounds: the ratio of medians (best / default) with a bootstrap 95%
confidence interval, and a Mann-Whitney U p-value, both from scipy.
Where the interval includes 1.0 the verdict says so plainly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

NO_GAIN = "no significant improvement over the default"
CONFIDENCE = 0.95
RESAMPLES = 9999


@dataclass(frozen=True)
class Noise:
    """The default configuration's spread over repeated runs of one figure."""

    n: int
    median: float
    q1: float
    q3: float
    lo: float
    hi: float

    @property
    def rel_sigma(self) -> float:
        """A robust relative standard deviation: IQR / 1.349 (a normal's IQR in sigmas) / median."""
        if self.median == 0:
            return 0.0
        return (self.q3 - self.q1) / 1.349 / abs(self.median)

    def to_json(self) -> dict:
        return {**asdict(self), "rel_sigma": self.rel_sigma}


def noise(samples: list[float]) -> Noise:
    xs = np.asarray([x for x in samples if x is not None and math.isfinite(x)], dtype=float)
    if xs.size == 0:
        raise ValueError("no finite samples")
    q1, med, q3 = np.percentile(xs, [25, 50, 75])
    return Noise(int(xs.size), float(med), float(q1), float(q3), float(xs.min()), float(xs.max()))


def repeats_needed(n: Noise, min_effect: float, cap: int) -> int:
    """Runs per trial so that the median of a trial resolves `min_effect` (relative) given the noise.

    The standard error of a median of k runs is about 1.2533 sigma / sqrt(k);
    we want two of them below the effect: k >= (2 * 1.2533 * sigma / effect)^2.
    Capped, because beyond a few runs pruning and the final interleaved
    comparison are a better use of the time.
    """
    if min_effect <= 0:
        raise ValueError("min_effect must be positive")
    k = math.ceil((2 * 1.2533 * n.rel_sigma / min_effect) ** 2)
    return max(1, min(cap, k))


@dataclass(frozen=True)
class Comparison:
    """candidate vs baseline on one figure; ratio = median(candidate) / median(baseline)."""

    metric: str
    candidate: str
    baseline: str
    n_candidate: int
    n_baseline: int
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    better_if_lower: bool

    @property
    def significant(self) -> bool:
        return not (self.ci_low <= 1.0 <= self.ci_high)

    @property
    def improved(self) -> bool:
        return self.significant and ((self.ci_high < 1.0) if self.better_if_lower else (self.ci_low > 1.0))

    def verdict(self) -> str:
        if not self.significant:
            return NO_GAIN if self.baseline == "default" else f"no significant difference from {self.baseline}"
        word = "better" if self.improved else "worse"
        return f"significantly {word} than {self.baseline}"

    def line(self) -> str:
        return (f"{self.metric}: {self.candidate}/{self.baseline} = {self.ratio:.3f} "
                f"[95% CI {self.ci_low:.3f}..{self.ci_high:.3f}], Mann-Whitney p = {self.p_value:.3g} "
                f"(n = {self.n_candidate} vs {self.n_baseline}): {self.verdict()}")

    def to_json(self) -> dict:
        return {**asdict(self), "significant": self.significant, "improved": self.improved,
                "verdict": self.verdict()}


def _median_ratio(a, b, axis=-1):
    return np.median(a, axis=axis) / np.median(b, axis=axis)


def compare(candidate: list[float], baseline: list[float], *, metric: str, better_if_lower: bool,
            candidate_name: str = "best", baseline_name: str = "default", seed: int = 0) -> Comparison:
    """Ratio of medians with a percentile-bootstrap 95% interval and a two-sided Mann-Whitney U test.

    The two samples are resampled independently (the rounds were
    interleaved, so drift hits both alike; pairing them would assume
    more than interleaving gives).
    """
    a = np.asarray([x for x in candidate if x is not None and math.isfinite(x)], dtype=float)
    b = np.asarray([x for x in baseline if x is not None and math.isfinite(x)], dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"{metric}: need at least 2 finite samples on each side (have {a.size} and {b.size})")
    if np.median(b) == 0:
        raise ValueError(f"{metric}: the baseline's median is 0, so no ratio")
    ratio = float(_median_ratio(a, b))
    if np.all(a == a[0]) and np.all(b == b[0]):
        lo = hi = ratio  # no spread at all: the interval is the point
    else:
        res = sps.bootstrap((a, b), _median_ratio, n_resamples=RESAMPLES, confidence_level=CONFIDENCE,
                            method="percentile", vectorized=True, rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    p = float(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return Comparison(metric, candidate_name, baseline_name, int(a.size), int(b.size), ratio, lo, hi, p,
                      better_if_lower)
