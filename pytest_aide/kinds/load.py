"""Concurrent load: a load run, a concurrency sweep, and HTTP load on a served app."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import pytest_aide.stats as stats
from pytest_aide.kinds.common import (
    RESULT_SCHEMA,
    finite,
    share,
)
from pytest_aide.units import format_duration

__all__ = ["KNEE_FRACTION", "HttpResult", "LoadResult", "SweepResult"]

_LATENCY_KEYS = ("mean", "median", "max", "p95", "p99")
"""The latency statistics a load result reports (and keeps when its latencies are thinned)."""


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
    latencies_total: int | None = field(default=None, compare=False)
    """Requests that succeeded, when :attr:`latencies` holds a thinned selection of
    them (a run compacted in the history); the statistics are then those written."""

    @property
    def completed(self) -> int:
        """Requests that succeeded."""
        return self.latencies_total or len(self.latencies)

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
        figures.update({k: v for k, v in self._summary.items() if k in _LATENCY_KEYS})
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
            "stats": {key: finite(value) for key, value in self.metrics().items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadResult:
        """Rebuild a result written by :meth:`to_dict` (or thinned from one)."""
        latencies = [float(x) for x in data["latencies"]]
        completed = data.get("completed")
        thinned = isinstance(completed, int) and completed > len(latencies)
        result = cls(
            name=str(data["name"]),
            latencies=latencies,
            errors=int(data.get("errors", 0)),
            error_types={str(k): int(v) for k, v in data.get("error_types", {}).items()},
            error_messages=[str(m) for m in data.get("error_messages", [])],
            wall_time=float(data.get("wall_time", 0.0)),
            concurrency=int(data.get("concurrency", 1)),
            mode=str(data.get("mode", "thread")),
            waited=share(data.get("waited")),
            latencies_total=completed if thinned else None,
        )
        written = data.get("stats") or {}
        if thinned and all(isinstance(written.get(k), (int, float)) for k in _LATENCY_KEYS):
            result.__dict__["_summary"] = {k: float(written[k]) for k in _LATENCY_KEYS}
        return result


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
        if c.get("engine") == "locust":
            sent = ", ".join(f"{n:,}" for n in dict(c.get("per_worker") or {}).values())
            client = f"Locust, {c.get('workers')} worker(s) sent {sent or 'none'}"
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
