"""Summary statistics of timing samples (pure functions, no I/O)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["percentile", "stddev", "summarize"]


def percentile(samples: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100) with linear interpolation.

    This is the definition numpy uses by default ("linear", type 7), so the
    figures agree with what users compute by hand.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    value = ordered[lower] + (ordered[upper] - ordered[lower]) * fraction
    return min(max(value, ordered[lower]), ordered[upper])


def stddev(samples: Sequence[float]) -> float:
    """Sample standard deviation; 0.0 for fewer than two samples."""
    if len(samples) < 2:
        return 0.0
    return statistics.stdev(samples)


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Return mean, median, min, max, stddev, p95 and p99 of ``samples``."""
    if not samples:
        raise ValueError("summary of no samples")
    low, high = min(samples), max(samples)
    # Division rounding may put the mean of equal samples one ulp outside them.
    mean = min(max(math.fsum(samples) / len(samples), low), high)
    return {
        "mean": mean,
        "median": percentile(samples, 50),
        "min": low,
        "max": high,
        "stddev": stddev(samples),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
    }
