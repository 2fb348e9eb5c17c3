"""Measuring and judging checks: always registered.

:class:`Judging` validates a test's ``aide`` marker before it runs (in both
modes), takes pytest-benchmark's rounds into the check after its call, and
turns the check's verdict into the test's outcome (``--aide-perf``). The
stages registered for this run (counting, pairing, explaining; see
:data:`STAGES`) give the check their evidence just before the verdict and
may add to it after.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import TYPE_CHECKING, NoReturn, Protocol

import pytest

from pytest_aide.check import Check
from pytest_aide.config import opted_out
from pytest_aide.counting_stage import counted
from pytest_aide.marks import (
    CACHES_KEY,
    DATABASES_KEY,
    RETRY_KEY,
    TIMEOUT_KEY,
    benchmark_disabled,
    benchmark_timing,
    marker_limits,
    own_marker,
)
from pytest_aide.measure import solo
from pytest_aide.measure.counts import CountError, find_valgrind
from pytest_aide.measure.deadline import CheckTimeout
from pytest_aide.suites import declared
from pytest_aide.timelimits import fail_timed_out, timed_out_line
from pytest_aide.verdict import Evidence, ThresholdError, Verdict, decide

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["JUDGING_NAME", "STAGES", "Judging", "Stage", "adopt"]

JUDGING_NAME = "aide-judging"
STAGES = ("aide-counting", "aide-pairing", "aide-explaining")
"""The plugin names of the stages consulted around a verdict, in this order."""
_ADOPTED_KEY = pytest.StashKey[bool]()


class Stage(Protocol):
    """A stage that gives a check evidence before its verdict, or adds to it after."""

    def before_verdict(self, item: pytest.Item, check: Check) -> None:
        """Add to ``check`` what the verdict rests on."""

    def after_verdict(self, item: pytest.Item, check: Check, verdict: Verdict) -> None:
        """Add to ``check`` what explains ``verdict``."""


def adopt(session: AideSession, item: pytest.Item, check: Check) -> None:
    """Take pytest-benchmark's rounds of this test into its check."""
    adopted = benchmark_timing(item, check.next_result_name())
    if adopted is not None:
        if adopted.wall_samples and session.timing_measure(item) == "wall":
            adopted = dataclasses.replace(
                adopted, samples=adopted.wall_samples, measure="wall", wall_samples=None
            )
        check.results.append(adopted)
    item.stash[_ADOPTED_KEY] = adopted is not None


class Judging:
    """Creates each test's check, takes in what it measured and judges it."""

    def __init__(self, session: AideSession) -> None:
        self.session = session

    @pytest.hookimpl(optionalhook=True)
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Validate the ``aide`` marker in both modes; a bad one errors the test."""
        session = self.session
        marker = own_marker(item)
        configured = session.configured(item)
        if marker is None:
            if configured is not None:
                session.check_for(item, None, configured)
            return
        try:
            name, thresholds, timeout, _, retry, caches, databases = marker_limits(marker)
        except ThresholdError as exc:
            session.check_for(item)
            message = f"{item.nodeid}: @pytest.mark.aide: {exc}"
            raise pytest.fail.Exception(message, pytrace=False) from None
        if timeout is not None:
            item.stash[TIMEOUT_KEY] = (timeout, "@pytest.mark.aide")
        if retry is not None:
            item.stash[RETRY_KEY] = retry
        if caches is not None:
            item.stash[CACHES_KEY] = caches
        if databases is not None:
            item.stash[DATABASES_KEY] = databases
        session.check_for(item, name, {**(configured or {}), **thresholds})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """After the call, take pytest-benchmark's rounds into the check."""
        result = yield
        session = self.session
        check = session.checked(item)
        if check is not None and session.settings.perf and session.pair_server is None:
            adopt(session, item, check)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Turn a failing verdict into a failed test with one line per problem."""
        report = yield
        check = self.session.checked(item)
        if check is None:
            return report
        check.seconds += report.duration
        if call.excinfo is not None and call.excinfo.errisinstance(CheckTimeout):
            line = timed_out_line(item, check)
            report.longrepr = line
            fail_timed_out(check, line)
        elif report.skipped:
            check.outcome = "skipped"
        elif report.failed and report.when != "call":
            check.outcome = "error"
            if check.verdict is None:  # the error is the check's one failure line
                lines = report.longreprtext.strip().splitlines() or [f"error at {report.when}"]
                problem = lines[-1].removeprefix("E").strip()
                check.verdict = decide(
                    Evidence(check.name, check.results, check.thresholds, problems=[problem])
                )
        elif report.when == "call":
            if report.passed and self.session.settings.perf:
                self._judge(item, check, report)
            if report.failed:
                check.outcome = "failed"
        return report

    def _judge(self, item: pytest.Item, check: Check, report: pytest.TestReport) -> None:
        """The gate's verdict on a check whose test passed; a failing one fails the test."""
        session = self.session
        stages: list[Stage] = [
            stage
            for name in STAGES
            if (stage := session.config.pluginmanager.get_plugin(name)) is not None
        ]
        for stage in stages:
            stage.before_verdict(item, check)
        disabled = None if item.stash.get(_ADOPTED_KEY, False) else benchmark_disabled(item)
        verdict = session.gate.evaluate(check, unmeasured=disabled)
        for stage in stages:
            stage.after_verdict(item, check, verdict)
        if not verdict.passed:
            report.outcome = "failed"
            settings = session.settings
            explained = check.explanation(
                settings.report_dir, session.config.rootpath, settings.explain != "never"
            )
            report.longrepr = "\n".join([*verdict.lines(), *explained])

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Refuse a measure this machine cannot take; count the suite's benchmarks.

        A counted measure that cannot be counted here, or solo time where the
        kernel has none, is a usage error before anything is measured.
        """
        aide = self.session
        if aide.settings.perf and not session.config.option.collectonly:
            self._can_count(session.items)
            self._can_time(session.items)
        aide.benchmark_tests = sum(
            1 for item in session.items if "benchmark" in getattr(item, "fixturenames", ())
        )
        aide.opted_out = sum(
            1
            for item in session.items
            if declared(item) and opted_out(aide.check_patterns, item.nodeid)
        )

    def _can_time(self, items: list[pytest.Item]) -> None:
        """Raise a usage error if a check asks for solo time where the kernel has none."""
        asked = {i.nodeid: "solo" for i in items if self.session.measure_of(i) == "solo"}
        why = solo.why_not() if asked else None
        if why is not None:
            self._refuse(
                asked,
                f"this system does not report a thread's run-queue wait ({why}); "
                "measure wall or cpu time instead",
            )

    def _can_count(self, items: list[pytest.Item]) -> None:
        """Raise a usage error naming what to install if a check to count cannot be counted."""
        asked = counted(self.session, items)
        if not asked:
            return
        try:
            find_valgrind(self.session.settings.valgrind)
        except CountError as exc:
            self._refuse(asked, str(exc))

    def _refuse(self, asked: dict[str, str], why: str) -> NoReturn:
        """Stop the session before measuring: ``asked`` (node id -> measure) cannot be had.

        The one line names what asked (the option, else the first check) and ``why``.
        """
        measure = self.session.settings.measure
        if measure in asked.values():
            source = f"--aide-measure {measure}"
        else:
            nodeid, chosen = next(iter(asked.items()))
            source = f"{nodeid}: measure={chosen!r}"
        self.session.refused = True
        raise pytest.UsageError(f"{source}: {why}") from None
