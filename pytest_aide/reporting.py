"""The reports of a run: report.json, the history and the other outputs (``--aide-perf``).

:class:`Reports` snapshots the machine before the tests and writes the reports
at the session's end; :func:`write_reports` also serves a session that must end
early (a check stuck past its timeout).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_aide.baselines import code_branch
from pytest_aide.config import display_path
from pytest_aide.report.files import write_outputs
from pytest_aide.report.json import build_report
from pytest_aide.sharding import SHARDING_NAME

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["REPORTS_NAME", "Reports", "write_reports"]

REPORTS_NAME = "aide-reports"


class Reports:
    """Snapshots the machine before measuring; writes the reports at the end."""

    def __init__(self, session: AideSession) -> None:
        self.session = session

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Snapshot the machine before measuring (an xdist worker leaves it to the controller)."""
        if self.session.workerinput is None:
            self.session.snapshots["start"] = self.session.snapshot()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the reports and append the run to the history."""
        aide = self.session
        # A worker's checks went to the controller; a shard reports even with none, as
        # pytest-aide merge needs every shard.
        shard = session.config.pluginmanager.has_plugin(SHARDING_NAME)
        if (aide.checks or shard) and aide.workerinput is None:
            write_reports(aide)


def write_reports(session: AideSession, shown_from: Path | None = None) -> list[str]:
    """Write report.json, the history and the other outputs; the files, as shown."""
    session.snapshots["end"] = session.snapshot()
    settings, rootdir = session.settings, session.config.rootpath
    report = build_report(session.checks, profile=settings.profile, machine=session.gate.machine)
    report["system"] = session.snapshots
    report["slug"] = session.gate.slug
    report["xdist_workers"] = session.workers
    commit, dirty = session.source
    report["commit"], report["dirty"] = commit, dirty if commit else None
    report["branch"] = code_branch(rootdir) if commit else None
    if session.stored_run is not None:
        report["compared_with"] = session.stored_run.label
    if session.crashed:
        report["crashed_workers"] = session.crashed
    revision = session.revision
    if revision is not None:
        report["against"] = {
            "revision": revision.label,
            "commit": revision.commit,
            "paired_checks": session.paired_items,
            "rounds": session.pairs.rounds,
            "seconds": round(session.pairs.elapsed, 3),
        }
    report["measure"] = settings.measure or "default"
    history: Path | None = settings.history_file
    sharding = session.config.pluginmanager.get_plugin(SHARDING_NAME)
    if sharding is not None:  # a part of a run: pytest-aide merge --history appends the whole
        report["shard"], history = sharding.describe(), None
    report["history"] = display_path(history, rootdir) if history is not None else None
    session.outputs = write_outputs(
        report,
        settings.report_dir,
        history=history,
        benchmark_json=settings.benchmark_json,
        keep_samples=settings.history_keep_samples,
    )
    return [display_path(p, shown_from or rootdir) for p in session.outputs.written]
