"""``pytest-aide trend``: the change points in each check's series of runs.

A series is one result of one check on one measure, run after run: the
median (a load's p95) or the count per call. :mod:`pytest_aide.changes`
finds where it stepped; this module groups the history's points into
series, names each change point's commit range, and decides whether the
latest step of a series is a slowdown to fail on. Knows nothing of pytest.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from pytest_aide.changes import ChangePoint, change_points
from pytest_aide.config import DEFAULT_TOLERANCE, parse_tolerance
from pytest_aide.gate import COUNT_TOLERANCE
from pytest_aide.history import History, HistoryError, Run
from pytest_aide.units import format_count, format_duration, format_size, hint

__all__ = ["Change", "Series", "add_trend_command", "changes", "series_of"]

MEASURE_NAMES = {
    "solo": "solo time",
    "wall": "wall time",
    "cpu": "CPU time",
    "instructions": "instructions",
    "cycles": "estimated cycles",
}


@dataclass(frozen=True)
class Series:
    """One result of one check on one measure, oldest run first."""

    check_id: str
    result: str
    kind: str
    measure: str
    runs: list[Run]
    values: list[float]

    @property
    def counted(self) -> bool:
        """A count per call (instructions, cycles), not a time."""
        return self.kind == "count"

    def label(self) -> str:
        """``median solo time per run`` and the like."""
        what = MEASURE_NAMES.get(self.measure, self.measure)
        if self.counted:
            return f"{what} per call, per run"
        if self.kind in ("load", "sweep"):
            return "p95 latency per run"
        if self.kind == "memory":
            return "peak memory per run"
        return f"median {what} per run"

    def shown(self, value: float) -> str:
        """A figure of this series, in its unit."""
        if self.counted:
            return format_count(value, "cycles" if self.measure == "cycles" else "instr")
        if self.kind == "memory":
            return format_size(value)
        return format_duration(value)


def series_of(store: History, allowed: Mapping[int, Run]) -> list[Series]:
    """The history's series over the runs ``allowed`` (by id), in their checks' order."""
    return [
        Series(*key, [allowed[run] for run in runs], values)
        for key, (runs, values) in store.series(set(allowed)).items()
    ]


@dataclass(frozen=True)
class Change:
    """A change point of a series, with the runs on either side of it."""

    series: Series
    point: ChangePoint

    @property
    def before(self) -> Run:
        """The last run at the old level."""
        return self.series.runs[self.point.index - 1]

    @property
    def after(self) -> Run:
        """The first run at the new level."""
        return self.series.runs[self.point.index]

    def slower_beyond(self, tolerance: float) -> bool:
        """A slowdown surely larger than ``tolerance`` (a fraction): its interval says so."""
        return self.point.size.ratio - 1 > tolerance and self.point.size.low > 1

    def line(self) -> str:
        """``+12.3 % (95 % CI +9.8 % to +14.1 %) from run #41 5d6e7f8 ...``."""
        size = self.point.size
        sure = self.point.p_value
        how = "p < 0.001" if sure < 0.001 else f"p = {sure:.3f}"
        return (
            f"{_percent(size.ratio)} ({size.confidence:.0%} CI {_percent(size.low)} to "
            f"{_percent(size.high)}) from {_run(self.after)}, after {_run(self.before)}: "
            f"{self.series.shown(_level(self.series, self.point.index, before=True))} -> "
            f"{self.series.shown(_level(self.series, self.point.index, before=False))}; {how}"
        )


def _percent(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f} %"


def _run(run: Run) -> str:
    commit = f" {run.commit[:7]}" if run.commit else ""
    return f"run #{run.id}{commit} ({run.created[:10]})"


def _level(series: Series, index: int, before: bool) -> float:
    values = series.values[max(0, index - 5) : index] if before else series.values[index:][:5]
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def changes(series: Sequence[Series], min_change: float = 0.0) -> list[Change]:
    """Every change point of every series, series by series, oldest first."""
    return [
        Change(one, point)
        for one in series
        for point in change_points(one.values, min_change=min_change)
    ]


def _trend_runs(store: History, args: argparse.Namespace) -> dict[int, Run]:
    """The runs ``pytest-aide trend`` looks at, by id: its branch, from ``--since`` on."""
    runs = store.runs(limit=sys.maxsize)[::-1]
    first = 0
    if args.since and not re.fullmatch(r"\d{4}-\d\d-\d\d.*", args.since):
        first = store.find_run(args.since).id
    return {
        r.id: r
        for r in runs
        if r.id >= first
        and (not args.since or first or r.created >= args.since)
        and (args.branch is None or r.branch == args.branch)
    }


def _chosen(
    series: list[Series], patterns: list[str], known: list[str], path: Path
) -> list[Series]:
    """The series of the checks ``patterns`` name (every one, without patterns)."""
    for pattern in patterns:
        if not any(fnmatch(c, pattern) for c in known):
            raise HistoryError(
                f"{path}: no run recorded {pattern!r} "
                f"({hint(pattern, known) if known else 'no checks recorded'})"
            )
    if not patterns:
        return series
    return [s for s in series if any(fnmatch(s.check_id, p) for p in patterns)]


def _trend_command(args: argparse.Namespace) -> int:
    store = History(Path(args.path))
    try:
        runs = _trend_runs(store, args)
        series = _chosen(series_of(store, runs), args.checks, store.check_ids(), store.path)
    except HistoryError as exc:
        print(f"pytest-aide trend: error: {exc}", file=sys.stderr)
        return 2
    found = changes(series)
    on = f" on {args.branch}" if args.branch else ""
    print(
        f"trend of {len(series)} series ({len({s.check_id for s in series})} checks, "
        f"{len({r.id for s in series for r in s.runs})} runs{on}) in {store.path}:"
    )
    for one in series:
        mine = [c for c in found if c.series is one]
        if mine:
            print(f"{one.check_id} ({one.result}): {one.label()}")
            for change in mine:
                print(f"  {change.line()}")
    quiet = len(series) - len({id(c.series) for c in found})
    print(f"no change point in {quiet} series" if found else "no change point in any series")
    failed = 0
    for one in series:
        latest = [c for c in found if c.series is one][-1:]
        limit = args.tolerance
        if limit is None:
            limit = COUNT_TOLERANCE if one.counted else DEFAULT_TOLERANCE
        if args.fail_on_change and latest and latest[0].slower_beyond(limit):
            failed += 1
            print(
                f"FAILED: {one.check_id} ({one.result}): its latest change point is a slowdown "
                f"beyond {limit:.0%}: {latest[0].line()}"
            )
    return 1 if failed else 0


def add_trend_command(commands: Any) -> None:
    """Add ``trend`` to the console script's subcommands (argparse's ``add_subparsers``)."""
    trend = commands.add_parser(
        "trend",
        help="find the change points in each check's series of runs in the history",
        description="Each check's figure run by run (the median on its measure, a load's "
        "p95, a count per call) is searched for change points: where its level stepped, "
        "with the commits on either side, the size and its 95 %% interval, and how sure.",
        epilog="exit codes: 0 fine, 1 --fail-on-change and a series' latest change point "
        "is a slowdown beyond the tolerance, 2 bad input",
    )
    trend.add_argument(
        "checks", metavar="CHECK", nargs="*", help="node ids or glob patterns (default: all)"
    )
    trend.add_argument(
        "--path", default=".aide/history.sqlite", help="history file (default: %(default)s)"
    )
    trend.add_argument("--branch", metavar="B", help="only the runs of this branch")
    trend.add_argument(
        "--since", metavar="WHEN", help="from this date (2026-11-01), run number or commit on"
    )
    trend.add_argument(
        "--fail-on-change",
        action="store_true",
        help="exit 1 when a series' latest change point is a slowdown beyond the tolerance",
    )
    trend.add_argument(
        "--tolerance",
        type=parse_tolerance,
        metavar="PCT",
        help=f"allowed slowdown (default: {DEFAULT_TOLERANCE * 100:.0f} %% for times, "
        f"{COUNT_TOLERANCE * 100:.0f} %% for counts)",
    )
    trend.set_defaults(run=_trend_command)
