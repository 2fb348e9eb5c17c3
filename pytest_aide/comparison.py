"""Comparisons with a baseline: a stored reading, a same-job pair or a count, and their status."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_aide.stats import (
    DEFAULT_DRIFT,
    MIN_RUN_SAMPLES,
    RatioEstimate,
    paired_ratio_estimate,
    run_ratio_estimate,
    runs_ratio_estimate,
)
from pytest_aide.thresholds import Counted

__all__ = ["Comparison", "compare", "compare_count_results", "compare_counts", "tolerance_for"]


def _signed(percent: float) -> str:
    return f"{percent:+.1f}"


@dataclass(frozen=True)
class Comparison:
    """One result compared with its baseline."""

    subject: str
    estimate: RatioEstimate
    tolerance: float
    """Allowed slowdown as a fraction (0.10 for 10 %)."""
    baseline_date: str
    gating: bool = True
    """False when the comparison is only reported (other machine, or saving a new baseline)."""
    against: str | None = None
    """The git revision measured in the same job, when not a stored baseline."""
    undecided: str | None = None
    """Why no verdict can be given (e.g. ``not enough samples to compare (1 vs 1)``)."""
    baseline_runs: int = 1
    """Saved runs the stored baseline pooled (its spread widens the interval)."""
    measure: str = "time"
    """What was compared: ``time`` (an interval from samples), or an exact count
    (``instructions``, ``cycles``), whose ratio has no interval."""
    baseline_median: float | None = None
    """The median of the baseline's samples (a count: the baseline's count per call),
    shown beside the current figures; None where only an estimate was kept."""
    clock: str = "wall"
    """For a time comparison, the clock both sides were read on: ``wall``, ``solo``, ``cpu``."""

    @property
    def status(self) -> str:
        """``regressed``, ``improved``, ``unchanged`` or ``undecided``.

        A change counts only when it is statistically significant (the
        interval excludes no change) *and* its estimate lies beyond the
        tolerance; improvements use the mirror bound 1 / (1 + tolerance).
        """
        if self.undecided is not None:
            return "undecided"
        e = self.estimate
        if e.low > 1.0 and e.ratio > 1.0 + self.tolerance:
            return "regressed"
        if e.high < 1.0 and e.ratio < 1.0 / (1.0 + self.tolerance):
            return "improved"
        return "unchanged"

    def to_dict(self) -> dict[str, Any]:
        """Plain form, as ``report.json`` and ``pytest-aide compare --format json`` write it."""
        e = self.estimate
        return {
            "result": self.subject,
            "status": self.status,
            "ratio": e.ratio,
            "ci_low": e.low,
            "ci_high": e.high,
            "confidence": e.confidence,
            "n_old": e.n_old,
            "n_new": e.n_new,
            "tolerance": self.tolerance,
            "baseline_date": self.baseline_date,
            "baseline_runs": self.baseline_runs,
            "against": self.against,
            "gating": self.gating,
            "undecided": self.undecided,
            "measure": self.measure,
            "baseline_median": self.baseline_median,
            "clock": self.clock,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """Rebuild a comparison from :meth:`to_dict`."""
        estimate = RatioEstimate(
            ratio=data["ratio"],
            low=data["ci_low"],
            high=data["ci_high"],
            confidence=data["confidence"],
            n_old=data["n_old"],
            n_new=data["n_new"],
        )
        return cls(
            data["result"],
            estimate,
            data["tolerance"],
            data["baseline_date"],
            gating=data["gating"],
            against=data["against"],
            undecided=data.get("undecided"),
            baseline_runs=int(data.get("baseline_runs", 1)),
            measure=str(data.get("measure", "time")),
            baseline_median=_number_or_none(data.get("baseline_median")),
            clock=str(data.get("clock", "wall")),
        )

    def change(self) -> str:
        """The change: with its interval for time, exact for a count.

        For example ``+23.5 % (95 % CI +18.1..+29.0 %)`` or ``+2.1 % instructions``.
        """
        e = self.estimate
        if self.measure != "time":
            return f"{_signed(e.percent)} % {self.measure}"
        clock = "" if self.clock == "wall" else f" {self.clock} time"
        return (
            f"{_signed(e.percent)} %{clock} ({e.confidence * 100:g} % CI "
            f"{_signed((e.low - 1) * 100)}..{_signed((e.high - 1) * 100)} %)"
        )

    def line(self) -> str:
        """One line: ``diag: regressed +23.5 % (95 % CI ...) vs baseline of 2026-11-20, ...``."""
        if self.against:
            reference = f"{self.against} (same job)"
        else:
            reference = f"baseline of {self.baseline_date}" if self.baseline_date else "baseline"
            if self.baseline_runs > 1:
                reference += f" ({self.baseline_runs} runs)"
        return (
            f"{self.subject}: {self.status} {self.change()} vs {reference}, "
            f"tolerance {self.tolerance * 100:g} %"
        )


def tolerance_for(default: float, *own: float | None) -> float:
    """The tolerance in force: a check's own ``regression_max``, else the session's.

    ``own`` lists the check's values in order of precedence (this run's, then
    the baseline's); the first one given wins over ``default``.
    """
    return next((value for value in own if value is not None), default)


def compare_counts(
    subject: str,
    old: float,
    new: float,
    measure: str,
    *,
    tolerance: float,
    baseline_date: str,
    gating: bool = True,
    calls: tuple[int, int] = (1, 1),
    against: str | None = None,
) -> Comparison:
    """Compare two exact counts per call: the ratio is the change, with no interval.

    ``against`` labels a revision counted in the same job instead of a stored baseline.
    """
    ratio = new / old if old > 0 else 1.0
    estimate = RatioEstimate(ratio, ratio, ratio, 1.0, calls[0], calls[1])
    undecided = None if old > 0 else f"the baseline counted no {measure} per call"
    counted = Comparison(subject, estimate, tolerance, baseline_date, gating, against, undecided)
    return replace(counted, measure=measure, baseline_median=old)


def compare_count_results(
    old: Mapping[str, Counted],
    new: Sequence[Counted],
    *,
    tolerance: float,
    baseline_date: str,
    gating: bool = True,
    against: str | None = None,
) -> list[Comparison]:
    """Compare each count in ``new`` with ``old``'s count of the same name and measure."""
    return [
        compare_counts(
            now.name,
            before.value,
            now.value,
            now.measure,
            tolerance=tolerance,
            baseline_date=baseline_date,
            gating=gating,
            calls=(before.calls, now.calls),
            against=against,
        )
        for now in new
        if (before := old.get(now.name)) is not None and before.measure == now.measure
    ]


def _number_or_none(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def compare(
    subject: str,
    old: Sequence[float],
    new: Sequence[float],
    *,
    tolerance: float,
    baseline_date: str = "",
    gating: bool = True,
    against: str | None = None,
    drift: float = DEFAULT_DRIFT,
    runs: Sequence[float] = (),
    clock: str = "wall",
) -> Comparison:
    """Compare new samples with old samples of the same measurement.

    With ``against`` (a revision measured in the same job, in pairs) the samples
    are paired and the paired ratio is used. A baseline saved from two or more
    ``runs`` (their medians) is judged run against runs
    (:func:`~pytest_aide.stats.runs_ratio_estimate`). Otherwise the two runs'
    samples are compared and the interval allows for the ``drift`` between runs
    (:func:`~pytest_aide.stats.run_ratio_estimate`); with fewer than
    :data:`~pytest_aide.stats.MIN_RUN_SAMPLES` samples on a side there is no verdict.
    """
    undecided, pooled = None, 1
    if against:
        estimate = paired_ratio_estimate(old, new)
    elif len(runs) >= 2:
        estimate, pooled = runs_ratio_estimate(runs, statistics.median(new), drift), len(runs)
    else:
        estimate = run_ratio_estimate(old, new, drift)
        if min(len(old), len(new)) < MIN_RUN_SAMPLES:
            undecided = f"not enough samples to compare ({len(old)} vs {len(new)})"
    return Comparison(
        subject,
        estimate,
        tolerance,
        baseline_date,
        gating,
        against,
        undecided,
        baseline_runs=pooled,
        baseline_median=statistics.median(old) if old else None,
        clock=clock,
    )
