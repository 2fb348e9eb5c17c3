"""The ``pytest-aide`` console script: ``compare``, ``report``, ``history``, ``trend``, ``bisect``.

Exit codes: 0 fine, 1 something regressed (``compare``), 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_aide.baselines import atomic_write_text
from pytest_aide.bisect import Bisect, BisectError, Step, bisect, shown, toplevel
from pytest_aide.config import DEFAULT_TOLERANCE, non_negative_int
from pytest_aide.fileio import dumps
from pytest_aide.gate import COUNT_TOLERANCE
from pytest_aide.history import History, HistoryError
from pytest_aide.merging import add_merge_command
from pytest_aide.options import add_options
from pytest_aide.report.files import Outputs, write_plotly_beside
from pytest_aide.report.json import read_report
from pytest_aide.report.markdown import render_markdown
from pytest_aide.sides import (
    InputError,
    Side,
    compare_sides,
    figures,
    hit_rates,
    kinds,
    load_side,
    not_compared,
    old_runs,
    order_changes,
    row_json,
    tolerance_origin,
)
from pytest_aide.stats import DEFAULT_DRIFT
from pytest_aide.trend import add_trend_command
from pytest_aide.units import format_count, format_duration, format_size, hint
from pytest_aide.verdict import Comparison

__all__ = [
    "InputError",
    "Side",
    "compare_sides",
    "load_side",
    "main",
    "not_compared",
    "tolerance_origin",
]


def _table_rows(
    rows: list[tuple[str, Comparison]], old: Side, new: Side, given: bool
) -> list[tuple[str, ...]]:
    table = []
    for check_id, c in rows:
        label, change, before, after = figures(c, check_id, old, new)
        if c.measure != "time":
            unit = "cycles" if c.measure == "cycles" else "instr"
            shown = (format_count(before, unit), format_count(after, unit))
        else:
            runs = len(old_runs(c, check_id, old))
            shown = (format_duration(before) + (f" ({runs} runs)" if runs >= 2 else ""),)
            shown += (format_duration(after),)
        origin = tolerance_origin(old, new, check_id, given, c.measure)
        verdict = (c.undecided or c.status) + ("" if c.gating else " (info)")
        table.append(
            (
                label,
                *shown,
                f"{after / before:.3f}" if before > 0 else "-",
                change,
                f"{c.tolerance * 100:g} % ({origin})",
                verdict,
            )
        )
    return table


_HEADER = ("id", "old median", "new median", "new/old", "change [95 % CI]", "tolerance", "verdict")
"""A counted check's rows show its count per call under the median columns. ``new/old``
is the ratio of the two figures shown; the change is the comparison's estimate, on which
the verdict rests (robust to outliers, so it can differ from the ratio of medians)."""


def _render_text(table: list[tuple[str, ...]]) -> list[str]:
    everything = [_HEADER, *table]
    widths = [max(len(row[i]) for row in everything) for i in range(len(_HEADER))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in everything
    ]


def _render_md(table: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return lines


def _summary(rows: list[tuple[str, Comparison]], tolerance: float, own: int) -> str:
    kinds = ("regressed", "improved", "unchanged", "undecided")
    counts = {s: sum(1 for _, c in rows if c.gating and c.status == s) for s in kinds}
    undecided = f", {counts['undecided']} undecided" if counts["undecided"] else ""
    counted = any(c.measure != "time" for _, c in rows)
    of_counts = f", counts {COUNT_TOLERANCE * 100:g} %" if counted else ""
    mine = f"; {own} check(s) with a regression_max of their own" if own else ""
    return (
        f"{counts['regressed']} regressed, {counts['improved']} improved, "
        f"{counts['unchanged']} unchanged{undecided} "
        f"(tolerance {tolerance * 100:g} %{of_counts}{mine})"
    )


def _compare_command(args: argparse.Namespace) -> int:
    try:
        old, new = load_side(Path(args.old)), load_side(Path(args.new))
    except InputError as exc:
        print(f"pytest-aide compare: error: {exc}", file=sys.stderr)
        return 2
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    drift = DEFAULT_DRIFT if args.drift is None else args.drift
    rows = compare_sides(old, new, tolerance, drift)
    only_old = sorted(set(old.results) - set(new.results))
    only_new = sorted(set(new.results) - set(old.results))
    orders = order_changes(old, new)
    skipped = not_compared(old, new, rows, orders)
    given = args.tolerance is not None
    own = len({i for i, _ in rows if i in new.tolerances or i in old.tolerances})
    if args.format == "json":
        payload = {
            "tolerance": tolerance,
            "comparisons": [row_json(check_id, c, old, new, given) for check_id, c in rows],
            "only_old": only_old,
            "only_new": only_new,
            "not_compared": skipped,
            "cache_hit_rates": hit_rates(old, new),
            "orders": orders,
        }
        print(dumps(payload, indent=2, sort_keys=True))
    else:
        render = _render_md if args.format == "md" else _render_text
        lines = render(_table_rows(rows, old, new, given))
        prefix = "- " if args.format == "md" else ""
        lines += [""] + [f"{prefix}only in OLD: {i}{kinds(old, i)}" for i in only_old]
        lines += [f"{prefix}only in NEW: {i}{kinds(new, i)}" for i in only_new]
        lines += [f"{prefix}not compared: {i}: {why}" for i, why in skipped.items()]
        lines += [
            f"{prefix}cache hit rate: {h['id']}: {h['old']:.1%} -> {h['new']:.1%} "
            f"({(h['new'] - h['old']) * 100:+.1f} points; cache_hit_rate_min gates each run)"
            for h in hit_rates(old, new)
        ]
        lines += [
            f"{prefix}order of growth: {o['id']}: {o['old']} -> {o['new']} (exponent "
            f"{o['old_exponent']:.2f} -> {o['new_exponent']:.2f}, {o['basis']}): {o['status']}"
            for o in orders
        ]
        grew = sum(1 for o in orders if o["status"] == "regressed")
        summary = _summary(rows, tolerance, own)
        lines.append(
            f"{summary}; order of growth: {grew} of {len(orders)} grew" if orders else summary
        )
        print("\n".join(lines))
    grown = any(o["status"] == "regressed" for o in orders)
    return 1 if grown or any(c.gating and c.status == "regressed" for _, c in rows) else 0


def _report_command(args: argparse.Namespace) -> int:
    try:
        report = read_report(Path(args.file))
        points = []
        if args.history:
            points = History(Path(args.history)).points([c["id"] for c in report["checks"]])
        if args.format == "md":
            text = render_markdown(report)
        else:
            from pytest_aide.report.html import render_html  # plotly: only when asked for

            text = render_html(report, points, inline=args.output in (None, "-"))
    except (ValueError, KeyError, TypeError, HistoryError) as exc:
        problem = exc if isinstance(exc, (ValueError, HistoryError)) else f"bad report: {exc!r}"
        print(f"pytest-aide report: error: {problem}", file=sys.stderr)
        return 2
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    try:
        atomic_write_text(Path(args.output), text)
    except OSError as exc:
        print(f"pytest-aide report: error: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    if args.format == "html":
        outputs = Outputs()
        asset = write_plotly_beside(outputs, Path(args.output))
        if asset is not None:
            print(f"wrote {asset}")
        for problem in outputs.problems:
            print(f"pytest-aide report: error: {problem}", file=sys.stderr)
            return 2
    return 0


def _columns(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _history_command(args: argparse.Namespace) -> int:
    store = History(Path(args.path))
    try:
        if args.prune:
            return _prune(store, args.keep_runs, args.keep_days)
        if args.check:
            return _trend(store, args.check, args.limit)
        runs = store.runs(args.limit)
    except HistoryError as exc:
        print(f"pytest-aide history: error: {exc}", file=sys.stderr)
        return 2
    header = ("run", "created", "commit", "branch", "profile", "machine", "checks", "passed")
    header += ("failed",)
    _columns(
        [header]
        + [
            (
                str(r.id),
                r.created,
                (r.commit[:7] + ("+" if r.dirty else "")) if r.commit else "-",
                r.branch or "-",
                r.profile,
                r.machine,
                str(r.checks),
                str(r.passed),
                str(r.failed),
            )
            for r in runs
        ]
    )
    if not runs:
        print("(no runs recorded)")
    return 0


def _prune(store: History, keep_runs: int, keep_days: int) -> int:
    """``pytest-aide history --prune``: apply the retention rule, say what it removed."""
    if not store.path.is_file():
        raise HistoryError(f"{store.path}: no history yet (it is written by pytest --aide-perf)")
    done = store.prune(keep_runs, keep_days)
    print(
        f"pruned {done.removed:,} of {done.runs:,} runs (older than {keep_days} days, "
        f"beyond the newest {keep_runs:,}): {store.path} "
        f"{format_size(done.size_before)} -> {format_size(done.size_after)}"
    )
    return 0


def _trend(store: History, check: str, limit: int) -> int:
    """A check's figures run by run, oldest first: ``pytest-aide history CHECK``."""
    runs = {r.id: r for r in store.runs(limit=1_000_000)}
    points = [p for p in store.points([check], limit=limit) if p.check_id == check]
    if not points:
        known = store.check_ids()
        print(
            f"pytest-aide history: error: {store.path}: no run recorded {check!r} "
            f"({hint(check, known) if known else 'no checks recorded'})",
            file=sys.stderr,
        )
        return 2
    header = ("run", "created", "commit", "branch", "result", "figure", "status")
    rows = [header]
    for point in points:
        run = runs.get(point.run)
        if point.count is not None:
            figure = f"{format_count(point.count)} per call"
        elif point.kind == "load" and point.p95 is not None:
            figure = f"p95 {format_duration(point.p95)}"
        elif point.median is not None:
            figure = f"median {format_duration(point.median)}"
        elif point.memory_peak is not None:
            figure = f"peak {format_size(point.memory_peak)}"
        else:
            figure = "-"
        commit = (run.commit[:7] + ("+" if run.dirty else "")) if run and run.commit else "-"
        rows.append(
            (
                str(point.run),
                point.created,
                commit,
                (run.branch if run else None) or "-",
                point.result,
                figure,
                point.status,
            )
        )
    print(check)
    _columns(rows)
    return 0


def _bisect_command(args: argparse.Namespace) -> int:
    select = ["-k", args.k] if args.k else [args.check]
    measure = args.measure
    if measure == "auto":
        measure = "instructions" if shutil.which("valgrind") else "time"

    def show(step: Step) -> None:
        verdict = "regressed" if step.regressed else "unchanged"
        on = shown(step.measure)
        print(f"  {step.commit[:7]} {step.subject[:50]!r}: {verdict} {step.change} on {on}")
        sys.stdout.flush()

    try:
        rootdir = Path(args.rootdir).resolve()
        search = Bisect(toplevel(rootdir), rootdir, args.good, select, measure, args.tolerance)
        search.pytest_args = list(args.pytest_args)
        print(
            f"bisect {args.good}..{args.bad} on {shown(measure)}, "
            "each commit beside GOOD in the same job:"
        )
        found, steps = bisect(search, args.bad, show)
    except BisectError as exc:
        print(f"pytest-aide bisect: {exc}", file=sys.stderr)
        return 1 if "nothing to bisect" in str(exc) else 2
    print(
        f"first regressed commit: {found.commit[:7]} {found.subject!r}: {found.change} on "
        f"{shown(found.measure)} against {args.good} ({len(steps)} commits measured)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pytest-aide`` command."""
    parser = argparse.ArgumentParser(
        prog="pytest-aide",
        description="pytest-aide's companion: compare two runs, render a report again, "
        "list the run history.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    comparing = commands.add_parser(
        "compare",
        help="compare two runs: report files, baseline files or baseline directories",
        description="Compare two runs check by check. OLD and NEW are each a pytest-aide "
        "report.json, a pytest-benchmark JSON file (--benchmark-json), a baseline file or "
        "a directory of baseline files.",
        epilog="exit codes: 0 nothing regressed, 1 something regressed, "
        "2 bad input (a missing, unreadable or unknown file)",
    )
    comparing.add_argument("old", metavar="OLD", help="report.json, baseline file or directory")
    comparing.add_argument("new", metavar="NEW", help="report.json, baseline file or directory")
    add_options(comparing.add_argument, compare_only=True)
    comparing.add_argument(
        "--format",
        choices=("text", "md", "json"),
        default="text",
        help="text for a terminal, md for a pull-request comment, json for tools "
        "(default: %(default)s)",
    )
    comparing.set_defaults(run=_compare_command)
    _add_report_and_history(commands)
    add_trend_command(commands)
    add_merge_command(commands)
    _add_bisect(commands)
    return parser


def _add_report_and_history(commands: Any) -> None:
    """The ``report`` and ``history`` subcommands."""
    rendering = commands.add_parser(
        "report", help="render a report.json again as Markdown or HTML, without rerunning"
    )
    rendering.add_argument("file", metavar="FILE", help="a report.json")
    rendering.add_argument(
        "--format", choices=("md", "html"), default="md", help="output (default: %(default)s)"
    )
    rendering.add_argument("-o", "--output", help="write here instead of standard output")
    rendering.add_argument("--history", metavar="PATH", help="history file for the HTML trends")
    rendering.set_defaults(run=_report_command)
    listing = commands.add_parser(
        "history",
        help="list the runs in a history file, or one check's trend",
        description="Without CHECK: the runs, newest first, with their commit and branch. "
        "With CHECK (a node id, as in report.json): its figures run by run, oldest first.",
    )
    listing.add_argument("check", metavar="CHECK", nargs="?", help="a check's node id")
    listing.add_argument(
        "--path", default=".aide/history.sqlite", help="history file (default: %(default)s)"
    )
    listing.add_argument("--limit", type=int, default=20, help="newest runs to list")
    pruning = listing.add_argument_group("pruning")
    pruning.add_argument(
        "--prune",
        action="store_true",
        help="remove the runs older than --keep-days beyond the newest --keep-runs (the "
        "newest run of each branch stays), and shrink the file",
    )
    pruning.add_argument(
        "--keep-runs",
        type=non_negative_int,
        default=1000,
        metavar="N",
        help="(default: %(default)s)",
    )
    pruning.add_argument(
        "--keep-days",
        type=non_negative_int,
        default=365,
        metavar="DAYS",
        help="(default: %(default)s)",
    )
    listing.set_defaults(run=_history_command)


def _add_bisect(commands: Any) -> None:
    """The ``bisect`` subcommand."""
    bisecting = commands.add_parser(
        "bisect",
        help="find the first commit between GOOD and BAD at which a check regressed",
        description="Check out commits between GOOD and BAD in temporary worktrees (your "
        "checkout is never touched) and measure the check on each beside GOOD in the same "
        "job, on instruction counts when valgrind is installed, else on paired wall time; "
        "a binary search names the first commit whose change exceeds the tolerance.",
        epilog="pytest's own options for every measuring session go after --, e.g. "
        "-- -o addopts= -p no:cov. exit codes: 0 found, 1 BAD did not regress, 2 bad input "
        "(an unknown revision, GOOD not an ancestor of BAD, the check missing at a commit)",
    )
    bisecting.add_argument("good", metavar="GOOD", help="a commit where the check was fine")
    bisecting.add_argument("bad", metavar="BAD", help="a later commit where it regressed")
    which = bisecting.add_mutually_exclusive_group(required=True)
    which.add_argument("-k", metavar="EXPR", help="pytest -k expression selecting one check")
    which.add_argument("--check", metavar="NODEID", help="the check's node id")
    bisecting.add_argument(
        "--measure",
        choices=("auto", "instructions", "time"),
        default="auto",
        help="instructions (valgrind) or paired wall time (default: %(default)s: instructions "
        "when valgrind is installed)",
    )
    bisecting.add_argument(
        "--tolerance", metavar="PCT", help="change that counts as a regression, e.g. 5%%"
    )
    bisecting.add_argument(
        "--rootdir", default=".", help="where pytest runs, in your checkout (default: .)"
    )
    bisecting.set_defaults(run=_bisect_command, pytest_args=[])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pytest-aide`` command; returns the exit code."""
    given = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if "--" in given:  # pytest's own options, for the sessions bisect runs
        given, passed = given[: given.index("--")], given[given.index("--") + 1 :]
    args = build_parser().parse_args(given)
    if passed and getattr(args, "run", None) is not _bisect_command:
        build_parser().error("options after -- are taken by bisect only")
    args.pytest_args = passed
    try:
        code = int(args.run(args))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (``| head``) has gone: stop quietly, as a shell tool does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


def _version() -> str:
    try:
        return importlib.metadata.version("pytest-aide")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
