"""Under pytest-xdist: each worker's judged checks reach the controller, which reports them.

A worker sends each check on with its test's teardown report, so a worker that
dies loses none it finished, and all of them again at its end (``workeroutput``,
as pytest-xdist's own plugins do). :class:`XdistRelay` is registered only when
pytest-xdist is.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_aide.check import Check

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["RELAY_NAME", "XdistRelay"]

RELAY_NAME = "aide-xdist-relay"
_STREAM_ATTR = "aide_check"
"""A worker's report attribute (which xdist sends on) holding the check, as JSON."""


class XdistRelay:
    """Sends a worker's checks to the controller; takes them in there."""

    def __init__(self, session: AideSession) -> None:
        self.session = session
        self._remote: dict[str, Check] = {}
        """The controller's: the workers' checks by node id, as they arrive."""

    # The controller's side.

    def pytest_configure_node(self, node: Any) -> None:
        """Workers measure against this process's ``--aide-against`` tree."""
        session = self.session
        session.workers += 1
        if session.revision is not None:
            node.workerinput["aide_against"] = session.revision.to_dict()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Remember the collection order (for the summary); snapshot the machine once."""
        session = self.session
        for nodeid in ids:
            session.order.setdefault(nodeid, len(session.order))
        if session.settings.perf and "start" not in session.snapshots:
            session.snapshots["start"] = session.snapshot()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Take over the checks a worker measured and judged (those it streamed, again)."""
        payload = getattr(node, "workeroutput", {}).get("aide_checks")
        if payload:
            self._take([Check.from_dict(data) for data in json.loads(payload)])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A worker's check, sent with its test's teardown report; or its crash."""
        if self.session.workerinput is not None:
            return
        payload = getattr(report, _STREAM_ATTR, None)
        if isinstance(payload, str):
            self._take([Check.from_dict(json.loads(payload))])
        elif report.failed and "crashed while running" in str(report.longrepr):
            self.session.crashed.append(str(report.longrepr).strip().splitlines()[-1])

    def _take(self, checks: list[Check]) -> None:
        """Keep a worker's latest word on each check; ordered at the end."""
        self._remote.update((check.nodeid, check) for check in checks)

    # A worker's side.

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Send the judged check on with its teardown report."""
        report = yield
        session = self.session
        check = session.checked(item)
        worker = session.workerinput is not None and session.settings.perf
        if worker and report.when == "teardown" and check is not None:
            setattr(report, _STREAM_ATTR, json.dumps(check.to_dict()))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """The controller: the workers' checks, in collection order, before the reports.

        A worker: hand every check to the controller at its end.
        """
        aide = self.session
        if self._remote:
            aide.checks = sorted(
                [*aide.checks, *self._remote.values()],
                key=lambda c: aide.order.get(c.nodeid, len(aide.order)),
            )
        if aide.workerinput is not None and aide.settings.perf and aide.checks:
            checks = [check.to_dict() for check in aide.checks]
            session.config.workeroutput["aide_checks"] = json.dumps(checks)  # type: ignore[attr-defined]
