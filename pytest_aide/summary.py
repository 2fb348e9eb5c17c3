"""The terminal summary: the aide section pytest prints at the end of a session.

:class:`TerminalSummary` is registered beside the session object, as pytest's
own ``TerminalReporter`` is: it reads the session's checks and state and
writes lines; the table itself is laid out by :mod:`pytest_aide.report.terminal`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest

from pytest_aide.config import display_path
from pytest_aide.measure.system import busy_warning
from pytest_aide.report.terminal import fold, summary_lines
from pytest_aide.results import CountResult
from pytest_aide.sharding import SHARDING_NAME
from pytest_aide.suites import KINDS

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["SUMMARY_NAME", "TerminalSummary"]

SUMMARY_NAME = "aide-terminal-summary"

_STATUS_MARKUP: dict[str, dict[str, bool]] = {
    "PASS": {"green": True},
    "IMPROVED": {"green": True},
    "FAIL": {"red": True, "bold": True},
    "REGRESSED": {"red": True, "bold": True},
    "NOT COMPARED": {"red": True, "bold": True},
    "ERROR": {"red": True, "bold": True},
    "SKIP": {"yellow": True},
}
"""How the summary colours a status where the terminal shows colour (pytest's markup)."""
_CLOCKS = {
    "wall": "wall (the wall clock)",
    "solo": "solo (wall time minus run-queue wait)",
    "cpu": "cpu (the thread's CPU time)",
}
"""How the summary's header names the clocks the timings were read on."""

Line = tuple[str, bool]
"""A summary line and whether it is a warning (shown yellow)."""


class TerminalSummary:
    """Writes the aide performance summary: header, one row per check, then the notes."""

    def __init__(self, session: AideSession) -> None:
        self.session = session

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print the warnings, then one row per measured check, totals and the notes."""
        session = self.session
        if session.refused:
            return
        self._write(terminalreporter, _warnings(session))
        if not session.settings.perf or not session.checks:
            return
        terminalreporter.write_sep("=", "aide performance summary")
        self._write(terminalreporter, _header(session))
        width = session.config.get_terminal_writer().fullwidth
        for line, status in summary_lines(session.checks, width):
            if status is None or not line.endswith(status):
                terminalreporter.write_line(line)
                continue
            terminalreporter.write(line[: -len(status)])
            terminalreporter.write_line(status, **_STATUS_MARKUP.get(status, {}))
        self._write(terminalreporter, _footer(session))

    def _write(self, terminalreporter: pytest.TerminalReporter, lines: list[Line]) -> None:
        """Write lines folded to the terminal's width (:func:`~terminal.fold`)."""
        width = self.session.config.get_terminal_writer().fullwidth
        for line, warning in lines:
            for part in fold(line, width):
                terminalreporter.write_line(part, **({"yellow": True} if warning else {}))


def _warnings(session: AideSession) -> list[Line]:
    """Before the table: unmatched patterns, a missing benchmark plugin, nothing measured."""
    if not session.settings.perf or session.workerinput is not None:
        return []
    lines = [(f"warning: {line}", True) for line in session.pattern_warnings]
    lines += [(f"warning: {line}", True) for line in _missing_benchmark(session)]
    if not session.checks and not session.config.option.collectonly:
        lines.append((_nothing_measured(session), True))
    return lines


def _missing_benchmark(session: AideSession) -> list[str]:
    """The line saying no installed plugin provides the ``benchmark`` fixture, if so."""
    plugins = session.config.pluginmanager
    if not session.benchmark_tests or any(
        plugins.has_plugin(name) for name in ("benchmark", "codspeed")
    ):
        return []
    return [
        f"{session.benchmark_tests} test(s) use the benchmark fixture, which neither "
        "pytest-benchmark nor pytest-codspeed is installed to provide: "
        "pip install 'pytest-aide[benchmark]'"
    ]


def _nothing_measured(session: AideSession) -> str:
    """The one line that says ``--aide-perf`` found nothing to measure, and what to do."""
    dirs = ", ".join(session.settings.scenario_dirs)
    line = (
        "aide: --aide-perf measured nothing: no scenario files under "
        f"{dirs}, and no test is marked @pytest.mark.aide or @pytest.mark.benchmark "
        "or uses an aide or benchmark fixture"
    )
    if session.opted_out:
        line += f" ({session.opted_out} such test(s) left out by 'aide = false' patterns)"
    return line


def _header(session: AideSession) -> list[Line]:
    """Profile, machine, what was compared, the clocks, the suite's shapes, the pairing."""
    settings, gate = session.settings, session.gate
    against = f"; against: {gate.against} (same job)" if gate.against else ""
    if session.stored_run is not None:
        against = f"; against: {session.stored_run.label}"
    source = "" if settings.profile_source == "default" else f" ({settings.profile_source})"
    lines = [(f"profile: {settings.profile}{source}; machine: {gate.slug}{against}", False)]
    checks = session.checks
    clocks = sorted({t.measure for c in checks for t in c.timings if t.mode == "perf"})
    if clocks:
        lines.append((f"measure: {', '.join(_CLOCKS[c] for c in clocks)}", False))
    kinds = Counter(c.declared for c in checks if c.declared)
    if kinds:
        found = ", ".join(f"{kinds[k]} {shape}" for k, shape in KINDS.items() if kinds[k])
        lines.append((f"benchmarks as the suite wrote them: {found}", False))
    if clocks and session.wall_because and settings.measure is None:
        why = session.wall_because
        lines.append(
            (
                "wall time, not solo time: this system does not report a thread's "
                f"run-queue wait ({why})",
                True,
            )
        )
    sharding = session.config.pluginmanager.get_plugin(SHARDING_NAME)
    if sharding is not None and sharding.of:
        index, count = session.settings.shard
        lines.append(
            (
                f"shard {index}/{count}: {sharding.kept} of {sharding.of} test(s), balanced on "
                f"{sharding.balanced_on}; pytest-aide merge joins the shards' reports",
                False,
            )
        )
    cached = session.counting_against.cached
    if cached and session.revision is not None:
        lines.append(
            (
                f"counts of {session.revision.label}: {len(cached)} check(s) read from the count "
                "cache, counted there before by this interpreter, valgrind and packages "
                "(--aide-count-cache none counts them again)",
                False,
            )
        )
    if session.paired_items:
        pairs, paired = session.pairs, session.paired_items
        lines.append(
            (
                f"same-job pairing: {paired} check(s) run in both trees, {pairs.rounds} rounds "
                f"of fresh workers, {pairs.elapsed:.1f} s ({pairs.elapsed / paired:.1f} s per "
                "check)",
                False,
            )
        )
    return lines


def _footer(session: AideSession) -> list[Line]:
    """After the table: the machine's load, crashed workers, kept traces, what was written."""
    lines = [
        (
            f"system at {moment}: other processes' cpu {snap['cpu_percent']:.0f}%, memory "
            f"{snap['memory_percent']:.0f}%, disk {snap['disk_percent']:.0f}%, "
            f"load {snap['load_1min']:.2f} on {snap['cpus']:.0f} cpus",
            False,
        )
        for moment, snap in session.snapshots.items()
    ]
    warning = busy_warning(session.snapshots.get("start", {}))
    if warning:
        lines.append((f"warning: {warning}", True))
    lines += [(f"warning: {c}: the checks it had finished are kept", True) for c in session.crashed]
    if session.workers:
        cores = session.gate.machine.get("cores", "?")
        lines.append(
            (
                f"warning: measured in {session.workers} pytest-xdist workers sharing {cores} "
                "cores: timings are noisier than in a serial run; gate on baselines recorded "
                "the same way, or run without -n",
                True,
            )
        )
    return lines + _kept(session) + _written(session)


def _kept(session: AideSession) -> list[Line]:
    """The trace files kept, and how to read them."""
    lines = []
    for result in (r for c in session.checks for r in c.results):
        trace = getattr(result, "trace_path", None)
        if trace and isinstance(result, CountResult):
            tools = f"callgrind_annotate {trace}, or KCachegrind"
            lines.append((f"callgrind output kept: {trace} ({tools})", False))
        elif trace:
            lines.append((f"memray trace kept: {trace} (memray flamegraph {trace})", False))
    return lines


def _written(session: AideSession) -> list[Line]:
    """The baselines saved and the reports written (or why one was not)."""
    lines = []
    root = session.config.rootpath
    saved = [c.saved_baseline for c in session.checks if c.saved_baseline]
    if saved:
        where = display_path(session.settings.baseline_dir / session.gate.slug, root)
        lines.append((f"saved {len(saved)} baseline(s) under {where}", False))
    if session.outputs is not None:
        shown = [display_path(p, root) for p in session.outputs.written]
        if shown:
            lines.append((f"reports: {', '.join(shown)}", False))
        lines += [(f"warning: {problem}", True) for problem in session.outputs.problems]
    return lines
