"""Summary statistics of timing samples (pure functions, no I/O)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_DRIFT",
    "MIN_RUN_SAMPLES",
    "PRIOR_RUNS",
    "RUN_BLOCKS",
    "RatioEstimate",
    "block_medians",
    "paired_ratio_estimate",
    "percentile",
    "ratio_estimate",
    "run_ratio_estimate",
    "runs_ratio_estimate",
    "stddev",
    "summarize",
]

DEFAULT_DRIFT = 0.05
"""Between-run drift allowed for when two separate runs are compared: the standard
deviation of one run's median around the machine's typical speed, as a fraction."""
RUN_BLOCKS = 20
"""A run's samples are reduced to at most this many block medians before comparing."""
_BLOCK_SAMPLES = 500
PRIOR_RUNS = 2
"""Weight of the assumed drift, in runs, when a baseline's own runs estimate the drift."""
MIN_RUN_SAMPLES = 3
"""Fewer samples than this on either side are not enough to compare two runs."""


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


_LISTED_PAIRS = 4096
"""Up to this many pairs, :func:`ratio_estimate` lists every difference instead of searching."""
_Z = {0.90: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}


@dataclass(frozen=True)
class RatioEstimate:
    """How much slower NEW is than OLD, as a time ratio with a confidence interval."""

    ratio: float
    """Hodges–Lehmann estimate of new/old: exp(median of all log(new_j) - log(old_i))."""
    low: float
    """Lower end of the confidence interval of the ratio."""
    high: float
    """Upper end of the confidence interval of the ratio."""
    confidence: float
    n_old: int
    n_new: int

    @property
    def percent(self) -> float:
        """Change in percent: +23.5 means 23.5 % slower."""
        return (self.ratio - 1.0) * 100.0


def _count_at_most(xs: Sequence[float], ys: Sequence[float], t: float) -> tuple[int, float]:
    """Pairs with ys[j] - xs[i] <= t, and the largest such difference (both sorted)."""
    count, best, p, n = 0, -math.inf, 0, len(xs)
    for y in ys:
        while p < n and y - xs[p] > t:
            p += 1
        if p < n:
            count += n - p
            best = max(best, y - xs[p])
    return count, best


def _kth_difference(xs: Sequence[float], ys: Sequence[float], k: int) -> float:
    """The k-th smallest (1-based) of all ys[j] - xs[i], without listing the pairs."""
    low, high = ys[0] - xs[-1], ys[-1] - xs[0]
    if _count_at_most(xs, ys, low)[0] >= k:
        return low
    for _ in range(200):
        middle = (low + high) / 2
        if not low < middle < high:
            break
        if _count_at_most(xs, ys, middle)[0] >= k:
            high = middle
        else:
            low = middle
    return _count_at_most(xs, ys, high)[1]


def ratio_estimate(
    old: Sequence[float], new: Sequence[float], confidence: float = 0.95
) -> RatioEstimate:
    """Hodges–Lehmann ratio new/old with the Moses (Mann–Whitney) confidence interval.

    Distribution-free and robust to outliers: a few slow samples move it little.
    Swapping ``old`` and ``new`` inverts the ratio and its interval.
    """
    if not old or not new:
        raise ValueError("ratio estimate needs samples on both sides")
    if confidence not in _Z:
        raise ValueError(f"confidence must be one of {sorted(_Z)}, got {confidence}")
    xs = sorted(math.log(max(v, 1e-15)) for v in old)
    ys = sorted(math.log(max(v, 1e-15)) for v in new)
    n, m = len(xs), len(ys)
    pairs = n * m
    listed = sorted(y - x for y in ys for x in xs) if pairs <= _LISTED_PAIRS else None

    def kth(k: int) -> float:  # the k-th smallest difference: listed when few, else searched
        return listed[k - 1] if listed is not None else _kth_difference(xs, ys, k)

    middle = kth((pairs + 1) // 2)
    if pairs % 2 == 0:
        middle = (middle + kth(pairs // 2 + 1)) / 2
    spread = _Z[confidence] * math.sqrt(n * m * (n + m + 1) / 12.0)
    k_low = max(1, math.floor(pairs / 2 - spread))
    low = kth(k_low)
    high = kth(pairs + 1 - k_low)
    return RatioEstimate(math.exp(middle), math.exp(low), math.exp(high), confidence, n, m)


def _walsh_at_most(ds: Sequence[float], t: float) -> tuple[int, float]:
    """Walsh averages (ds[i] + ds[j]) / 2, i <= j, that are <= t, and the largest (ds sorted)."""
    count, best, n = 0, -math.inf, len(ds)
    j = n - 1
    for i in range(n):
        while j >= i and (ds[i] + ds[j]) / 2 > t:
            j -= 1
        if j < i:
            break
        count += j - i + 1
        best = max(best, (ds[i] + ds[j]) / 2)
    return count, best


def _kth_walsh(ds: Sequence[float], k: int) -> float:
    """The k-th smallest (1-based) Walsh average, without listing them."""
    low, high = ds[0], ds[-1]
    if _walsh_at_most(ds, low)[0] >= k:
        return low
    for _ in range(200):
        middle = (low + high) / 2
        if not low < middle < high:
            break
        if _walsh_at_most(ds, middle)[0] >= k:
            high = middle
        else:
            low = middle
    return _walsh_at_most(ds, high)[1]


def paired_ratio_estimate(
    old: Sequence[float], new: Sequence[float], confidence: float = 0.95
) -> RatioEstimate:
    """Ratio new/old from samples measured in pairs (``old[i]`` next to ``new[i]``).

    Each pair's log-ratio cancels whatever slowed both sides at that moment.
    The estimate is the Hodges–Lehmann one-sample estimate of those log-ratios
    (median of their Walsh averages) with the Wilcoxon signed-rank interval.
    """
    if len(old) != len(new) or not old:
        raise ValueError("paired ratio estimate needs two equally long, non-empty sample lists")
    if confidence not in _Z:
        raise ValueError(f"confidence must be one of {sorted(_Z)}, got {confidence}")
    ds = sorted(
        math.log(max(b, 1e-15)) - math.log(max(a, 1e-15)) for a, b in zip(old, new, strict=True)
    )
    n = len(ds)
    total = n * (n + 1) // 2
    middle = _kth_walsh(ds, (total + 1) // 2)
    if total % 2 == 0:
        middle = (middle + _kth_walsh(ds, total // 2 + 1)) / 2
    spread = _Z[confidence] * math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    k_low = max(1, math.floor(total / 2 - spread))
    low, high = _kth_walsh(ds, k_low), _kth_walsh(ds, total + 1 - k_low)
    return RatioEstimate(math.exp(middle), math.exp(low), math.exp(high), confidence, n, n)


def block_medians(samples: Sequence[float], blocks: int = RUN_BLOCKS) -> list[float]:
    """Medians of ``blocks`` consecutive stretches of ``samples`` (kept in time order).

    Samples next to each other in one process share its state (a slow spell, a
    cache), so they are not independent; a block median is the unit of evidence.
    """
    n = len(samples)
    if n <= blocks:
        return list(samples)
    bounds = [round(i * n / blocks) for i in range(blocks + 1)]
    # A block of more than _BLOCK_SAMPLES is read at an even stride: its median moves by
    # a fraction of the spread, and 200k rounds compare in milliseconds.
    step = max(1, n // (blocks * _BLOCK_SAMPLES))
    return [statistics.median(samples[bounds[i] : bounds[i + 1] : step]) for i in range(blocks)]


def run_ratio_estimate(
    old: Sequence[float],
    new: Sequence[float],
    drift: float = DEFAULT_DRIFT,
    confidence: float = 0.95,
) -> RatioEstimate:
    """Ratio new/old of two separate runs (a stored baseline and this run).

    Thousands of samples from one process say little about another process: each
    run has a speed of its own (memory layout, the machine's state at the time).
    So the within-run interval is built from block medians (Hodges–Lehmann with
    the Moses interval), then widened by the between-run ``drift`` of both runs
    (``z * sqrt(2) * drift`` in log-ratio, added in quadrature).
    """
    within = ratio_estimate(block_medians(old), block_medians(new), confidence)
    allowance = _Z[confidence] * math.sqrt(2) * math.log1p(drift)
    centre = math.log(within.ratio)
    low = centre - math.hypot(centre - math.log(within.low), allowance)
    high = centre + math.hypot(math.log(within.high) - centre, allowance)
    return RatioEstimate(
        within.ratio, math.exp(low), math.exp(high), confidence, len(old), len(new)
    )


def _t_quantile(confidence: float, dof: float) -> float:
    """Two-sided Student t quantile (Cornish–Fisher series; within 1 % from 3 degrees up)."""
    z = _Z[confidence]
    z3, z5, z7, z9 = z**3, z**5, z**7, z**9
    return (
        z
        + (z3 + z) / (4 * dof)
        + (5 * z5 + 16 * z3 + 3 * z) / (96 * dof**2)
        + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * dof**3)
        + (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * dof**4)
    )


def runs_ratio_estimate(
    runs: Sequence[float],
    new: float,
    drift: float = DEFAULT_DRIFT,
    confidence: float = 0.95,
) -> RatioEstimate:
    """Ratio of this run's median ``new`` to a baseline saved from several ``runs`` (medians).

    Runs, not rounds, are the unit of evidence: the interval is the prediction
    interval of one more run, ``t * s * sqrt(1 + 1/k)`` around the mean of the
    k runs' log-medians, where ``s`` is their spread pooled with the assumed
    ``drift`` (counted as :data:`PRIOR_RUNS` runs), so two close runs do not
    make a falsely narrow interval and an outlying run widens it.
    """
    if not runs or new <= 0 or any(v <= 0 for v in runs):
        raise ValueError("runs ratio estimate needs positive run medians")
    if confidence not in _Z:
        raise ValueError(f"confidence must be one of {sorted(_Z)}, got {confidence}")
    logs = [math.log(v) for v in runs]
    k = len(logs)
    observed = statistics.variance(logs) if k > 1 else 0.0
    dof = k - 1 + PRIOR_RUNS
    spread = math.sqrt(((k - 1) * observed + PRIOR_RUNS * math.log1p(drift) ** 2) / dof)
    half = _t_quantile(confidence, dof) * spread * math.sqrt(1 + 1 / k)
    change = math.log(new) - statistics.fmean(logs)
    return RatioEstimate(
        math.exp(change), math.exp(change - half), math.exp(change + half), confidence, k, 1
    )
