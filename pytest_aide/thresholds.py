"""Thresholds: the keys a check may limit, how each is written and read, and a breach."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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
    "Counted",
    "Measured",
    "Threshold",
    "ThresholdError",
    "in_order",
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
