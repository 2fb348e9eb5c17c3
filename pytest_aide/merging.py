"""``pytest-aide merge DIR...``: the shards' reports joined into one report set and one exit code.

Each DIR is a shard's report directory (holding ``report.json``) or the file
itself. The merged ``report.json``, ``report.md`` and ``report.html`` go to
``--output``; with ``--history`` the merged run is appended to that history
(shards do not append themselves). Exit codes: 0 every check passed, 1 a
check's test failed or errored, as in the shard's own run, 2 the shards cannot be one
run (one line says why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_aide.report.files import write_outputs
from pytest_aide.report.json import read_report
from pytest_aide.report.markdown import needs_attention
from pytest_aide.shards import ShardError, merge

__all__ = ["add_merge_command"]


def add_merge_command(commands: Any) -> None:
    """Add ``merge`` to the console script's subcommands (argparse's ``add_subparsers``)."""
    merging = commands.add_parser(
        "merge",
        help="join the reports of a suite's shards (--aide-shard K/N) into one verdict",
        description="Read each shard's report.json, refuse shards that are not one run (a "
        "shard missing or twice, different commits, measures, profiles or machine types), "
        "and write one report set.",
        epilog="exit codes: 0 every check passed, 1 a check failed, had an error or was not "
        "compared, 2 the shards cannot be merged",
    )
    merging.add_argument(
        "reports", metavar="DIR", nargs="+", help="a shard's report directory or report.json"
    )
    merging.add_argument(
        "--output",
        default=".aide-merged",
        help="where the merged reports go (default: %(default)s)",
    )
    merging.add_argument("--history", metavar="PATH", help="append the merged run to this history")
    merging.set_defaults(run=_merge_command)


def _merge_command(args: argparse.Namespace) -> int:
    try:
        shards = []
        for given in args.reports:
            path = Path(given)
            path = path / "report.json" if path.is_dir() else path
            shards.append((str(given), read_report(path)))
        report = merge(shards)
    except (ValueError, ShardError) as exc:
        print(f"pytest-aide merge: error: {exc}", file=sys.stderr)
        return 2
    history = Path(args.history) if args.history else None
    outputs = write_outputs(report, Path(args.output), history=history)
    for problem in outputs.problems:
        print(f"pytest-aide merge: error: {problem}", file=sys.stderr)
    totals = report["totals"]
    commit = report.get("commit") or "an uncommitted tree"
    print(
        f"merged {report['shard']['merged']} shards of {commit}: {totals['checks']} checks, "
        f"{totals['passed']} passed, {totals['failed']} failed, {totals['errors']} errors, "
        f"{totals['not_compared']} not compared"
    )
    for check in report["checks"]:
        if needs_attention(check):
            for line in check.get("failures") or [f"{check['id']}: {check['status']}"]:
                print(f"  {line}")
    for path in outputs.written:
        print(f"wrote {path}")
    # As pytest's exit code: a check whose test failed or errored (a NOT COMPARED one
    # failed its test unless the shard ran with --aide-uncompared warn).
    failing = [c for c in report["checks"] if c.get("outcome") in ("failed", "error")]
    return 1 if failing or outputs.problems else 0
