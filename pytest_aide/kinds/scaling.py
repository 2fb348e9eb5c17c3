"""How cost grows with size: a figure per size and the fitted order."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, ClassVar

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
from pytest_aide.kinds.common import (
    RESULT_SCHEMA,
    thin,
)
from pytest_aide.units import format_count, format_duration

__all__ = ["ScalingResult"]


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
