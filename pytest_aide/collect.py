"""pytest collection of scenario files: one item per scenario."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, Protocol

import pluggy
import pytest

import pytest_aide
from pytest_aide.check import Check
from pytest_aide.config import Settings, display_path
from pytest_aide.measure.cpu import CpuTrace, CpuUnavailable
from pytest_aide.measure.load import Progress, apply_load, smoke_load
from pytest_aide.measure.memory import MemoryConflict, MemoryTrace, MemoryUnavailable
from pytest_aide.measure.timer import LoopFactory, TimingPlan, measure
from pytest_aide.pairworker import PairServer
from pytest_aide.results import LoadResult, Result, SweepResult, TimingResult
from pytest_aide.scenarios import (
    Scenario,
    ScenarioError,
    ScenarioLoad,
    load_scenario_file,
    resolve_target,
)
from pytest_aide.verdict import Threshold

__all__ = ["ScenarioFileCollector", "ScenarioItem"]

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
            pytest.fail(self.error, pytrace=False)

    def runtest(self) -> None:
        """Import the target and measure it under the session's plan."""
        assert self.scenario is not None
        scenario = self.scenario
        session = self.host
        thresholds = scenario.thresholds_for(session.settings.profile)
        check = session.check_for(self, scenario.name, thresholds)
        try:
            target = resolve_target(scenario.target, self.config.rootpath)
        except ScenarioError as exc:
            self._fail(exc)
        plan = session.plan(scenario.iterations, scenario.warmup)
        args, kwargs = tuple(scenario.args), scenario.kwargs
        run: Callable[[], Result]
        if scenario.load is not None:
            run = functools.partial(self._load, target, scenario.load, session, plan.smoke)
        elif session.pair_server is not None:
            value = session.pair_server.serve(
                self.nodeid, scenario.name, target, args, kwargs, session.loop_factory
            )
            check.results.append(TimingResult(scenario.name, [0.0], mode="smoke", value=value))
            return
        else:
            run = functools.partial(measure, target, args, kwargs, name=scenario.name, plan=plan)
        if plan.smoke or scenario.cpu is None:
            check.results.append(run())
        else:
            try:
                with CpuTrace(scenario.name, interval=scenario.cpu) as cpu:
                    measured = run()
            except CpuUnavailable as exc:
                self._fail(exc)
            check.results += [measured, cpu.result]
        if scenario.memory is not None and not plan.smoke:
            # One more call, traced on its own: memray would distort the timings.
            try:
                with MemoryTrace(
                    scenario.name, keep_dir=session.trace_dir, **scenario.memory
                ) as memory:
                    measure(
                        target, args, kwargs, name=scenario.name, plan=replace(plan, smoke=True)
                    )
            except MemoryUnavailable as exc:
                pytest.skip(f"{self.display_path}: scenario {scenario.name!r}: {exc}")
            except MemoryConflict as exc:
                self._fail(exc)
            assert memory.result is not None
            check.results.append(memory.result)

    def _fail(self, problem: object) -> NoReturn:
        assert self.scenario is not None
        pytest.fail(
            f"{self.display_path}: scenario {self.scenario.name!r}: {problem}", pytrace=False
        )

    def _load(
        self, target: Callable[..., Any], load: ScenarioLoad, session: Host, smoke: bool
    ) -> LoadResult | SweepResult:
        """Apply the scenario's load (one request at concurrency 1 without ``--aide-perf``)."""
        scenario = self.scenario
        assert scenario is not None
        plan, mode, levels = load.plan, load.mode, load.levels
        if smoke:
            plan, mode, levels = smoke_load(plan, mode, levels)
        return apply_load(
            target,
            tuple(scenario.args),
            scenario.kwargs,
            name=scenario.name,
            plan=plan,
            mode=mode,
            levels=levels,
            spec=(scenario.target, str(self.config.rootpath)),
            loop_factory=session.loop_factory,
            progress=session.progress,
        )

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
