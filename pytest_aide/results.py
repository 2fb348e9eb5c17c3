"""Measurement results: plain data that serialises to dicts and back.

A result knows its measured figures (``metrics()``, the names thresholds are
checked against) and how to describe itself in one line (``summary()``).
Nothing here measures or judges.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import pytest_aide.stats as stats
from pytest_aide.growth import (
    FAIL_MARGIN_TIME,
    Fit,
    GrowthError,
    clearly_exceeds,
    fit_growth,
    growth_failure,
    parse_order,
    size_label,
    unjudgeable,
)
from pytest_aide.measure.attribution import FunctionCount
from pytest_aide.units import format_count, format_duration, format_size

__all__ = [
    "COUNT_METRICS",
    "KNEE_FRACTION",
    "MAX_STORED_SAMPLES",
    "RESULT_SCHEMA",
    "CacheResult",
    "CacheStats",
    "CountResult",
    "CpuResult",
    "HttpResult",
    "LoadResult",
    "MemoryResult",
    "QueryResult",
    "ScalingResult",
    "SweepResult",
    "TimingResult",
    "TrackResult",
    "result_from_dict",
    "thin",
]

RESULT_SCHEMA = 1
"""Version of the dict layout written by ``to_dict``."""
MAX_STORED_SAMPLES = 1000
"""Samples a timing keeps when written out (evenly spaced, in time order); the summary
statistics written beside them are those of every sample."""


def thin(samples: list[float], keep: int = MAX_STORED_SAMPLES) -> list[float]:
    """At most ``keep`` samples, evenly spaced in time order (first and last kept)."""
    if len(samples) <= keep:
        return list(samples)
    step = (len(samples) - 1) / (keep - 1)
    return [samples[round(i * step)] for i in range(keep)]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


_SUMMARY_KEYS = ("mean", "median", "min", "max", "stddev", "p95", "p99")


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
            "stats": {key: _finite(value) for key, value in self.metrics().items()},
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
            measure=_timing_measure(data.get("measure", "wall")),
            wall_samples=_floats(data.get("wall_samples"), len(samples)),
            handoff=data.get("handoff") if isinstance(data.get("handoff"), str) else None,
        )
        written = data.get("stats") or {}
        if result.samples_total and all(
            isinstance(written.get(k), (int, float)) for k in _SUMMARY_KEYS
        ):
            result.__dict__["_summary"] = {k: float(written[k]) for k in _SUMMARY_KEYS}
        return result


TIMING_MEASURES = ("wall", "solo", "cpu")
"""What a timing's samples can be on."""


def _share(value: Any) -> float | None:
    """A fraction from a report, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return None


def _timing_measure(value: object) -> str:
    text = "wall" if value == "time" else str(value)
    if text not in TIMING_MEASURES:
        raise ValueError(f"unknown timing measure {value!r} (known: {', '.join(TIMING_MEASURES)})")
    return text


def _floats(values: object, length: int) -> list[float] | None:
    """``values`` as floats when they are a list of ``length``; else None."""
    if not isinstance(values, list) or len(values) != length:
        return None
    return [float(v) for v in values]


@dataclass
class MemoryResult:
    """What memray saw while a block ran."""

    kind: ClassVar[str] = "memory"

    name: str
    peak_bytes: int
    """High-water mark of memory allocated while tracing."""
    allocations: int
    """Number of allocations memray recorded."""
    leaked_bytes: int
    """Bytes allocated inside the block and still held when it ended."""
    gc_collected: int = 0
    """Objects ``gc.collect()`` freed right after the block."""
    top_sites: list[dict[str, Any]] = field(default_factory=list)
    """Largest allocation sites at the peak: function, file, line, bytes, count."""
    mode: str = "memray"
    """Which memray mode produced the figures (what it can see)."""
    trace_path: str | None = None
    """The memray trace file, when kept with ``--aide-keep-traces``."""

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name."""
        return {"memory_peak": float(self.peak_bytes), "leaked": float(self.leaked_bytes)}

    def summary(self) -> str:
        """One line: peak, leak and allocation count, with the memray mode."""
        return (
            f"peak {format_size(self.peak_bytes)}, leaked {format_size(self.leaked_bytes)}, "
            f"{self.allocations:,} allocations, gc freed {self.gc_collected} ({self.mode})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "peak_bytes": self.peak_bytes,
            "allocations": self.allocations,
            "leaked_bytes": self.leaked_bytes,
            "gc_collected": self.gc_collected,
            "top_sites": [dict(site) for site in self.top_sites],
            "mode": self.mode,
            "trace_path": self.trace_path,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemoryResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            peak_bytes=int(data["peak_bytes"]),
            allocations=int(data["allocations"]),
            leaked_bytes=int(data["leaked_bytes"]),
            gc_collected=int(data.get("gc_collected", 0)),
            top_sites=[dict(site) for site in data.get("top_sites", [])],
            mode=str(data.get("mode", "memray")),
            trace_path=data.get("trace_path"),
        )


@dataclass
class CpuResult:
    """CPU use of the measured process, sampled from a helper process."""

    kind: ClassVar[str] = "cpu"

    name: str
    samples: list[float]
    """Process CPU % per interval (100 = one core busy; can exceed 100 with threads)."""
    system_samples: list[float] = field(default_factory=list)
    """Whole-machine CPU % per interval (100 = every core busy)."""
    rss_peak_bytes: int = 0
    interval: float = 0.05
    """Interval asked for, seconds."""
    achieved_interval: float = 0.05
    """Mean interval actually achieved between samples, seconds."""

    @property
    def mean_percent(self) -> float:
        """Mean process CPU %."""
        return math.fsum(self.samples) / len(self.samples) if self.samples else 0.0

    @property
    def max_percent(self) -> float:
        """Highest process CPU % of any interval."""
        return max(self.samples, default=0.0)

    @property
    def system_percent(self) -> float:
        """Mean whole-machine CPU %."""
        return (
            math.fsum(self.system_samples) / len(self.system_samples)
            if self.system_samples
            else 0.0
        )

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name."""
        return {"cpu_percent": self.mean_percent, "rss_peak": float(self.rss_peak_bytes)}

    def summary(self) -> str:
        """One line: mean and max CPU %, system CPU %, RSS peak, sampling."""
        return (
            f"cpu mean {self.mean_percent:.1f}%, max {self.max_percent:.1f}%, "
            f"system {self.system_percent:.1f}%, rss peak {format_size(self.rss_peak_bytes)} "
            f"({len(self.samples)} samples every {self.achieved_interval * 1e3:.1f} ms)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "samples": list(self.samples),
            "system_samples": list(self.system_samples),
            "rss_peak_bytes": self.rss_peak_bytes,
            "interval": self.interval,
            "achieved_interval": self.achieved_interval,
            "mean_percent": self.mean_percent,
            "max_percent": self.max_percent,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CpuResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            samples=[float(x) for x in data["samples"]],
            system_samples=[float(x) for x in data.get("system_samples", [])],
            rss_peak_bytes=int(data.get("rss_peak_bytes", 0)),
            interval=float(data.get("interval", 0.05)),
            achieved_interval=float(data.get("achieved_interval", 0.05)),
        )


@dataclass
class LoadResult:
    """Concurrent load: every request's latency, errors by type, throughput."""

    kind: ClassVar[str] = "load"

    name: str
    latencies: list[float]
    """Seconds per successful request, exactly as measured (no bucketing); open-loop
    latencies count from each request's intended start."""
    errors: int = 0
    """Requests that raised or passed their timeout."""
    error_types: dict[str, int] = field(default_factory=dict)
    """Errors by exception type name (``TimeoutError`` for requests past ``timeout``)."""
    error_messages: list[str] = field(default_factory=list)
    """The first few error messages, as ``Type: message``."""
    wall_time: float = 0.0
    """Seconds from the first request's start to the last one's end."""
    concurrency: int = 1
    mode: str = "thread"
    waited: float | None = None
    """The share of the time the load's threads were ready to run that they spent
    waiting for a CPU (their run-queue wait); None where the kernel does not say.
    The latencies stay on the wall clock: concurrency is a load check's point."""

    @property
    def completed(self) -> int:
        """Requests that succeeded."""
        return len(self.latencies)

    @property
    def error_rate(self) -> float:
        """Errors as a fraction of all requests."""
        total = self.completed + self.errors
        return self.errors / total if total else 0.0

    @property
    def throughput(self) -> float:
        """Successful requests per second of wall time."""
        return self.completed / self.wall_time if self.wall_time > 0 else 0.0

    @cached_property
    def _summary(self) -> dict[str, float]:
        return stats.summarize(self.latencies) if self.latencies else {}

    def _stat(self, key: str) -> float:
        return self._summary.get(key, math.nan)

    @property
    def mean(self) -> float:
        """Mean latency, seconds."""
        return self._stat("mean")

    @property
    def max(self) -> float:
        """Slowest request, seconds."""
        return self._stat("max")

    @property
    def p50(self) -> float:
        """Median latency, seconds."""
        return self._stat("median")

    @property
    def p95(self) -> float:
        """95th percentile latency, seconds."""
        return self._stat("p95")

    @property
    def p99(self) -> float:
        """99th percentile latency, seconds."""
        return self._stat("p99")

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name."""
        figures = {"throughput": self.throughput, "error_rate": self.error_rate}
        keys = ("mean", "median", "max", "p95", "p99")
        figures.update({k: v for k, v in self._summary.items() if k in keys})
        return figures

    def summary(self) -> str:
        """One line: requests, errors, throughput and latency percentiles."""
        latency = (
            f"p50 {format_duration(self.p50)}, p95 {format_duration(self.p95)}, "
            f"p99 {format_duration(self.p99)}, max {format_duration(self.max)}"
            if self.latencies
            else "no successful request"
        )
        kinds = "".join(f", {kind} {n}" for kind, n in sorted(self.error_types.items()))
        first = f"; first error: {self.error_messages[0]}" if self.error_messages else ""
        return (
            f"{self.completed} ok, {self.errors} errors ({self.error_rate:.1%}{kinds}), "
            f"{self.throughput:,.1f} req/s at concurrency {self.concurrency} ({self.mode}); "
            f"{latency}{first}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "latencies": list(self.latencies),
            "errors": self.errors,
            "error_types": dict(self.error_types),
            "error_messages": list(self.error_messages),
            "wall_time": self.wall_time,
            "concurrency": self.concurrency,
            "mode": self.mode,
            "waited": self.waited,
            "completed": self.completed,
            "error_rate": self.error_rate,
            "throughput": self.throughput,
            "stats": {key: _finite(value) for key, value in self.metrics().items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            latencies=[float(x) for x in data["latencies"]],
            errors=int(data.get("errors", 0)),
            error_types={str(k): int(v) for k, v in data.get("error_types", {}).items()},
            error_messages=[str(m) for m in data.get("error_messages", [])],
            wall_time=float(data.get("wall_time", 0.0)),
            concurrency=int(data.get("concurrency", 1)),
            mode=str(data.get("mode", "thread")),
            waited=_share(data.get("waited")),
        )


KNEE_FRACTION = 0.95
"""The knee of a sweep is the smallest concurrency reaching this share of the best throughput."""


@dataclass
class SweepResult:
    """Load at several concurrency levels, and the knee: the worker count to use.

    Thresholds judge the knee's figures, the configuration one would deploy.
    """

    kind: ClassVar[str] = "sweep"

    name: str
    levels: list[LoadResult]
    """One load result per concurrency level, lowest concurrency first."""

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError(f"{self.name}: a sweep needs at least one level")
        self.levels.sort(key=lambda level: level.concurrency)

    @property
    def knee(self) -> LoadResult:
        """The smallest-concurrency level within ``KNEE_FRACTION`` of the best throughput."""
        best = max(level.throughput for level in self.levels)
        return next(lvl for lvl in self.levels if lvl.throughput >= KNEE_FRACTION * best)

    @property
    def recommended_concurrency(self) -> int:
        """The knee's concurrency: more workers than this buy less than 5 % throughput."""
        return self.knee.concurrency

    def metrics(self) -> dict[str, float]:
        """The knee's figures."""
        return self.knee.metrics()

    def rows(self) -> list[tuple[str, ...]]:
        """Table rows: concurrency, req/s, p50, p95, error rate, knee marker."""
        knee = self.knee
        return [
            (
                str(level.concurrency),
                f"{level.throughput:,.1f}",
                format_duration(level.p50) if level.latencies else "-",
                format_duration(level.p95) if level.latencies else "-",
                f"{level.error_rate:.1%}",
                "<- knee" if level is knee else "",
            )
            for level in self.levels
        ]

    def summary(self) -> str:
        """One line: the recommended concurrency and the knee's figures."""
        levels = ", ".join(str(level.concurrency) for level in self.levels)
        knee = self.knee
        return (
            f"concurrency sweep {levels}: knee at {knee.concurrency}, the smallest reaching "
            f"{KNEE_FRACTION:.0%} of the best throughput ({knee.throughput:,.1f} req/s, "
            f"{knee.mode}); recommended workers: {knee.concurrency}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "levels": [level.to_dict() for level in self.levels],
            "knee": self.recommended_concurrency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(str(data["name"]), [LoadResult.from_dict(d) for d in data["levels"]])


@dataclass(frozen=True)
class CacheStats:
    """What the measured calls did to one cache."""

    name: str
    hits: int
    misses: int
    maxsize: int | None
    """The cache's bound (None: unbounded, as ``functools.cache``)."""
    currsize: int
    """Entries held when the measured calls ended."""

    @property
    def lookups(self) -> int:
        """Hits and misses together."""
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """Hits per lookup, or None when the calls looked nothing up."""
        return self.hits / self.lookups if self.lookups else None

    def summary(self) -> str:
        """``pkg.mod:f 98.0 % hits (490 hits, 10 misses, 12/1024 entries)``."""
        rate = "no lookups" if self.hit_rate is None else f"{self.hit_rate:.1%} hits"
        bound = "unbounded" if self.maxsize is None else f"{self.maxsize:,}"
        return (
            f"{self.name} {rate} ({self.hits:,} hits, {self.misses:,} misses, "
            f"{self.currsize:,}/{bound} entries)"
        )


@dataclass
class CacheResult:
    """Hits and misses of the caches a check names, over its measured calls (not warmup)."""

    kind: ClassVar[str] = "cache"

    name: str
    caches: list[CacheStats]

    @property
    def hits(self) -> int:
        """Hits of every cache together."""
        return sum(cache.hits for cache in self.caches)

    @property
    def misses(self) -> int:
        """Misses of every cache together."""
        return sum(cache.misses for cache in self.caches)

    @property
    def hit_rate(self) -> float | None:
        """Hits per lookup over every cache; None when nothing was looked up."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name (no hit rate without lookups)."""
        return {} if self.hit_rate is None else {"cache_hit_rate": self.hit_rate}

    def summary(self) -> str:
        """One line: the hit rate, then each cache's figures."""
        rate = "no lookups" if self.hit_rate is None else f"cache hit rate {self.hit_rate:.1%}"
        return f"{rate}: " + "; ".join(cache.summary() for cache in self.caches)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "hit_rate": self.hit_rate,
            "hits": self.hits,
            "misses": self.misses,
            "caches": [
                {
                    "name": c.name,
                    "hits": c.hits,
                    "misses": c.misses,
                    "maxsize": c.maxsize,
                    "currsize": c.currsize,
                    "hit_rate": c.hit_rate,
                }
                for c in self.caches
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CacheResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            caches=[
                CacheStats(
                    str(c["name"]),
                    int(c["hits"]),
                    int(c["misses"]),
                    None if c.get("maxsize") is None else int(c["maxsize"]),
                    int(c.get("currsize", 0)),
                )
                for c in data["caches"]
            ],
        )


@dataclass
class QueryResult:
    """SQL statements the check's calls executed: how many per call, and which."""

    kind: ClassVar[str] = "queries"

    name: str
    statements: int
    """Statements executed over the counted calls."""
    calls: int
    """Calls (or load requests) counted."""
    distinct: int = 0
    """Different statement shapes (literals as ``?``)."""
    top: list[dict[str, Any]] = field(default_factory=list)
    """The most frequent shapes, most first: ``{"statement": ..., "count": ...}``."""
    databases: list[str] = field(default_factory=list)
    """The connections and engines traced, by the names the check gave."""

    @property
    def per_call(self) -> float:
        """Statements per call."""
        return self.statements / self.calls if self.calls else 0.0

    @property
    def measure(self) -> str:
        """What is counted (the name a baseline comparison gives the change)."""
        return "queries"

    @property
    def value(self) -> float:
        """The compared figure: statements per call."""
        return self.per_call

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name."""
        return {"queries": self.per_call}

    def summary(self) -> str:
        """One line: statements per call, then the commonest shapes with their count per call."""
        calls = f"{self.calls:,} call" + ("s" if self.calls != 1 else "")
        text = (
            f"{self.per_call:,.4g} queries per call ({self.statements:,} statements over {calls}, "
            f"{self.distinct} distinct)"
        )
        shown = [
            f"{entry['count'] / self.calls:,.4g}x {_clip(entry['statement'])}"
            for entry in self.top[:3]
        ]
        return text + (": " + "; ".join(shown) if shown else "")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "statements": self.statements,
            "calls": self.calls,
            "per_call": self.per_call,
            "distinct": self.distinct,
            "top": [dict(entry) for entry in self.top],
            "databases": list(self.databases),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            statements=int(data["statements"]),
            calls=int(data["calls"]),
            distinct=int(data.get("distinct", 0)),
            top=[
                {"statement": str(e["statement"]), "count": int(e["count"])}
                for e in data.get("top", [])
            ],
            databases=[str(name) for name in data.get("databases", [])],
        )


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass
class HttpResult:
    """What an HTTP load's responses were: statuses, and requests that needed retries."""

    kind: ClassVar[str] = "http"

    name: str
    url: str
    method: str = "GET"
    statuses: dict[str, int] = field(default_factory=dict)
    """Responses by status code (every attempt's response, retried ones included)."""
    first_try: int = 0
    """Requests answered as expected at the first attempt."""
    after_retry: int = 0
    """Requests answered as expected only after one or more retries."""
    retries: int = 0
    """Attempts beyond the first, in all."""
    client: dict[str, Any] = field(default_factory=dict)
    """The client's settings: connection limits, keep-alive, timeouts, retry attempts."""

    def metrics(self) -> dict[str, float]:
        """Nothing to bound here: the load result beside it carries latency and errors."""
        return {}

    def summary(self) -> str:
        """One line: the request, its statuses, first-try and retried successes, the client."""
        statuses = ", ".join(f"{code} x{count:,}" for code, count in self.statuses.items())
        c = self.client
        client = (
            f"pool {c.get('limit')}, {c.get('limit_per_host')} per host, keep-alive "
            f"{format_duration(float(c.get('keepalive_timeout', 0)))}"
            if c
            else "default client"
        )
        return (
            f"{self.method} {self.url}: {statuses or 'no responses'}; {self.first_try:,} ok first "
            f"try, {self.after_retry:,} after retries ({self.retries:,} retries); {client}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "url": self.url,
            "method": self.method,
            "statuses": dict(self.statuses),
            "first_try": self.first_try,
            "after_retry": self.after_retry,
            "retries": self.retries,
            "client": dict(self.client),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HttpResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            url=str(data["url"]),
            method=str(data.get("method", "GET")),
            statuses={str(k): int(v) for k, v in (data.get("statuses") or {}).items()},
            first_try=int(data.get("first_try", 0)),
            after_retry=int(data.get("after_retry", 0)),
            retries=int(data.get("retries", 0)),
            client=dict(data.get("client") or {}),
        )


COUNT_METRICS = ("instructions", "cycles")
"""Metrics only a :class:`CountResult` has."""


@dataclass
class CountResult:
    """What valgrind counted for one measured call, per call."""

    kind: ClassVar[str] = "count"

    name: str
    measure: str
    """What the gate reads: ``instructions``, or ``cycles`` (estimated from the cache
    simulation)."""
    instructions: float
    """Instructions per call, the cost of calling a no-op taken off."""
    calls: int
    """Calls counted."""
    cycles: float | None = None
    """Estimated cycles per call (with the cache simulation only)."""
    events: dict[str, float] = field(default_factory=dict)
    """Every event callgrind counted, per call (``Ir``; with the caches ``Dr``, ``D1mr``...)."""
    valgrind: str = ""
    """The valgrind version that counted."""
    trace_path: str | None = None
    """The callgrind output of the counted calls, when kept (``--aide-keep-traces``)."""
    functions: list[FunctionCount] = field(default_factory=list)
    """Instructions per Python function and call, most inclusive first (counted on
    Python 3.12+; empty before)."""

    @property
    def value(self) -> float:
        """The gated figure per call: estimated cycles when measuring cycles, else instructions."""
        if self.measure == "cycles" and self.cycles is not None:
            return self.cycles
        return self.instructions

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name."""
        found = {"instructions": self.instructions}
        if self.cycles is not None:
            found["cycles"] = self.cycles
        return found

    def summary(self) -> str:
        """One line: instructions (and cycles) per call, and the calls counted."""
        text = f"{format_count(self.instructions)} per call"
        if self.cycles is not None:
            text += f", {format_count(self.cycles, 'cycles')} estimated"
        version = f" {self.valgrind}" if self.valgrind else ""
        calls = f"{self.calls:,} call" + ("s" if self.calls != 1 else "")
        return f"{text} ({calls} counted by valgrind{version})"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "measure": self.measure,
            "instructions": self.instructions,
            "cycles": self.cycles,
            "calls": self.calls,
            "events": dict(self.events),
            "valgrind": self.valgrind,
            "trace_path": self.trace_path,
            "functions": [f.to_dict() for f in self.functions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CountResult:
        """Rebuild a result written by :meth:`to_dict`."""
        cycles = data.get("cycles")
        return cls(
            name=str(data["name"]),
            measure=str(data.get("measure", "instructions")),
            instructions=float(data["instructions"]),
            calls=int(data["calls"]),
            cycles=None if cycles is None else float(cycles),
            events={str(k): float(v) for k, v in (data.get("events") or {}).items()},
            valgrind=str(data.get("valgrind", "")),
            trace_path=data.get("trace_path"),
            functions=[FunctionCount.from_dict(f) for f in data.get("functions") or []],
        )


@dataclass
class ScalingResult:
    """A check measured at several input sizes, and how its cost grew (``scaling``).

    Per size: seconds per call on a clock that leaves out the time the machine
    gives to other processes, so it does not bend the curve (solo time where
    the kernel reports run-queue waits, else the process's CPU time) and, when
    counted, the instructions (or estimated cycles) per call, on which the fit
    then rests.
    """

    kind: ClassVar[str] = "scaling"

    name: str
    sizes: list[int]
    samples: list[list[float]]
    """Seconds per call on :attr:`clock`, one list of samples per size."""
    order: str
    """The declared order, an upper bound (``n log n``)."""
    arg: str = "n"
    """What the size is called (the scenario's ``arg``)."""
    counts: list[float] | None = None
    """Instructions (or cycles) per call, per size, when counted."""
    measure: str = "time"
    """``time`` (the timings), or the counted measure the fit rests on."""
    clock: str = "cpu"
    """What the timings are on: ``solo`` (solo time) or ``cpu`` (the process's CPU time)."""
    _fit: Fit | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.samples) != len(self.sizes) or not all(self.samples):
            raise ValueError(f"{self.name}: scaling needs samples for every size")
        if self.counts is not None and len(self.counts) != len(self.sizes):
            raise ValueError(f"{self.name}: scaling needs a count for every size")

    @property
    def exact(self) -> bool:
        """True when the fit rests on counts, which do not move from run to run."""
        return self.counts is not None

    @property
    def declared(self) -> Any:
        """The declared order as a :class:`~pytest_aide.growth.Order`."""
        return parse_order(self.order)

    @property
    def fit(self) -> Fit:
        """How the cost grew with size (computed once)."""
        if self._fit is None:
            costs = [[c] for c in self.counts] if self.counts is not None else self.samples
            self._fit = fit_growth(self.sizes, costs, exact=self.exact)
        return self._fit

    def unjudged(self) -> str | None:
        """Why the sizes cannot tell the declared order from the next one up, or None.

        Costs that clearly grow beyond the declared order are judged whatever
        the sizes (:func:`~pytest_aide.growth.clearly_exceeds`).
        """
        why = unjudgeable(self.sizes, self.declared, self.exact)
        if why is None:
            return None
        fit = self.shown_fit
        return None if fit is not None and clearly_exceeds(fit, self.sizes, self.declared) else why

    @property
    def shown_fit(self) -> Fit | None:
        """The fit, judged or not; None where the costs cannot be fitted (a size of 0 cost)."""
        try:
            return self.fit
        except GrowthError:
            return None

    def failure(self) -> str | None:
        """Why the growth breaks the declared bound, or None (also None when unjudged)."""
        if self.unjudged() is not None:
            return None
        return growth_failure(self.fit, self.declared, self.exact)

    def labels(self) -> list[str]:
        """The names of the measured calls, one per size (what a count is filed under)."""
        return [size_label(self.name, self.arg, size) for size in self.sizes]

    @property
    def basis(self) -> str:
        """What the fit rests on: ``solo time``, ``CPU time`` or ``instructions``."""
        if self.counts is not None:
            return self.measure
        return "solo time" if self.clock == "solo" else "CPU time"

    def metrics(self) -> dict[str, float]:
        """No threshold key applies to a growth; the declared order is judged instead."""
        return {}

    def rows(self) -> list[tuple[str, ...]]:
        """Table rows: size, median time per call, count per call, the fit's value."""
        fit = self.shown_fit
        rows = []
        for index, size in enumerate(self.sizes):
            median = statistics.median(self.samples[index])
            count = format_count(self.counts[index]) if self.counts is not None else "-"
            fitted = "-"
            if fit is not None:
                value = fit.predict(size)
                fitted = format_count(value) if self.exact else format_duration(value)
            rows.append((f"{size:,}", format_duration(median), count, fitted))
        return rows

    def summary(self) -> str:
        """``n = 1,000..100,000 (5 sizes) on CPU time: grows as n log n (...); declared ...``."""
        span = f"{self.arg} = {min(self.sizes):,}..{max(self.sizes):,} ({len(self.sizes)} sizes)"
        why = self.unjudged()
        if why is not None:
            fit = self.shown_fit
            fitted = f"; read as {fit.describe()}" if fit is not None else ""
            return f"{span}: not judged: {why}{fitted}; declared {self.order}"
        text = f"{span} on {self.basis}: grows as {self.fit.describe()}; declared {self.order}"
        fit, declared = self.fit, self.declared
        if fit.best > declared and self.failure() is None and declared.name in fit.errors:
            ratio = fit.errors[declared.name] / max(fit.errors[fit.best.name], 1e-12)
            text += f" fits x{ratio:.2f} worse, within x{FAIL_MARGIN_TIME:g}: passes"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict; the fit is written beside the figures it came from."""
        why = self.unjudged()
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "arg": self.arg,
            "order": self.order,
            "measure": self.measure,
            "clock": self.clock,
            "sizes": list(self.sizes),
            "samples": [thin(list(s)) for s in self.samples],
            "medians": [statistics.median(s) for s in self.samples],
            "counts": None if self.counts is None else list(self.counts),
            "fit": None if self.shown_fit is None else self.shown_fit.to_dict(),
            "unjudged": why,
            "failure": self.failure(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScalingResult:
        """Rebuild a result written by :meth:`to_dict` (the fit is computed again)."""
        try:
            parse_order(data["order"])
        except GrowthError as exc:
            raise ValueError(f"result {data.get('name')!r}: {exc}") from None
        counts = data.get("counts")
        return cls(
            name=str(data["name"]),
            sizes=[int(n) for n in data["sizes"]],
            samples=[[float(v) for v in s] for s in data["samples"]],
            order=str(data["order"]),
            arg=str(data.get("arg", "n")),
            counts=None if counts is None else [float(c) for c in counts],
            measure=str(data.get("measure", "time")),
            clock="solo" if data.get("clock") == "solo" else "cpu",
        )


@dataclass
class TrackResult:
    """A number a benchmark yields as it is, compared as a count is.

    What asv's ``track_`` returns (in its ``unit``), or the bytes the object
    ``mem_`` returns holds (``size``).
    """

    kind: ClassVar[str] = "track"

    name: str
    value: float
    unit: str = "unit"
    measure: str = "track"
    """``track`` (the returned number), ``size`` (bytes the returned object holds) or
    ``peakmem`` (the call's peak memory, bytes)."""

    @property
    def calls(self) -> int:
        """One value per run: compared as a count is, with no interval."""
        return 1

    def metrics(self) -> dict[str, float]:
        """Figures that thresholds can bound, by metric name."""
        return {self.measure: self.value}

    def summary(self) -> str:
        """One line: the value and its unit."""
        if self.measure in ("size", "peakmem"):
            return f"{self.measure} {format_size(int(self.value))}"
        return f"{self.value:,.6g} {self.unit}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "kind": self.kind,
            "schema": RESULT_SCHEMA,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "measure": self.measure,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackResult:
        """Rebuild a result written by :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            value=float(data["value"]),
            unit=str(data.get("unit", "unit")),
            measure=str(data.get("measure", "track")),
        )


Result = (
    TimingResult
    | MemoryResult
    | CpuResult
    | LoadResult
    | SweepResult
    | CountResult
    | CacheResult
    | QueryResult
    | HttpResult
    | ScalingResult
    | TrackResult
)
"""Any measurement result."""

_RESULT_TYPES: dict[str, Any] = {
    cls.kind: cls
    for cls in (
        TimingResult,
        MemoryResult,
        CpuResult,
        LoadResult,
        SweepResult,
        CountResult,
        CacheResult,
        QueryResult,
        HttpResult,
        ScalingResult,
        TrackResult,
    )
}


def result_from_dict(data: dict[str, Any]) -> Result:
    """Rebuild any result from its dict, dispatching on its ``kind``.

    ``ValueError`` names what is wrong: not an object, an unknown kind, a
    number that is not finite (``NaN``, or ``1e999`` read as infinity), a
    negative sample.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a result object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in _RESULT_TYPES:
        raise ValueError(f"unknown result kind {kind!r} (known: {', '.join(_RESULT_TYPES)})")
    _check_numbers(data, str(data.get("name", kind)))
    for key in ("samples", "latencies"):
        values = data.get(key)
        if isinstance(values, list) and any(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0 for v in values
        ):
            raise ValueError(f"result {data.get('name')!r}: {key!r} holds a negative figure")
    return _RESULT_TYPES[kind].from_dict(data)


def _check_numbers(value: Any, where: str) -> None:
    """Raise ``ValueError`` at the first float in ``value`` that is not finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not a finite number (NaN, or too large)")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(item, f"{where}[{index}]")
