"""The terminal summary table: lays out checks, decides nothing."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_aide.check import Check
from pytest_aide.results import TimingResult
from pytest_aide.units import format_duration

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


def _rows(check: Check) -> list[tuple[str, ...]]:
    limits = ", ".join(t.describe() for t in check.thresholds.values()) or "-"
    if not check.timings:
        return [(check.name, *("-",) * 7, limits, check.status)]
    comparisons = {c.subject: c for c in (check.verdict.comparisons if check.verdict else [])}
    rows = []
    for result in check.timings:
        figures = (result.mean, result.median, result.p95, result.min, result.max)
        comparison = comparisons.get(result.name)
        change = "-"
        if comparison is not None:
            e = comparison.estimate
            change = f"{e.percent:+.1f}% [{(e.low - 1) * 100:+.1f}, {(e.high - 1) * 100:+.1f}]"
            change += "" if comparison.gating else " (info)"
        rows.append(
            (
                result.name,
                *(format_duration(f) for f in figures),
                f"{result.throughput:,.1f}",
                change,
                limits,
                check.status,
            )
        )
    return rows


def render_summary(checks: Sequence[Check]) -> list[str]:
    """Table rows, one per result, then totals and the success rate."""
    table = [_HEADER] + [row for check in checks for row in _rows(check)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEADER))]
    lines = []
    for row in table:
        cells = [
            cell.rjust(width) if i in _NUMERIC else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    counted = [c for c in checks if c.status != "SKIP"]
    passed = sum(1 for c in counted if c.status in ("PASS", "IMPROVED"))
    rate = 100.0 * passed / len(counted) if counted else 100.0
    others = [r for c in checks for r in c.results if not isinstance(r, TimingResult)]
    lines.extend(f"{r.name}: {r.summary()}" for r in others)
    notes = [note for c in checks if c.verdict for note in c.verdict.notes]
    lines.extend(f"note: {note}" for note in notes)
    lines.append("")
    lines.append(
        f"checks: {len(counted)}, passed: {passed}, failed: {len(counted) - passed}, "
        f"success rate: {rate:.1f}%"
    )
    return lines
