"""Resources a call used: peak memory (memray) and CPU samples (psutil)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pytest_aide.kinds.common import (
    RESULT_SCHEMA,
)
from pytest_aide.units import format_size

__all__ = ["CpuResult", "MemoryResult"]


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
