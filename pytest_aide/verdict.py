"""Thresholds and verdicts: pure decisions over results, no clock and no I/O."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pytest_aide.stats import (
    DEFAULT_DRIFT,
    MIN_RUN_SAMPLES,
    RatioEstimate,
    paired_ratio_estimate,
    run_ratio_estimate,
    runs_ratio_estimate,
)
from pytest_aide.units import (
    UnitError,
    format_count,
    format_duration,
    format_size,
    hint,
    parse_count,
    parse_duration,
    parse_percent,
    parse_size,
    written_unit,
)

__all__ = [
    "CONFIRMABLE_METRICS",
    "THRESHOLD_KEYS",
    "Breach",
    "Comparison",
    "Evidence",
    "Measured",
    "Threshold",
    "ThresholdError",
    "Verdict",
    "compare",
    "compare_count_results",
    "compare_counts",
    "decide",
    "failure_key",
    "judge",
    "looks_changed",
    "looks_regressed",
    "parse_thresholds",
    "suspicions",
    "tolerance_for",
]


class ThresholdError(ValueError):
    """A threshold key or value that cannot be used."""


class Measured(Protocol):
    """What the verdict needs of a result."""

    name: str

    def metrics(self) -> dict[str, float]:
        """Figures by metric name."""
        ...


class Counted(Protocol):
    """What a count comparison needs of a count result."""

    name: str
    measure: str
    calls: int

    @property
    def value(self) -> float:
        """The gated figure per call."""
        ...


def _parse_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitError(f"invalid number {value!r}: expected a number")
    try:
        number = float(value)
    except OverflowError:
        raise UnitError(f"invalid number {str(value)[:20]}...: too large") from None
    if not math.isfinite(number) or number < 0:
        raise UnitError(f"invalid number {value!r}: expected a finite number, not negative")
    return number


def _format_rate(value: float, like: float | None = None, unit: str | None = None) -> str:
    return f"{value:,.1f} ops/s" if value >= 10 else f"{value:.3g} ops/s"


def _format_percent(value: float, like: float | None = None, unit: str | None = None) -> str:
    return f"{value * 100:g} %"


def _parse_fraction(value: object) -> float:
    """A fraction from 0 to 1, or a percentage string: ``0.05`` and ``"5%"`` are equal."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = parse_percent(value)
    else:
        number = _parse_number(value)
    if number > 1:
        raise UnitError(
            f"invalid fraction {value!r}: expected a number from 0 to 1 or a percentage, "
            "e.g. 0.05 or '5%'"
        )
    return number


def _format_fraction(value: float, like: float | None = None, unit: str | None = None) -> str:
    return f"{value:.1%}"


def _format_cpu(value: float, like: float | None = None, unit: str | None = None) -> str:
    return f"{value:.1f} %"


def _format_bytes(value: float, like: float | None = None, unit: str | None = None) -> str:
    return format_size(value, unit)


def _format_queries(value: float, like: float | None = None, unit: str | None = None) -> str:
    return f"{value:,.4g} per call"


def _format_instructions(value: float, like: float | None = None, unit: str | None = None) -> str:
    return format_count(value)


@dataclass(frozen=True)
class _Spec:
    metric: str | None
    """Metric bounded, or None for keys that tune the baseline comparison."""
    upper: bool
    parse: Callable[[object], float]
    render: Callable[..., str]


_TIME = (parse_duration, format_duration)

THRESHOLD_KEYS: dict[str, _Spec] = {
    "mean": _Spec("mean", True, *_TIME),
    "median": _Spec("median", True, *_TIME),
    "min": _Spec("min", True, *_TIME),
    "max": _Spec("max", True, *_TIME),
    "p95": _Spec("p95", True, *_TIME),
    "p99": _Spec("p99", True, *_TIME),
    "throughput_min": _Spec("throughput", False, _parse_number, _format_rate),
    "error_rate_max": _Spec("error_rate", True, _parse_fraction, _format_fraction),
    "cpu_percent_max": _Spec("cpu_percent", True, _parse_number, _format_cpu),
    "memory_peak_max": _Spec("memory_peak", True, parse_size, _format_bytes),
    "leaked_max": _Spec("leaked", True, parse_size, _format_bytes),
    "regression_max": _Spec(None, True, parse_percent, _format_percent),
    "instructions_max": _Spec("instructions", True, parse_count, _format_instructions),
    "cache_hit_rate_min": _Spec("cache_hit_rate", False, _parse_fraction, _format_fraction),
    "queries_max": _Spec("queries", True, _parse_number, _format_queries),
}
"""Every threshold key, with the metric it bounds and how its value is read."""
_ORDER = {key: index for index, key in enumerate(THRESHOLD_KEYS)}


def in_order(keys: Iterable[str]) -> list[str]:
    """Threshold keys in the order limits are shown (:data:`THRESHOLD_KEYS`' order).

    Times first, then throughput, errors, CPU, memory, the regression tolerance, counts.
    """
    return sorted(keys, key=lambda key: (_ORDER.get(key, len(_ORDER)), key))


CONFIRMABLE_METRICS = frozenset({"mean", "median", "min", "max", "p95", "p99", "throughput"})
"""Metrics a busy machine moves: a limit on one is measured again before it fails."""


@dataclass(frozen=True)
class Threshold:
    """One limit on one metric."""

    key: str
    """Threshold key as the user wrote it (``mean``, ``throughput_min``...)."""
    limit: float
    """The bound in base units: seconds, ops/s, bytes or a fraction."""
    origin: str | None = None
    """Where the limit came from when not the check itself, e.g. ``profile production``."""
    unit: str | None = None
    """The unit the limit was written in (``MB``, ``ms``): it is shown in that unit."""

    @property
    def metric(self) -> str | None:
        """The metric this threshold bounds (None for ``regression_max``)."""
        return THRESHOLD_KEYS[self.key].metric

    def broken_by(self, value: float) -> bool:
        """True when ``value`` lies beyond this limit."""
        spec = THRESHOLD_KEYS[self.key]
        return value > self.limit if spec.upper else value < self.limit

    def describe(self) -> str:
        """The limit as text, e.g. ``mean <= 2.00 s``."""
        spec = THRESHOLD_KEYS[self.key]
        sign = "<=" if spec.upper else ">="
        limit = spec.render(self.limit, self.limit, self.unit)
        return f"{spec.metric or 'regression'} {sign} {limit}"


def parse_thresholds(raw: Mapping[str, Any], origin: str | None = None) -> dict[str, Threshold]:
    """Validate user-written thresholds and convert their values to base units."""
    parsed: dict[str, Threshold] = {}
    for key, value in raw.items():
        spec = THRESHOLD_KEYS.get(key)
        if spec is None:
            raise ThresholdError(f"unknown threshold key {key!r} ({hint(key, THRESHOLD_KEYS)})")
        try:
            parsed[key] = Threshold(key, spec.parse(value), origin, written_unit(value))
        except UnitError as exc:
            raise ThresholdError(f"threshold {key!r}: {exc}") from None
    return parsed


@dataclass(frozen=True)
class Breach:
    """A measured figure beyond its limit."""

    subject: str
    threshold: Threshold
    actual: float

    def line(self) -> str:
        """One failure line, e.g. ``diagnosis: mean 2.31 s > 2.00 s``."""
        spec = THRESHOLD_KEYS[self.threshold.key]
        sign = ">" if spec.upper else "<"
        limit, unit = self.threshold.limit, self.threshold.unit
        text = (
            f"{self.subject}: {spec.metric} {spec.render(self.actual, limit, unit)} {sign} "
            f"{spec.render(limit, limit, unit)}"
        )
        if self.threshold.origin:
            text += f" (limit from {self.threshold.origin})"
        return text


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


@dataclass
class Verdict:
    """Outcome of judging one check: thresholds, then the baseline comparison."""

    breaches: list[Breach] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Reasons the check could not be judged (a limit nothing measured, a bad baseline,
    sizes that cannot tell orders apart), and growth worse than the declared order."""
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Things worth saying that do not fail the check (a baseline from another machine)."""
    confirmation: list[str] = field(default_factory=list)
    """How a suspected failure was confirmed or cleared by measuring again (``--aide-confirm``)."""
    order_changes: list[str] = field(default_factory=list)
    """Gating lines of a scaling check whose order grew since its baseline (a regression)."""
    uncompared: list[str] = field(default_factory=list)
    """Comparisons the run was asked to make and could not (a worker that crashed, a count
    that was not made), one line each with the cause."""
    uncompared_fails: bool = True
    """Whether an uncompared check fails (``--aide-uncompared fail``) or only warns."""

    @property
    def regressions(self) -> list[Comparison]:
        """Gating comparisons that found a regression."""
        return [c for c in self.comparisons if c.gating and c.status == "regressed"]

    @property
    def passed(self) -> bool:
        """True when no limit is broken, nothing regressed and nothing stopped the judgement."""
        return (
            not self.breaches
            and not self.problems
            and not self.regressions
            and not self.order_changes
            and not (self.uncompared and self.uncompared_fails)
        )

    @property
    def status(self) -> str:
        """``FAIL``, ``REGRESSED``, ``NOT COMPARED``, ``IMPROVED`` or ``PASS``."""
        if self.breaches or self.problems:
            return "FAIL"
        if self.regressions or self.order_changes:
            return "REGRESSED"
        if self.uncompared:
            return "NOT COMPARED"
        if any(c.gating and c.status == "improved" for c in self.comparisons):
            return "IMPROVED"
        return "PASS"

    def lines(self) -> list[str]:
        """One line per broken limit, problem and regression; how they were confirmed."""
        failures = (
            [b.line() for b in self.breaches]
            + list(self.problems)
            + [c.line() for c in self.regressions]
            + list(self.order_changes)
            + (list(self.uncompared) if self.uncompared_fails else [])
        )
        return failures + self.confirmation if failures else failures


@dataclass
class Evidence:
    """Everything a check is judged on, as plain data gathered before judging."""

    name: str
    results: Sequence[Measured]
    thresholds: Mapping[str, Threshold]
    comparisons: list[Comparison] = field(default_factory=list)
    """Against the stored baseline, or against the revision measured in the same job."""
    problems: list[str] = field(default_factory=list)
    """What stopped a judgement outside the thresholds (a bad baseline, a pairing)."""
    notes: list[str] = field(default_factory=list)
    unmeasured: str | None = None
    """Why the test measured nothing (pytest-benchmark disabled, say), if so."""
    timed_out: str | None = None
    """The line of a check stopped by its timeout; nothing else is judged then."""
    confirmed: frozenset[str] | None = None
    """After measuring a suspected check again: the failure keys (:func:`failure_key`)
    that held; a wall-time failure outside this set does not fail the check. None
    when the check was not measured again."""
    confirmation: list[str] = field(default_factory=list)
    """How the suspicion was confirmed or cleared, as lines for the reports."""
    order_changes: list[str] = field(default_factory=list)
    """Scaling checks whose order grew since the baseline (gating only)."""
    uncompared: list[str] = field(default_factory=list)
    """Comparisons that were asked for and not made, and why (:attr:`Verdict.uncompared`)."""
    uncompared_fails: bool = True
    """``--aide-uncompared fail``: an uncompared check fails; ``warn``: it only warns."""


def decide(evidence: Evidence) -> Verdict:
    """The verdict of one check: the only place pass or fail is decided.

    A timeout fails the check alone. Otherwise every threshold is checked
    against the results, then the problems, comparisons and notes gathered
    for the check join in (why nothing was measured comes first).
    """
    if evidence.timed_out is not None:
        return Verdict(problems=[evidence.timed_out])
    verdict = judge(evidence.name, evidence.results, evidence.thresholds)
    if evidence.unmeasured is not None and not evidence.results:
        verdict.problems.insert(0, evidence.unmeasured)
    verdict.problems += evidence.problems
    verdict.order_changes += evidence.order_changes
    verdict.comparisons += evidence.comparisons
    verdict.notes += evidence.notes
    verdict.uncompared += evidence.uncompared
    verdict.uncompared_fails = evidence.uncompared_fails
    if evidence.confirmed is not None:
        _settle(verdict, evidence.confirmed)
        verdict.confirmation = list(evidence.confirmation)
    return verdict


def _settle(verdict: Verdict, confirmed: frozenset[str]) -> None:
    """Keep only the wall-time failures that every attempt confirmed; the others are notes."""
    suspects, _ = suspicions(verdict)
    cleared = set(suspects) - confirmed
    if not cleared:
        return
    verdict.breaches = [
        b for b in verdict.breaches if failure_key(b.subject, b.threshold.key) not in cleared
    ]
    verdict.comparisons = [
        dataclasses.replace(c, gating=False)
        if c.gating and failure_key(c.subject, "regression") in cleared
        else c
        for c in verdict.comparisons
    ]


def failure_key(subject: str, what: str) -> str:
    """The name a limit goes by across attempts: ``result:mean``, ``result:regression``."""
    return f"{subject}:{what}"


def looks_regressed(comparison: Comparison) -> bool:
    """A stored wall-time comparison whose estimate lies beyond the tolerance, significant or not.

    A stored interval must allow for the drift between runs, so on a busy
    machine a real slowdown often reads beyond the tolerance without being
    significant; the same-job measurement is tight enough to decide it.
    """
    return _stored_time(comparison) and comparison.estimate.ratio > 1.0 + comparison.tolerance


def looks_changed(comparison: Comparison) -> bool:
    """A stored wall-time comparison that cannot show the change lies within the tolerance.

    Worth measuring beside the baseline's commit unless the stored interval
    lies wholly within ``1 ± tolerance``. A screen on the estimate alone
    (:func:`looks_regressed`) passes a real +10 % whose stored reading happened
    to land near the baseline: measured on a busy 2-core VM, it let 4 of 30
    such slowdowns through at a 5 % tolerance. A reading far *faster* than
    the baseline is worth a look too: the machine is not what it was when the
    baseline was saved, and a real slowdown can hide behind it. On a quiet
    machine, or with baselines pooled over several runs, the interval is
    narrow and most checks pass on the stored reading alone.
    """
    estimate = comparison.estimate
    within = 1.0 / (1.0 + comparison.tolerance) <= estimate.low and (
        estimate.high <= 1.0 + comparison.tolerance
    )
    return _stored_time(comparison) and not within


def _stored_time(comparison: Comparison) -> bool:
    return (
        comparison.gating
        and comparison.measure == "time"
        and comparison.against is None
        and comparison.undecided is None
    )


def suspicions(verdict: Verdict) -> tuple[dict[str, str], list[str]]:
    """The failures of ``verdict`` that may be the machine's noise, and those that are not.

    Returns ``({key: line}, hard_lines)``. Limits on wall-clock figures
    (:data:`CONFIRMABLE_METRICS`) and regressions against a stored wall-time
    baseline may be noise and are measured again; anything else (memory, error
    rate, counts, a same-job comparison, a problem) is a failure at once.
    """
    suspects: dict[str, str] = {}
    hard: list[str] = list(verdict.problems)
    for breach in verdict.breaches:
        if breach.threshold.metric in CONFIRMABLE_METRICS:
            suspects[failure_key(breach.subject, breach.threshold.key)] = breach.line()
        else:
            hard.append(breach.line())
    for comparison in verdict.regressions:
        if comparison.measure == "time" and comparison.against is None:
            suspects[failure_key(comparison.subject, "regression")] = comparison.line()
        else:
            hard.append(comparison.line())
    return suspects, hard


def judge(check: str, results: Sequence[Measured], thresholds: Mapping[str, Threshold]) -> Verdict:
    """Check every result of ``check`` against every threshold it can answer."""
    verdict = Verdict()
    for result in results:
        if getattr(result, "kind", None) == "scaling":  # a declared order, not a threshold
            why = result.unjudged()  # type: ignore[attr-defined]
            failure = result.failure()  # type: ignore[attr-defined]
            if why is not None:
                verdict.problems.append(f"{result.name}: scaling not judged: {why}")
            elif failure is not None:
                verdict.problems.append(f"{result.name}: {failure}")
    for threshold in thresholds.values():
        if threshold.metric is None:
            continue
        answered = False
        for result in results:
            value = result.metrics().get(threshold.metric)
            if value is None:
                continue
            answered = True
            if threshold.broken_by(value):
                verdict.breaches.append(Breach(result.name, threshold, value))
        if not answered:
            verdict.problems.append(
                f"{check}: threshold {threshold.key!r} is set but nothing measured "
                f"{threshold.metric!r}"
            )
    return verdict
