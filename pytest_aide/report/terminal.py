"""The terminal summary table: lays out checks, decides nothing."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_aide.check import Check, totals
from pytest_aide.results import LoadResult, SweepResult, TimingResult
from pytest_aide.units import format_duration
from pytest_aide.verdict import Comparison

__all__ = ["render_summary"]

_HEADER = (
    "check",
    "mean",
    "median",
    "p95",
    "min",
    "max",
    "ops/s",
    "change (95% CI)",
    "limits",
    "status",
)
_NUMERIC = range(1, 8)


def _figures(result: TimingResult | LoadResult) -> tuple[str, ...]:
    """mean, median, p95, min, max and ops/s; a load has no min, its median is p50."""
    if isinstance(result, TimingResult):
        times = (result.mean, result.median, result.p95, result.min, result.max)
    elif result.latencies:
        times = (result.mean, result.p50, result.p95, math.nan, result.max)
    else:
        times = (math.nan,) * 5
    shown = tuple("-" if math.isnan(t) else format_duration(t) for t in times)
    return (*shown, f"{result.throughput:,.1f}")


def _rows(check: Check) -> list[tuple[str, ...]]:
    limits = ", ".join(t.describe() for t in check.thresholds.values()) or "-"
    measured = [
        r.knee if isinstance(r, SweepResult) else r
        for r in check.results
        if isinstance(r, (TimingResult, LoadResult, SweepResult))
    ]
    if not measured:
        return [(check.name, *("-",) * 7, limits, check.status)]
    comparisons: dict[str, Comparison] = {}
    for c in check.verdict.comparisons if check.verdict else []:
        # A counted result shows its count's comparison, which gates, not its time's.
        if c.subject not in comparisons or comparisons[c.subject].measure == "time":
            comparisons[c.subject] = c
    rows = []
    for result in measured:
        comparison = comparisons.get(result.name)
        change = "-"
        if comparison is not None:
            e = comparison.estimate
            if comparison.measure == "time":
                change = f"{e.percent:+.1f}% [{(e.low - 1) * 100:+.1f}, {(e.high - 1) * 100:+.1f}]"
            else:
                change = f"{e.percent:+.2f}% {comparison.measure}"
            change += "" if comparison.gating else " (info)"
            if comparison.undecided:
                change = f"n/a ({e.n_old} vs {e.n_new})"
        rows.append((result.name, *_figures(result), change, limits, check.status))
    return rows


_SWEEP_HEADER = ("concurrency", "req/s", "p50", "p95", "errors", "")


def _layout(table: list[tuple[str, ...]], numeric: Sequence[int]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]


def _sweep_lines(sweep: SweepResult) -> list[str]:
    table = [_SWEEP_HEADER, *sweep.rows()]
    return [f"{sweep.name}: {sweep.summary()}"] + [f"  {line}" for line in _layout(table, range(5))]


def render_summary(checks: Sequence[Check]) -> list[str]:
    """Table rows, one per result, then totals and the success rate."""
    table = [_HEADER] + [row for check in checks for row in _rows(check)]
    lines = _layout(table, _NUMERIC)
    counts = totals(checks)
    others = [r for c in checks for r in c.results if not isinstance(r, TimingResult)]
    for result in others:
        if isinstance(result, SweepResult):
            lines.extend(_sweep_lines(result))
        else:
            lines.append(f"{result.name}: {result.summary()}")
    notes = [note for c in checks if c.verdict for note in c.verdict.notes]
    lines.extend(f"note: {note}" for note in notes)
    confirmed = [(c.name, c.confirmation) for c in checks if c.confirmation is not None]
    for name, confirmation in confirmed:
        lines.extend(f"confirm: {line}" for line in confirmation.lines(name))
    if confirmed:
        spent = sum(confirmation.seconds for _, confirmation in confirmed)
        lines.append(
            f"confirm: {len(confirmed)} suspected check(s) measured again, {spent:.1f} s "
            "confirming (--aide-confirm)"
        )
    lines.append("")
    lines.append(
        f"checks: {counts['checks']}, passed: {counts['passed']}, failed: {counts['failed']}, "
        f"success rate: {100 * counts['success_rate']:.1f}%"
    )
    return lines
