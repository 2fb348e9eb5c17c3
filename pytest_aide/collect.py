"""pytest collection of scenario files: one item per scenario."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn, Protocol

import pluggy
import pytest

import pytest_aide
from pytest_aide.check import Check
from pytest_aide.config import Settings, display_path
from pytest_aide.measure.caches import CacheError, resolve_caches
from pytest_aide.measure.load import LoadPlan, Progress, smoke_load
from pytest_aide.measure.queries import QueryError, resolve_databases
from pytest_aide.measure.timer import LoopFactory, TimingPlan
from pytest_aide.pairworker import PairServer
from pytest_aide.runner import CheckRun, Load, RunError, RunSkipped, Scaling, run_check
from pytest_aide.scenarios import (
    Scenario,
    ScenarioError,
    load_scenario_file,
    resolve_target,
)
from pytest_aide.verdict import Threshold

__all__ = ["ScenarioFileCollector", "ScenarioItem", "UnreadableScenarios"]

_PYTEST = Path(pytest.__file__).resolve().parent
_HARNESS = (
    Path(pytest_aide.__file__).resolve().parent,
    Path(pluggy.__file__).resolve().parent,
    _PYTEST,
    _PYTEST.parent / "_pytest",  # pytest's implementation, found without importing it
)
"""Packages whose frames a failing scenario does not show: only the target's are of use."""
FILE_ITEM_NAME = "file"
"""Name of the item that stands for a whole scenario file that could not be read."""


class Host(Protocol):
    """What a scenario needs from the session that collected it."""

    settings: Settings
    loop_factory: LoopFactory | None
    pair_server: PairServer | None

    @property
    def trace_dir(self) -> Path | None:
        """Where memray traces are kept, if they are."""

    @property
    def progress(self) -> Progress | None:
        """The live progress line, on a terminal."""

    def plan(self, iterations: int, warmup: int, gc: bool = True) -> TimingPlan:
        """The timing plan in force for these counts."""

    def check_for(
        self,
        item: pytest.Item,
        name: str | None = None,
        thresholds: dict[str, Threshold] | None = None,
    ) -> Check:
        """The check ``item`` records its results in."""


def _sends_requests() -> None:
    """The callable of an ``http`` scenario: it has none, its load sends requests."""


class ScenarioFileCollector(pytest.File):
    """A TOML scenario file; bad scenarios become items that error, not collection errors."""

    def __init__(self, *, host: Host, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host = host

    def collect(self) -> Iterator[ScenarioItem]:
        """Yield one item per scenario, good or bad."""
        loaded = load_scenario_file(self.path, display_path(self.path, self.config.rootpath))
        file_error = loaded.errors.get(None)
        if file_error is not None:
            yield ScenarioItem.from_parent(self, name=FILE_ITEM_NAME, error=file_error)
            return
        for scenario in loaded.scenarios:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)
        for name, error in loaded.errors.items():
            yield ScenarioItem.from_parent(self, name=str(name), error=error)


class UnreadableScenarios(ScenarioFileCollector):
    """A scenario directory that cannot be read: one item that errors with ``problem``."""

    def __init__(self, *, problem: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def collect(self) -> Iterator[ScenarioItem]:
        """The one item, failing at set-up with the line that says why."""
        yield ScenarioItem.from_parent(self, name=FILE_ITEM_NAME, error=self.problem)


class ScenarioItem(pytest.Item):
    """One scenario: imports its target, times it, and is judged like any check."""

    def __init__(
        self, *, scenario: Scenario | None = None, error: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.error = error
        assert isinstance(self.parent, ScenarioFileCollector)
        self.host = self.parent.host
        self.display_path = display_path(self.path, self.config.rootpath)

    def setup(self) -> None:
        """Report a bad file or scenario as this item's error, in one line."""
        if self.error is not None:
            self.host.check_for(self)  # an error of a check, counted and shown as such
            pytest.fail(self.error, pytrace=False)
        assert self.scenario is not None
        # The check exists before the call, so a timeout that fires at once is its failure.
        thresholds = self.scenario.thresholds_for(self.host.settings.profile)
        self.host.check_for(self, self.scenario.name, thresholds)

    def runtest(self) -> None:
        """Import the target and measure it under the session's plan."""
        assert self.scenario is not None
        scenario = self.scenario
        session = self.host
        thresholds = scenario.thresholds_for(session.settings.profile)
        check = session.check_for(self, scenario.name, thresholds)
        try:
            target = (
                resolve_target(scenario.target, self.config.rootpath)
                if scenario.http is None
                else _sends_requests
            )
            scaling = None
            if scenario.scaling is not None:
                setup = scenario.scaling.setup
                scaling = Scaling(
                    scenario.scaling,
                    None
                    if setup is None
                    else resolve_target(setup, self.config.rootpath, "'scaling': setup"),
                )
            caches = resolve_caches(scenario.caches, self.config.rootpath)
            databases = resolve_databases(scenario.databases, self.config.rootpath)
        except ScenarioError as exc:
            self._fail(exc)
        except CacheError as exc:
            self._fail(f"key 'caches': {exc}")
        except QueryError as exc:
            self._fail(f"key 'databases': {exc}")
        plan = session.plan_for(self)(scenario.iterations, scenario.warmup)
        run = CheckRun(
            scenario.name,
            target,
            tuple(scenario.args),
            dict(scenario.kwargs),
            plan,
            load=self._load(plan),
            cpu_interval=scenario.cpu,
            memory=scenario.memory,
            trace_dir=session.trace_dir,
            loop_factory=session.loop_factory,
            progress=session.progress,
            server=session.pair_server,
            nodeid=self.nodeid,
            caches=caches,
            databases=databases,
            http=scenario.http,
            scaling=scaling,
            app=(None if scenario.server is None else (*scenario.server, self.config.rootpath)),
        )
        try:
            check.results += run_check(run)
        except RunSkipped as exc:
            pytest.skip(f"{self.display_path}: scenario {scenario.name!r}: {exc}")
        except RunError as exc:
            self._fail(exc)

    def _load(self, plan: TimingPlan) -> Load | None:
        """The scenario's concurrent load (smaller in a smoke run); HTTP requests one by one."""
        scenario = self.scenario
        assert scenario is not None
        if scenario.load is not None:
            load_plan, mode, levels = scenario.load.plan, scenario.load.mode, scenario.load.levels
            if plan.smoke:
                load_plan, mode, levels = smoke_load(load_plan, mode, levels)
            if scenario.http is not None:
                mode = "async"
            spec = (scenario.target, str(self.config.rootpath))
            engine = "aide" if plan.smoke else scenario.load.engine  # a smoke run sends one
            bind = self.host.settings.locust_master_bind
            return Load(load_plan, mode, levels, spec, engine, scenario.load.workers, bind)
        if scenario.http is not None:
            load_plan = LoadPlan(concurrency=1, requests=1 if plan.smoke else plan.iterations)
            return Load(load_plan, "async")
        return None

    def _fail(self, problem: object) -> NoReturn:
        assert self.scenario is not None
        message = f"{self.display_path}: scenario {self.scenario.name!r}: {problem}"
        # "from None": raised while handling the cause, it shows only its own line.
        raise pytest.fail.Exception(message, pytrace=False) from None

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """Show the target's frames, not the harness's."""
        traceback = excinfo.traceback.filter(
            lambda entry: (
                not any(
                    Path(str(entry.path)).resolve().is_relative_to(harness) for harness in _HARNESS
                )
            )
        )
        if len(traceback):
            excinfo.traceback = traceback
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Location shown in reports: the file and the scenario."""
        return self.path, None, f"scenario {self.name}"
