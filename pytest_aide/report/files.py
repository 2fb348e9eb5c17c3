"""Writing the session's reports: JSON, Markdown, HTML, history, job summary.

Each output is independent: one that cannot be written becomes a one-line
problem and the others are still written. Files are replaced atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.baselines import atomic_write_text, write_problem
from pytest_aide.fileio import dumps
from pytest_aide.history import DEFAULT_KEEP_SAMPLES, History, HistoryError, Point
from pytest_aide.report.benchmark_json import to_benchmark_json
from pytest_aide.report.json import dump_report
from pytest_aide.report.markdown import render_markdown

__all__ = ["Outputs", "write_outputs", "write_plotly_beside"]


@dataclass
class Outputs:
    """What was written where, and what could not be."""

    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def write_plotly_beside(outputs: Outputs, page: Path) -> Path | None:
    """Write the plotly.js file ``page`` loads into its directory, unless it is there.

    Returns the file written, if one was; a failure is one of ``outputs.problems``.
    The file is support for the page, so it is not one of ``outputs.written``.
    """
    from pytest_aide.report.html import plotly_asset

    name, text = plotly_asset()
    asset = page.parent / name
    try:
        if asset.is_file() and asset.stat().st_size == len(text.encode()):
            return None
    except OSError:
        pass
    try:
        atomic_write_text(asset, text)
    except OSError as exc:
        outputs.problems.append(f"cannot write {asset}: {write_problem(asset, exc)}")
        return None
    return asset


def _write(outputs: Outputs, path: Path, render: Any) -> None:
    try:
        atomic_write_text(path, render())
    except OSError as exc:
        outputs.problems.append(f"cannot write {path}: {write_problem(path, exc)}")
    else:
        outputs.written.append(path)


def write_outputs(
    report: dict[str, Any],
    report_dir: Path,
    *,
    history: Path | None,
    benchmark_json: Path | None = None,
    step_summary: str | None = None,
    keep_samples: int = DEFAULT_KEEP_SAMPLES,
) -> Outputs:
    """Write every report for ``report``; ``history=None`` keeps no history.

    ``keep_samples``: the newest runs whose results keep every sample in the history.
    """
    outputs = Outputs()
    _write(outputs, report_dir / "report.json", lambda: dump_report(report))
    points: list[Point] = []
    if history is not None:
        store = History(history, keep_samples=keep_samples)
        try:
            store.append(report, str(report.get("slug", "")))
            points = store.points([check["id"] for check in report["checks"]])
        except HistoryError as exc:
            outputs.problems.append(f"history: {exc}")
        else:
            outputs.written.append(history)
    # plotly is imported here, at session end, not with the plugin: importing it
    # costs ~0.2 s and grows the heap that every measured gc.collect() walks.
    from pytest_aide.report.html import render_html

    markdown = render_markdown(report)
    _write(outputs, report_dir / "report.md", lambda: markdown)
    _write(outputs, report_dir / "report.html", lambda: render_html(report, points))
    if report_dir / "report.html" in outputs.written:
        write_plotly_beside(outputs, report_dir / "report.html")
    if benchmark_json is not None:
        _write(
            outputs,
            benchmark_json,
            lambda: dumps(to_benchmark_json(report), indent=2, sort_keys=True) + "\n",
        )
    summary = step_summary if step_summary is not None else os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as file:
                file.write(markdown)
        except OSError as exc:
            outputs.problems.append(f"cannot append to $GITHUB_STEP_SUMMARY {summary}: {exc}")
    return outputs
