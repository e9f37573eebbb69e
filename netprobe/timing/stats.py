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
