"""Numbers that are not times: instruction counts, and an asv benchmark's tracked number."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pytest_aide.kinds.common import (
    RESULT_SCHEMA,
)
from pytest_aide.measure.attribution import FunctionCount
from pytest_aide.units import format_count, format_size

__all__ = ["COUNT_METRICS", "CountResult", "TrackResult"]


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
