"""Change points in a series of run figures: where a check's level stepped, and how far.

Binary segmentation on log figures: within a stretch of the series, every
split is scored by the difference of the mean log figure after it and
before it, in units of the run-to-run noise (a CUSUM statistic: the best
split is the least-squares fit of two levels). The best split is a change
point when its score is significant after allowing for every split tried
(Bonferroni, on Student's t with the noise estimate's degrees of freedom);
the stretches on either side are then searched again.

The noise is estimated from the differences between consecutive runs
(their median absolute value), so the steps being looked for do not
inflate it, and each figure is first held within a few noise widths of the
median of its neighbours, so that one wild run on a busy machine is not a
level. Counts that never move have no noise: any step of theirs is one.
Each change point's size is the Hodges–Lehmann ratio of the runs after it
to those before (up to :data:`SIDE` runs each way) with the Moses
confidence interval. Knows nothing of pytest or of the history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import sub
from statistics import median

from pytest_aide.stats import RatioEstimate, ratio_estimate

__all__ = ["ALPHA", "MIN_SEGMENT", "SIDE", "ChangePoint", "change_points"]

ALPHA = 0.001
"""Chance, on a stretch of runs that never changed, that a search calls a split a change."""
MIN_SEGMENT = 5
"""Fewest runs on either side of a change point."""
SIDE = 30
"""Runs on either side of a change point that its size is estimated from."""
CLIP = 4.0
"""Noise widths a figure may stray from the median of its neighbours before it is held."""
_MAD = 1.4826
"""A normal distribution's standard deviation per median absolute deviation."""
_MAD_EFFICIENCY = 0.37
"""The median absolute deviation's efficiency: its degrees of freedom per difference."""


@dataclass(frozen=True)
class ChangePoint:
    """A step in a series: the runs from :attr:`index` on sit at another level."""

    index: int
    """The first run (position in the series) at the new level."""
    size: RatioEstimate
    """The runs after against those before: ratio and interval."""
    p_value: float
    """Chance of a score this high on a stretch that never changed (after Bonferroni)."""


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function (Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-12:
            break
    return result


def t_tail(t: float, dof: float) -> float:
    """Two-sided tail probability of Student's t with ``dof`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    if t == 0:
        return 1.0
    x = dof / (dof + t * t)
    a, b = dof / 2, 0.5
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def _held(logs: list[float], steps: list[float], noise: float) -> list[float]:
    """Each log figure held within :data:`CLIP` noise widths of its neighbours' median.

    ``steps``: the differences between consecutive figures. Only a figure far from a
    neighbour can be a wild run; the others are left as they are.
    """
    width = CLIP * noise
    far = [abs(step) > width for step in steps]
    last = len(logs) - 1
    wild = [i for i in range(1, last) if far[i - 1] or far[i]]
    wild = [0] * far[0] + wild + [last] * far[-1]
    held = list(logs)
    for i in wild:
        around = sorted(logs[max(0, i - 2) : i + 3])
        middle = around[len(around) // 2]
        held[i] = min(max(logs[i], middle - width), middle + width)
    return held


def _noise(steps: list[float]) -> float:
    """Run-to-run standard deviation, from consecutive differences (steps barely move it)."""
    return _MAD * median(map(abs, steps)) / math.sqrt(2) if steps else 0.0


def _best_split(logs: Sequence[float]) -> tuple[int, float]:
    """The split of ``logs`` that fits two levels best, and its step over its spread.

    The least-squares split: it maximizes the step between the mean log figures
    before and after it, divided by sqrt(1/before + 1/after).
    """
    n = len(logs)
    sums = list(accumulate(logs))
    total = sums[-1]
    # (step * sqrt(k (n - k) / n))^2 * n, with step the mean after less the mean before
    scores = [
        (k * total - n * before) ** 2 / (k * (n - k))
        for k, before in zip(range(1, n), sums, strict=False)
    ]
    best = scores.index(max(scores))
    return best + 1, math.sqrt(scores[best] / n)


def change_points(
    values: Sequence[float],
    alpha: float = ALPHA,
    min_segment: int = MIN_SEGMENT,
    min_change: float = 0.0,
) -> list[ChangePoint]:
    """Every change point of ``values`` (positive figures, oldest first), in order.

    ``min_change``: a step whose ratio stays within 1 ± min_change is not reported.
    """
    if len(values) < 2 * min_segment:
        return []
    logs = list(map(math.log, map(max, values, repeat(1e-300, len(values)))))
    steps = list(map(sub, logs[1:], logs[:-1]))
    noise = _noise(steps)
    logs = _held(logs, steps, noise) if noise > 0 else logs
    dof = max(1.0, _MAD_EFFICIENCY * (len(logs) - 1))
    found: list[ChangePoint] = []
    stretches = [(0, len(values))]
    while stretches:
        start, end = stretches.pop()
        if end - start < 2 * min_segment:
            continue
        split, step = _best_split(logs[start:end])
        index = start + split
        if split < min_segment or end - index < min_segment:
            # The best split leaves too few runs on one side to tell yet: look at the rest.
            stretches.append((start, index) if split >= min_segment else (index, end))
            continue
        score = step / noise if noise > 0 else math.inf if step > 1e-12 else 0.0
        p_value = min(1.0, (end - start - 1) * t_tail(score, dof))
        if p_value > alpha:
            continue
        size = ratio_estimate(
            values[max(start, index - SIDE) : index], values[index : min(end, index + SIDE)]
        )
        if abs(size.ratio - 1) >= min_change:
            found.append(ChangePoint(index, size, p_value))
        stretches += [(start, index), (index, end)]
    return sorted(found, key=lambda point: point.index)
