"""The terminal summary table: lays out checks, decides nothing."""

from __future__ import annotations

import math
import statistics
import textwrap
from collections.abc import Sequence

from pytest_aide.check import Check, totals
from pytest_aide.results import LoadResult, ScalingResult, SweepResult, TimingResult
from pytest_aide.units import format_duration
from pytest_aide.verdict import Comparison, in_order

__all__ = ["fold", "render_summary", "summary_lines"]

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
    limits = ", ".join(check.thresholds[k].describe() for k in in_order(check.thresholds)) or "-"
    measured = [
        (f"{r.name} (knee {r.knee.concurrency})", r.knee)
        if isinstance(r, SweepResult)
        else (r.name, r)
        for r in check.results
        if isinstance(r, (TimingResult, LoadResult, SweepResult))
    ]
    if not measured:
        scaling = [r for r in check.results if isinstance(r, ScalingResult)]
        if scaling:
            result = scaling[0]
            bound = f"order <= {result.order}"
            limits = bound if limits == "-" else f"{bound}, {limits}"
            fit = result.shown_fit
            grew = f"grows as {fit.best.name}" if fit is not None else "-"
            grew += " (not judged)" if result.unjudged() else ""
            return [(check.name, *("-",) * 6, grew, limits, check.status)]
        numbers = [
            c
            for c in (check.verdict.comparisons if check.verdict else [])
            if c.measure in ("track", "size", "peakmem")
        ]  # an asv number: its change is the check's
        change = _change(numbers[0]) if numbers else "-"
        return [(check.name, *("-",) * 6, change, limits, check.status)]
    comparisons: dict[str, Comparison] = {}
    for c in check.verdict.comparisons if check.verdict else []:
        # A counted result shows its count's comparison, which gates, not its time's;
        # statements per call are shown only when they fail (their line says so).
        if c.measure == "queries":
            continue
        if c.subject not in comparisons or comparisons[c.subject].measure == "time":
            comparisons[c.subject] = c
    rows = []
    for label, result in measured:
        comparison = comparisons.get(result.name)
        change = "-" if comparison is None else _change(comparison)
        rows.append((label, *_figures(result), change, limits, check.status))
    return rows


def _change(comparison: Comparison) -> str:
    """The change column: a time's estimate and interval, or a count's exact ratio."""
    e = comparison.estimate
    if comparison.undecided:
        return f"n/a ({e.n_old} vs {e.n_new})"
    if comparison.measure == "time":
        change = f"{e.percent:+.1f}% [{(e.low - 1) * 100:+.1f}, {(e.high - 1) * 100:+.1f}]"
    else:
        change = f"{e.percent:+.2f}% {comparison.measure}"
    return change + ("" if comparison.gating else " (info)")


_SWEEP_HEADER = ("concurrency", "req/s", "p50", "p95", "errors", "")

_DROPPED_FIRST = ("min", "max", "mean", "ops/s", "p95")
"""Columns left out, in this order, until the table fits the terminal."""

Line = tuple[str, "str | None"]
"""A summary line and, for a row of the table, the status it ends with (to colour)."""


def _layout(table: list[tuple[str, ...]], numeric: Sequence[int]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]


def _fits(lines: Sequence[str], width: int | None) -> bool:
    return width is None or all(len(line) <= width for line in lines)


def _table(rows: list[tuple[str, ...]], width: int | None) -> list[Line]:
    """The rows laid out within ``width``: columns dropped, then limits and names folded."""
    keep = list(range(len(_HEADER)))
    for name in (None, *_DROPPED_FIRST):
        if name is not None:
            keep.remove(_HEADER.index(name))
        lines = _pick(rows, keep, fold_limits=False, fold_names=False)
        if _fits([text for text, _ in lines], width):
            return lines
    lines = _pick(rows, keep, fold_limits=True, fold_names=False)
    if _fits([text for text, _ in lines], width):
        return lines
    return _pick(rows, keep, fold_limits=True, fold_names=True, width=width)


def _pick(
    rows: list[tuple[str, ...]],
    keep: list[int],
    *,
    fold_limits: bool,
    fold_names: bool,
    width: int | None = None,
) -> list[Line]:
    """Lay out the ``keep`` columns; folded limits, and names too long, get lines of their own."""
    limits = _HEADER.index("limits")
    columns = [i for i in keep if not (fold_limits and i == limits)]
    numeric = [n for n, i in enumerate(columns) if i in _NUMERIC]
    names = [row[0] for row in rows]
    if fold_names and width is not None:
        rest = _layout([tuple(row[i] for i in columns[1:]) for row in [_HEADER, *rows]], [])
        room = max(len("check"), width - max(len(line) for line in rest) - 2)
        names = [name if len(name) <= room else "" for name in names]
    table = [_HEADER] + [(name, *row[1:]) for name, row in zip(names, rows, strict=True)]
    laid = _layout([tuple(row[i] for i in columns) for row in table], numeric)
    out: list[Line] = [(laid[0], None)]
    for row, name, text in zip(rows, names, laid[1:], strict=True):
        if not name:
            out += [(line, None) for line in _wrap(row[0], width)]
        out.append((text, row[-1]))
        if fold_limits and row[limits] != "-":
            folded = _wrap(f"    limits: {row[limits]}", width, "      ")
            out += [(line, None) for line in folded]
    return out


def _wrap(text: str, width: int | None, indent: str = "      ") -> list[str]:
    """``text`` folded to ``width`` (at spaces where it can, else anywhere); indented after."""
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [
        text[:width]
    ]


def _sweep_lines(sweep: SweepResult) -> list[str]:
    table = [_SWEEP_HEADER, *sweep.rows()]
    return [f"{sweep.name}: {sweep.summary()}"] + [f"  {line}" for line in _layout(table, range(5))]


_SCALING_HEADER = ("size", "CPU/call", "count/call", "fitted")


def _scaling_lines(scaling: ScalingResult) -> list[str]:
    clock = "solo/call" if scaling.clock == "solo" else "CPU/call"
    table = [(scaling.arg, clock, *_SCALING_HEADER[2:]), *scaling.rows()]
    return [f"{scaling.name}: {scaling.summary()}"] + [
        f"  {line}" for line in _layout(table, range(4))
    ]


def _clock_lines(results: Sequence[object]) -> list[str]:
    """Per timing: its wall figure and the wait left out; what a hand-off made it miss."""
    lines = []
    for result in results:
        if isinstance(result, LoadResult) and result.waited is not None:
            lines.append(
                f"{result.name}: latencies on the wall clock; its threads waited for a CPU "
                f"{result.waited:.0%} of the time they were ready to run"
            )
        if isinstance(result, TimingResult) and result.handoff:
            lines.append(f"{result.name}: {result.handoff}")
        if not isinstance(result, TimingResult) or not result.wall_samples:
            continue
        wall = format_duration(statistics.median(result.wall_samples))
        line = f"{result.name}: median {format_duration(result.median)} {result.measure} time"
        line += f", {wall} wall"
        if result.waited is not None:
            line += f"; waited for a CPU: {result.waited:.0%} of its wall time"
        lines.append(line)
    return lines


def summary_lines(checks: Sequence[Check], width: int | None = None) -> list[Line]:
    """The summary; the table's lines are no wider than ``width`` (None: as wide as they come).

    The table drops its least needed columns first (min, max, mean, ops/s,
    p95), then puts limits, then check names, on lines of their own. The
    lines after it (notes, confirmations, totals) are folded (:func:`fold`):
    a long one goes on over indented lines. Rows of the table carry their
    status, so the caller can colour it.
    """
    lines = _table([row for check in checks for row in _rows(check)], width)
    counts = totals(checks)
    text: list[str] = []
    others = [r for c in checks for r in c.results if not isinstance(r, TimingResult)]
    for result in others:
        if isinstance(result, SweepResult):
            text.extend(_sweep_lines(result))
        elif isinstance(result, ScalingResult):
            text.extend(_scaling_lines(result))
        else:
            text.append(f"{result.name}: {result.summary()}")
    text.extend(_clock_lines([r for c in checks for r in c.results]))
    notes = [note for c in checks if c.verdict for note in c.verdict.notes]
    text.extend(f"note: {note}" for note in notes)
    uncompared = [line for c in checks if c.verdict for line in c.verdict.uncompared]
    text.extend(f"not compared: {line}" for line in uncompared)
    confirmed = [(c.name, c.confirmation) for c in checks if c.confirmation is not None]
    for name, confirmation in confirmed:
        text.extend(f"confirm: {line}" for line in confirmation.lines(name))
    if confirmed:
        spent = sum(confirmation.seconds for _, confirmation in confirmed)
        text.append(
            f"confirm: {len(confirmed)} suspected check(s) measured again, {spent:.1f} s "
            "confirming (--aide-confirm)"
        )
    if text:
        text.insert(0, "")  # the table ends at a blank line
    text.append("")
    text.append(
        f"checks: {counts['checks']}, passed: {counts['passed']}, failed: {counts['failed']}, "
        + (f"errors: {counts['errors']}, " if counts["errors"] else "")
        + (f"not compared: {counts['not_compared']}, " if counts["not_compared"] else "")
        + f"success rate: {100 * counts['success_rate']:.1f}%"
    )
    return lines + [(part, None) for line in text for part in fold(line, width)]


def fold(line: str, width: int | None) -> list[str]:
    """``line`` as it fits ``width``: whole, or wrapped onto lines indented under it.

    Wrapped at spaces where it can (a long path or figure is cut only when it
    alone is wider than the terminal); an empty line stays one empty line.
    """
    if width is None or len(line) <= width or not line.strip():
        return [line]
    lead = line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(
        line,
        width,
        subsequent_indent=lead + "    ",
        break_on_hyphens=False,
        drop_whitespace=True,
    ) or [line[:width]]


def render_summary(checks: Sequence[Check], width: int | None = None) -> list[str]:
    """Table rows, one per result, then totals and the success rate (see :func:`summary_lines`)."""
    return [text for text, _ in summary_lines(checks, width)]
