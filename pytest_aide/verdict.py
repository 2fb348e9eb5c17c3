"""Thresholds and verdicts: pure decisions over results, no clock and no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_aide.units import UnitError, format_duration, parse_duration

__all__ = [
    "THRESHOLD_KEYS",
    "Breach",
    "Measured",
    "Threshold",
    "ThresholdError",
    "Verdict",
    "judge",
    "parse_thresholds",
]


class ThresholdError(ValueError):
    """A threshold key or value that cannot be used."""


class Measured(Protocol):
    """What the verdict needs of a result."""

    name: str

    def metrics(self) -> dict[str, float]:
        """Figures by metric name."""
        ...


def _parse_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitError(f"invalid number {value!r}: expected a number")
    if not math.isfinite(value) or value < 0:
        raise UnitError(f"invalid number {value!r}: expected a finite number, not negative")
    return float(value)


def _format_rate(value: float, like: float | None = None) -> str:
    return f"{value:,.1f} ops/s" if value >= 10 else f"{value:.3g} ops/s"


@dataclass(frozen=True)
class _Spec:
    metric: str
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
}
"""Every threshold key, with the metric it bounds and how its value is read."""


@dataclass(frozen=True)
class Threshold:
    """One limit on one metric."""

    key: str
    """Threshold key as the user wrote it (``mean``, ``throughput_min``...)."""
    limit: float
    """The bound in base units: seconds, ops/s, bytes or a fraction."""
    origin: str | None = None
    """Where the limit came from when not the check itself, e.g. ``profile production``."""

    @property
    def metric(self) -> str:
        """The metric this threshold bounds."""
        return THRESHOLD_KEYS[self.key].metric

    def broken_by(self, value: float) -> bool:
        """True when ``value`` lies beyond this limit."""
        spec = THRESHOLD_KEYS[self.key]
        return value > self.limit if spec.upper else value < self.limit

    def describe(self) -> str:
        """The limit as text, e.g. ``mean <= 2.00 s``."""
        spec = THRESHOLD_KEYS[self.key]
        sign = "<=" if spec.upper else ">="
        return f"{spec.metric} {sign} {spec.render(self.limit, self.limit)}"


def parse_thresholds(raw: Mapping[str, Any], origin: str | None = None) -> dict[str, Threshold]:
    """Validate user-written thresholds and convert their values to base units."""
    parsed: dict[str, Threshold] = {}
    for key, value in raw.items():
        spec = THRESHOLD_KEYS.get(key)
        if spec is None:
            known = ", ".join(THRESHOLD_KEYS)
            raise ThresholdError(f"unknown threshold key {key!r} (known: {known})")
        try:
            parsed[key] = Threshold(key, spec.parse(value), origin)
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
        limit = self.threshold.limit
        text = (
            f"{self.subject}: {spec.metric} {spec.render(self.actual, limit)} {sign} "
            f"{spec.render(limit, limit)}"
        )
        if self.threshold.origin:
            text += f" (limit from {self.threshold.origin})"
        return text


@dataclass
class Verdict:
    """Outcome of judging one check's results against its thresholds."""

    breaches: list[Breach] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Reasons the check could not be judged (a limit nothing measured)."""

    @property
    def passed(self) -> bool:
        """True when no limit is broken and nothing stopped the judgement."""
        return not self.breaches and not self.problems

    @property
    def status(self) -> str:
        """``PASS`` or ``FAIL``."""
        return "PASS" if self.passed else "FAIL"

    def lines(self) -> list[str]:
        """One line per broken limit or problem."""
        return [b.line() for b in self.breaches] + list(self.problems)


def judge(check: str, results: Sequence[Measured], thresholds: Mapping[str, Threshold]) -> Verdict:
    """Check every result of ``check`` against every threshold it can answer."""
    verdict = Verdict()
    for threshold in thresholds.values():
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
