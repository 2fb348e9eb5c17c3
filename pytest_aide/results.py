"""Measurement results: plain data that serialises to dicts and back.

A result knows its measured figures (``metrics()``, the names thresholds are
checked against) and how to describe itself in one line (``summary()``).
Nothing here measures or judges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from pytest_aide import stats
from pytest_aide.units import format_duration

__all__ = ["RESULT_SCHEMA", "TimingResult", "result_from_dict"]

RESULT_SCHEMA = 1
"""Version of the dict layout written by ``to_dict``."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class TimingResult:
    """Per-call timings of one measured callable."""

    kind: ClassVar[str] = "timing"

    name: str
    """Check or result name shown in summaries and failure lines."""
    samples: list[float]
    """Seconds per call, one entry per sample (a sample may batch several calls)."""
    warmup: int = 0
    """Samples run and discarded before measuring."""
    calls_per_sample: int = 1
    """Calls batched into each sample by calibration; figures are per call."""
    gc: str = "enabled"
    """Garbage-collector policy while sampling: ``enabled`` or ``disabled``."""
    mode: str = "perf"
    """``perf`` for a full measurement, ``smoke`` for the single call without ``--aide-perf``."""
    value: Any = field(default=None, compare=False, repr=False)
    """Return value of the last call (not serialised)."""

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError(f"{self.name}: a timing result needs at least one sample")

    @cached_property
    def _summary(self) -> dict[str, float]:
        return stats.summarize(self.samples)

    @property
    def iterations(self) -> int:
        """Number of samples measured."""
        return len(self.samples)

    @property
    def mean(self) -> float:
        """Mean seconds per call."""
        return self._summary["mean"]

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return self._summary["median"]

    @property
    def min(self) -> float:
        """Fastest sample, seconds per call."""
        return self._summary["min"]

    @property
    def max(self) -> float:
        """Slowest sample, seconds per call."""
        return self._summary["max"]

    @property
    def stddev(self) -> float:
        """Sample standard deviation of the per-call times."""
        return self._summary["stddev"]

    @property
    def p95(self) -> float:
        """95th percentile, seconds per call."""
        return self._summary["p95"]

    @property
    def p99(self) -> float:
        """99th percentile, seconds per call."""
        return self._summary["p99"]

    @property
    def throughput(self) -> float:
        """Calls per second (1 / mean)."""
        return 1.0 / self.mean if self.mean > 0 else math.inf

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name."""
        return {**self._summary, "throughput": self.throughput}

    def summary(self) -> str:
        """One line: the key statistics with units."""
        if self.mode == "smoke":
            return f"1 call in {format_duration(self.mean)} (smoke run)"
        return (
            f"mean {format_duration(self.mean)}, median {format_duration(self.median)}, "
            f"p95 {format_duration(self.p95)}, min {format_duration(self.min)}, "
            f"max {format_duration(self.max)}, {self.throughput:,.1f} ops/s "
            f"({self.iterations} samples x {self.calls_per_sample} calls)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict; derived statistics are included for readers and ignored on load."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "samples": list(self.samples),
            "warmup": self.warmup,
            "calls_per_sample": self.calls_per_sample,
            "gc": self.gc,
            "mode": self.mode,
            "stats": {key: _finite(value) for key, value in self.metrics().items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimingResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            samples=[float(s) for s in data["samples"]],
            warmup=int(data.get("warmup", 0)),
            calls_per_sample=int(data.get("calls_per_sample", 1)),
            gc=str(data.get("gc", "enabled")),
            mode=str(data.get("mode", "perf")),
        )


_RESULT_TYPES: dict[str, Any] = {TimingResult.kind: TimingResult}


def result_from_dict(data: dict[str, Any]) -> TimingResult:
    """Rebuild any result from its dict, dispatching on its ``kind``."""
    kind = data.get("kind")
    if kind not in _RESULT_TYPES:
        raise ValueError(f"unknown result kind {kind!r} (known: {', '.join(_RESULT_TYPES)})")
    return _RESULT_TYPES[kind].from_dict(data)
