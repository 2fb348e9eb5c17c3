"""The terminal summary table: lays out checks, decides nothing."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_aide.check import Check
from pytest_aide.units import format_duration

__all__ = ["render_summary"]

_HEADER = ("check", "mean", "median", "p95", "min", "max", "ops/s", "limits", "status")


def _rows(check: Check) -> list[tuple[str, ...]]:
    limits = ", ".join(t.describe() for t in check.thresholds.values()) or "-"
    if not check.results:
        return [(check.name, *("-",) * 6, limits, check.status)]
    rows = []
    for result in check.results:
        figures = (result.mean, result.median, result.p95, result.min, result.max)
        rows.append(
            (
                result.name,
                *(format_duration(f) for f in figures),
                f"{result.throughput:,.1f}",
                limits,
                check.status,
            )
        )
    return rows


def render_summary(checks: Sequence[Check]) -> list[str]:
    """Table rows, one per result, then totals and the success rate."""
    table = [_HEADER] + [row for check in checks for row in _rows(check)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEADER))]
    numeric = range(1, 7)
    lines = []
    for row in table:
        cells = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    counted = [c for c in checks if c.status != "SKIP"]
    passed = sum(1 for c in counted if c.status == "PASS")
    rate = 100.0 * passed / len(counted) if counted else 100.0
    lines.append("")
    lines.append(
        f"checks: {len(counted)}, passed: {passed}, failed: {len(counted) - passed}, "
        f"success rate: {rate:.1f}%"
    )
    return lines
