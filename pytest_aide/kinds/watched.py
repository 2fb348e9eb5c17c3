"""What measured calls did to the caches and databases a check watches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pytest_aide.kinds.common import (
    RESULT_SCHEMA,
    clip,
)

__all__ = ["CacheResult", "CacheStats", "QueryResult"]


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
            f"{entry['count'] / self.calls:,.4g}x {clip(entry['statement'])}"
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
