"""Statistics of per-iteration latency samples: median, p10, p90 and IQR, in milliseconds."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    """Summary of one configuration's samples (all in ms)."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    iqr_ms: float
    samples: int


def quantile(sorted_xs: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, 'inclusive' in statistics)."""
    if not sorted_xs:
        raise ValueError("no samples")
    pos = q * (len(sorted_xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def summarize(samples_ms: list[float]) -> Stats:
    """Median, 10th and 90th percentiles and interquartile range of the samples."""
    xs = sorted(samples_ms)
    return Stats(quantile(xs, 0.5), quantile(xs, 0.1), quantile(xs, 0.9),
                 quantile(xs, 0.75) - quantile(xs, 0.25), len(xs))


CONFIDENCE = 0.95  # of the median's interval


def median_ci(samples_ms: list[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free interval for the median: order statistics x_(j), x_(n+1-j) of a Binomial(n, 1/2).

    j is the largest rank with P(Binomial(n, 1/2) < j) <= (1 - confidence) / 2 (exact up to 1000
    samples, its normal approximation beyond); with too few samples for any such j (n < 6 at 95%)
    the interval is the whole range.
    """
    xs = sorted(samples_ms)
    n = len(xs)
    if not n:
        raise ValueError("no samples")
    tail = (1 - confidence) / 2
    if n > 1000:
        z = _normal_quantile(1 - tail)
        j = max(1, math.floor(n / 2 - z * math.sqrt(n) / 2))
    else:
        j, below = 0, 0.0
        while True:
            below += math.comb(n, j) / 2**n  # P(Binomial < j + 1)
            if below > tail:
                break
            j += 1
        if j == 0:
            return xs[0], xs[-1]
    return xs[j - 1], xs[n - j]


def _normal_quantile(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)
