"""pytest entry point: options, marker and fixtures; the hooks live on :class:`AideSession`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_aide.check import Check
from pytest_aide.collect import ScenarioFileCollector
from pytest_aide.config import Settings, non_negative_int, positive_int
from pytest_aide.fixtures import AideTimer
from pytest_aide.measure.timer import TimingPlan
from pytest_aide.report.terminal import render_summary
from pytest_aide.verdict import Threshold, ThresholdError, parse_thresholds

__all__ = ["AideSession", "aide_timer"]

SESSION_NAME = "aide-session"
_SESSION_KEY = pytest.StashKey["AideSession"]()
_CHECK_KEY = pytest.StashKey[Check]()

MARKER_HELP = (
    "aide(name=None, **thresholds): performance limits for this test, e.g. "
    "@pytest.mark.aide(mean='2s', p95='250ms', throughput_min=50); "
    "enforced under --aide-perf"
)


def _add_option(
    parser: pytest.Parser,
    group: pytest.OptionGroup,
    flag: str,
    ini_type: str,
    help: str,
    **kwargs: Any,
) -> None:
    """Add ``--aide-x`` and its ini twin ``aide_x``; ``default=None`` lets the ini value apply."""
    ini = flag.lstrip("-").replace("-", "_")
    group.addoption(flag, default=None, help=f"{help}. ini: {ini}", **kwargs)
    parser.addini(ini, type=ini_type, default=False if ini_type == "bool" else "", help=help)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``aide`` option group; every option has an ini twin."""
    group = parser.getgroup("aide", "pytest-aide: performance measurement and gates")
    _add_option(
        parser,
        group,
        "--aide-perf",
        "bool",
        "measure fully, enforce thresholds and print the aide summary "
        "(without it each measured callable runs once)",
        action="store_true",
    )
    _add_option(
        parser,
        group,
        "--aide-iterations",
        "string",
        "samples per measurement, overriding every test and scenario",
        type=positive_int,
        metavar="N",
    )
    _add_option(
        parser,
        group,
        "--aide-warmup",
        "string",
        "warmup samples per measurement, overriding every test and scenario",
        type=non_negative_int,
        metavar="N",
    )
    parser.addini(
        "aide_scenarios",
        type="linelist",
        default=["scenarios"],
        help="directories (relative to the rootdir) whose *.toml files are aide scenario files",
    )


def _setting(config: pytest.Config, name: str, parse: Callable[[str], Any]) -> Any:
    value = config.getoption(name)
    if value is not None:
        return value
    raw = config.getini(name)
    if raw in ("", None) or isinstance(raw, bool):
        return raw or None
    try:
        return parse(raw)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini option {name!r}: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and the session object that carries the hooks."""
    config.addinivalue_line("markers", MARKER_HELP)
    settings = Settings(
        perf=bool(_setting(config, "aide_perf", bool)),
        iterations=_setting(config, "aide_iterations", positive_int),
        warmup=_setting(config, "aide_warmup", non_negative_int),
        scenario_dirs=tuple(config.getini("aide_scenarios")),
    )
    session = AideSession(config, settings)
    config.stash[_SESSION_KEY] = session
    config.pluginmanager.register(session, SESSION_NAME)


def _marker_limits(marker: pytest.Mark) -> tuple[str | None, dict[str, Threshold]]:
    if marker.args:
        raise ThresholdError(
            "takes keyword arguments only, e.g. @pytest.mark.aide(name='x', mean='2s')"
        )
    kwargs = dict(marker.kwargs)
    name = kwargs.pop("name", None)
    if name is not None and not isinstance(name, str):
        raise ThresholdError(f"name must be a string, got {name!r}")
    return name, parse_thresholds(kwargs)


class AideSession:
    """Per-session state and the hooks that use it."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.checks: list[Check] = []
        self._scenario_dirs = [(config.rootpath / d).resolve() for d in settings.scenario_dirs]

    def plan(self, iterations: int, warmup: int, gc: bool = True) -> TimingPlan:
        """The timing plan for a check, with the session's overrides applied."""
        return TimingPlan(
            iterations=self.settings.iterations or iterations,
            warmup=warmup if self.settings.warmup is None else self.settings.warmup,
            gc=gc,
            smoke=not self.settings.perf,
        )

    def check_for(
        self,
        item: pytest.Item,
        name: str | None = None,
        thresholds: dict[str, Threshold] | None = None,
    ) -> Check:
        """The check of ``item``, created on first use."""
        check = item.stash.get(_CHECK_KEY, None)
        if check is None:
            check = Check(name or item.name, item.nodeid, dict(thresholds or {}))
            item.stash[_CHECK_KEY] = check
            self.checks.append(check)
        return check

    def pytest_collect_file(
        self, file_path: Path, parent: pytest.Collector
    ) -> ScenarioFileCollector | None:
        """Collect ``*.toml`` files under the scenario directories."""
        if file_path.suffix != ".toml":
            return None
        resolved = file_path.resolve()
        if any(resolved.is_relative_to(d) for d in self._scenario_dirs):
            return ScenarioFileCollector.from_parent(parent, path=file_path)
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Validate the ``aide`` marker in both modes; a bad one errors the test."""
        marker = item.get_closest_marker("aide")
        if marker is None:
            return
        try:
            name, thresholds = _marker_limits(marker)
        except ThresholdError as exc:
            self.check_for(item)
            pytest.fail(f"{item.nodeid}: @pytest.mark.aide: {exc}", pytrace=False)
        check = self.check_for(item, name, thresholds)
        check.name, check.thresholds = name or check.name, thresholds

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Turn a failing verdict into a failed test with one line per broken limit."""
        report = yield
        check = item.stash.get(_CHECK_KEY, None)
        if check is None:
            return report
        if report.skipped:
            check.outcome = "skipped"
        elif report.failed and report.when != "call":
            check.outcome = "error"
        elif report.when == "call":
            if report.passed and self.settings.perf and not check.judge().passed:
                assert check.verdict is not None
                report.outcome = "failed"
                report.longrepr = "\n".join(check.verdict.lines())
            if report.failed:
                check.outcome = "failed"
        return report

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print one row per measured check, then totals and the success rate."""
        if not self.settings.perf or not self.checks:
            return
        terminalreporter.write_sep("=", "aide performance summary")
        for line in render_summary(self.checks):
            terminalreporter.write_line(line)


@pytest.fixture
def aide_timer(request: pytest.FixtureRequest) -> AideTimer:
    """Time a callable: ``aide_timer(fn, *args, iterations=10, warmup=2, **kwargs)``.

    Returns a :class:`~pytest_aide.results.TimingResult`. In async tests use
    ``await aide_timer.async_(fn, ...)``.
    """
    session = request.config.stash[_SESSION_KEY]
    return AideTimer(session.check_for(request.node), session.plan)
