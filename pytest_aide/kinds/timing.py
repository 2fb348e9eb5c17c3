"""Timings: the samples of a timed call, on the wall, solo or CPU clock."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import pytest_aide.stats as stats
from pytest_aide.kinds.common import (
    RESULT_SCHEMA,
    SUMMARY_KEYS,
    finite,
    floats,
    thin,
    timing_measure,
)
from pytest_aide.units import format_duration

__all__ = ["TimingResult"]


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
    samples_total: int | None = field(default=None, compare=False)
    """Samples measured, when :attr:`samples` holds a thinned selection of them."""
    measure: str = "wall"
    """What :attr:`samples` are: ``wall`` (the wall clock), ``solo`` (wall time minus the
    measuring thread's run-queue wait) or ``cpu`` (the thread's CPU time)."""
    wall_samples: list[float] | None = None
    """Under ``solo`` or ``cpu``: the same samples on the wall clock, seconds per call."""
    handoff: str | None = None
    """Why a thread's measure misses part of the work: the callable handed it to other
    threads or processes while measured (and, unless solo time was asked for, the
    samples are on the wall clock instead)."""

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError(f"{self.name}: a timing result needs at least one sample")
        if self.wall_samples is not None and len(self.wall_samples) != len(self.samples):
            raise ValueError(f"{self.name}: wall_samples must match samples one for one")

    def on(self, measure: str) -> list[float] | None:
        """The samples on ``measure`` (``wall``, ``solo``, ``cpu``), if this result has them."""
        if measure == self.measure:
            return self.samples
        if measure == "wall":
            return self.wall_samples
        return None

    @property
    def waited(self) -> float | None:
        """Under ``solo``: the share of the wall time the thread waited for a CPU."""
        if self.measure != "solo" or not self.wall_samples:
            return None
        wall = sum(self.wall_samples)
        return max(0.0, (wall - sum(self.samples)) / wall) if wall > 0 else 0.0

    @cached_property
    def _summary(self) -> dict[str, float]:
        return stats.summarize(self.samples)

    @property
    def iterations(self) -> int:
        """Number of samples measured."""
        return self.samples_total or len(self.samples)

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
        """Plain-JSON dict with at most :data:`MAX_STORED_SAMPLES` samples.

        The statistics are those of every sample; :meth:`from_dict` keeps them
        when the samples were thinned, and recomputes them otherwise.
        """
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "samples": thin(self.samples),
            "samples_total": self.iterations,
            "warmup": self.warmup,
            "calls_per_sample": self.calls_per_sample,
            "gc": self.gc,
            "mode": self.mode,
            "measure": self.measure,
            "wall_samples": None if self.wall_samples is None else thin(self.wall_samples),
            "waited": self.waited,
            "handoff": self.handoff,
            "stats": {key: finite(value) for key, value in self.metrics().items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimingResult:
        """Rebuild a result written by :meth:`to_dict`."""
        name = str(data["name"])
        samples = [float(s) for s in data["samples"]]
        total = int(data.get("samples_total") or len(samples))
        result = cls(
            name=name,
            samples=samples,
            warmup=int(data.get("warmup", 0)),
            calls_per_sample=int(data.get("calls_per_sample", 1)),
            gc=str(data.get("gc", "enabled")),
            mode=str(data.get("mode", "perf")),
            samples_total=total if total > len(samples) else None,
            measure=timing_measure(data.get("measure", "wall")),
            wall_samples=floats(data.get("wall_samples"), len(samples)),
            handoff=data.get("handoff") if isinstance(data.get("handoff"), str) else None,
        )
        written = data.get("stats") or {}
        if result.samples_total and all(
            isinstance(written.get(k), (int, float)) for k in SUMMARY_KEYS
        ):
            result.__dict__["_summary"] = {k: float(written[k]) for k in SUMMARY_KEYS}
        return result
