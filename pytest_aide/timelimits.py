"""Time limits: a check's ``timeout`` (marker, scenario, asv or ``--aide-timeout``).

:class:`TimeLimits` runs each check's call under its deadline, in both modes. A
check that overruns fails on one line; one that does not return at all ends
the session, after writing the reports of what finished (:func:`stuck`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_aide.check import Check
from pytest_aide.collect import ScenarioItem
from pytest_aide.marks import TIMEOUT_KEY
from pytest_aide.measure.deadline import deadline
from pytest_aide.reporting import write_reports
from pytest_aide.units import format_duration
from pytest_aide.verdict import Evidence, decide

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["TIMELIMITS_NAME", "TimeLimits", "fail_timed_out", "guarded", "stuck", "timed_out_line"]

TIMELIMITS_NAME = "aide-time-limits"


class TimeLimits:
    """Runs each check's call under its timeout."""

    def __init__(self, session: AideSession) -> None:
        self.session = session

    def _timeout(self, item: pytest.Item) -> tuple[float, str] | None:
        """The check's timeout and where it was set; None for no limit or no check."""
        own = item.stash.get(TIMEOUT_KEY, None)
        if own is not None:
            return own
        scenario = item.scenario if isinstance(item, ScenarioItem) else None
        if scenario is not None and scenario.timeout is not None:
            return scenario.timeout, f"scenario {scenario.name!r}"
        is_check = scenario is not None or self.session.checked(item) is not None
        if self.session.settings.timeout is not None and is_check:
            return self.session.settings.timeout, "--aide-timeout"
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """Run the check under its timeout, if it has one."""
        limit = self._timeout(item)
        if limit is not None:
            item.stash[TIMEOUT_KEY] = limit
        with guarded(self.session, item):
            return (yield)


@contextlib.contextmanager
def guarded(session: AideSession, item: pytest.Item) -> Iterator[None]:
    """Run a call of ``item`` (a first run, a confirmation, a profile) under its time limit."""
    limit = item.stash.get(TIMEOUT_KEY, None)
    with deadline(limit[0] if limit else None, stuck(session, item)):
        yield


def timed_out_line(item: pytest.Item, check: Check) -> str:
    """The one line of a check that overran its time limit."""
    limit, origin = item.stash[TIMEOUT_KEY]
    return (
        f"{check.name}: timed out: stopped after {format_duration(limit)} (timeout from {origin})"
    )


def fail_timed_out(check: Check, line: str) -> None:
    """Give ``check`` the verdict of a call stopped at its time limit: ``line`` says so."""
    check.verdict = decide(Evidence(check.name, check.results, check.thresholds, timed_out=line))
    check.outcome = "failed"


def stuck(session: AideSession, item: pytest.Item) -> Callable[[str], None]:
    """What the watchdog does when a check does not return after its timeout.

    The check fails on one line, its stack is shown, the reports of what
    finished are written and the session ends with pytest's interrupted
    exit code: the hung call cannot be stopped from inside the process.
    """
    config = session.config

    def end(stack: str) -> None:
        check = session.checked(item)
        name = check.name if check is not None else item.nodeid
        line = f"{name}: timed out and did not return: the session ends here"
        if check is not None and TIMEOUT_KEY in item.stash:
            line = f"{timed_out_line(item, check)} and did not return: the session ends"
            fail_timed_out(check, line)
        capture = config.pluginmanager.getplugin("capturemanager")
        with contextlib.suppress(Exception):
            capture.suspend_global_capture(in_=True)
        writer = config.get_terminal_writer()
        writer.line()
        writer.line(f"aide: {item.nodeid}: {line}", red=True, bold=True)
        writer.line(f"aide: where it was stuck:\n{stack.rstrip()}")
        try:
            written = write_reports(session, config.rootpath)
            if written:
                writer.line(f"aide: reports of what finished: {', '.join(written)}")
        finally:
            writer.flush()
            sys.stdout.flush()
            os._exit(int(pytest.ExitCode.INTERRUPTED))

    return end
