"""The session's shared state, kept in ``config.stash``, and what it says about each item.

Each stage is a plugin object of its own (judging.py, timelimits.py, pairing.py,
counting_stage.py, confirming.py, explaining.py, reporting.py, relay.py,
summary.py), registered by plugin.py when its option is on; all of them read
and add to the one :class:`AideSession` of the run.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pytest

from pytest_aide.against import AgainstError, Revision
from pytest_aide.baselines import Baseline, code_version
from pytest_aide.check import Check
from pytest_aide.collect import ScenarioItem
from pytest_aide.collecting import measures
from pytest_aide.config import (
    CheckPatterns,
    ProfileError,
    ProfileOverrides,
    Settings,
    display_path,
    known_profiles,
    match_checks,
    opted_out,
    pyproject_checks,
    pyproject_profiles,
)
from pytest_aide.counting import COUNTED, Counting
from pytest_aide.fileio import absolute
from pytest_aide.gate import Gate, StoredRun
from pytest_aide.history import History, HistoryError
from pytest_aide.marks import CACHES_KEY, DATABASES_KEY, TIMEOUT_KEY, own_marker
from pytest_aide.measure import solo
from pytest_aide.measure.caches import WatchedCache
from pytest_aide.measure.load import Progress
from pytest_aide.measure.pair import PairRun
from pytest_aide.measure.queries import WatchedDatabase
from pytest_aide.measure.system import SystemMeter, machine_info, machine_slug
from pytest_aide.measure.timer import LoopFactory, LoopUnavailable, TimingPlan, loop_factory
from pytest_aide.pairworker import PairServer, serving
from pytest_aide.report.files import Outputs
from pytest_aide.results import CountResult, ScalingResult, TimingResult, result_from_dict
from pytest_aide.suites import declared
from pytest_aide.tracked import Tracked
from pytest_aide.units import hint
from pytest_aide.verdict import Threshold

__all__ = ["SESSION_KEY", "SESSION_NAME", "AideSession", "AsyncioLoops"]


SESSION_NAME = "aide-session"
SESSION_KEY = pytest.StashKey["AideSession"]()
_CHECK_KEY = pytest.StashKey[Check]()


class AsyncioLoops:
    """Hands pytest-asyncio the ``--aide-loop`` event loop for every async test."""

    def __init__(self, factory: LoopFactory) -> None:
        self.factory = factory

    def pytest_asyncio_loop_factories(
        self, config: pytest.Config, item: pytest.Item
    ) -> dict[str, LoopFactory]:
        """One factory, so pytest-asyncio does not parametrize tests by loop."""
        return {config.stash[SESSION_KEY].settings.loop: self.factory}


@dataclasses.dataclass(eq=False)
class AideSession:
    """The run's shared state: settings, checks, the gate, pairs and counts.

    Built by :meth:`start`; registered only for its ``pytest_unconfigure``.
    """

    config: pytest.Config
    settings: Settings
    pyproject_shown: str
    """pyproject.toml as the summary names it."""
    overrides: ProfileOverrides
    """``[tool.aide.profiles]``: thresholds per profile and check."""
    check_patterns: CheckPatterns
    """``[tool.aide.checks]``: thresholds (or ``aide = false``) per node-id pattern."""
    config_error: str | None
    """pyproject's aide tables could not be read: every check fails with this line."""
    loop_factory: LoopFactory | None
    pair_server: PairServer | None
    """Set when this session is a ``--aide-against`` pair worker."""
    revision: Revision | None
    """``--aide-against``'s REV, checked out (shared with xdist workers)."""
    stored_run: StoredRun | None
    """``--aide-compare-run``'s history run, as baselines."""
    counting: Counting
    """Instruction counts of the checks that measure them."""
    counting_against: Counting
    """Under ``--aide-against``: the same counts in REV's tree."""
    checks: list[Check] = dataclasses.field(default_factory=list)
    workerinput: dict[str, Any] | None = None
    """Set in a pytest-xdist worker: its checks go to the controller, not to reports."""
    workers: int = 0
    """In the xdist controller: how many workers measured."""
    order: dict[str, int] = dataclasses.field(default_factory=dict)
    """xdist controller: the collection order of node ids, which the summary keeps."""
    crashed: list[str] = dataclasses.field(default_factory=list)
    """xdist: what the controller was told of workers that crashed mid-test."""
    snapshots: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    """The machine's state at the start and the end."""
    outputs: Outputs | None = None
    """The reports written, once they are."""
    pairs: PairRun = dataclasses.field(default_factory=PairRun)
    """Under ``--aide-against``: every paired call so far."""
    paired_items: int = 0
    benchmark_tests: int = 0
    """Collected tests that use pytest-benchmark's ``benchmark`` fixture."""
    opted_out: int = 0
    """Collected benchmarks the suite declares that ``aide = false`` patterns leave out."""
    refused: bool = False
    """The session stopped on a usage error before measuring: nothing to summarise."""
    pattern_warnings: list[str] = dataclasses.field(default_factory=list)
    """``[tool.aide.checks]`` patterns that select no collected test, one line each."""
    meter: SystemMeter | None = None
    terminal: TextIO | None = None
    """The interactive terminal, where load runs show live progress."""
    wall_because: str | None = dataclasses.field(default_factory=solo.why_not)
    """Why checks that do not say measure wall time, not solo time (None: they measure solo)."""

    @classmethod
    def start(cls, config: pytest.Config, settings: Settings) -> AideSession:
        """The session of ``config``: pyproject read, REV checked out, the stored run read."""
        pyproject = config.rootpath / "pyproject.toml"
        if config.inipath is not None and config.inipath.name == "pyproject.toml":
            pyproject = config.inipath
        overrides, patterns, error = _read_pyproject(pyproject)
        try:
            loops = loop_factory(settings.loop)
        except LoopUnavailable as exc:
            raise pytest.UsageError(f"--aide-loop {settings.loop}: {exc}") from None
        workerinput = getattr(config, "workerinput", None)
        keep = settings.report_dir / "traces" if settings.keep_traces else None
        session = cls(
            config,
            settings,
            pyproject_shown=display_path(pyproject, config.rootpath),
            overrides=overrides,
            check_patterns=patterns,
            config_error=error,
            loop_factory=loops,
            pair_server=serving(config),
            revision=None,
            stored_run=None,
            counting=Counting(settings.valgrind, keep),
            counting_against=Counting(settings.valgrind, None),
            workerinput=workerinput,
        )
        if settings.perf:
            _check_profile_is_known(session.scenario_dirs, overrides, settings)
            if settings.compare_run is not None:
                session.stored_run = read_stored_run(settings, settings.compare_run)
            session.revision = _revision(config, settings, workerinput)  # checked out last
            session.meter = SystemMeter()
            session.terminal = _open_terminal()
            _time_benchmarks(config, settings.measure or session.default_measure)
        return session

    @property
    def default_measure(self) -> str:
        """What a check measures when neither it nor ``--aide-measure`` says."""
        return "wall" if self.wall_because else "solo"

    @property
    def measures_declared(self) -> bool:
        """Benchmarks a suite declares are checks: under ``--aide-perf``, and in pair workers."""
        return self.settings.perf or self.pair_server is not None

    @functools.cached_property
    def tracked(self) -> Tracked | None:
        """Under ``--aide-against``: REV's numbers of the asv items that yield one."""
        return Tracked(self.revision.label) if self.revision is not None else None

    @functools.cached_property
    def scenario_dirs(self) -> list[Path]:
        """The directories scenario files are collected from."""
        return [absolute(self.config.rootpath / d) for d in self.settings.scenario_dirs]

    def snapshot(self) -> dict[str, float]:
        """The machine's state; its CPU % covers the time since the last snapshot."""
        if self.meter is None:
            self.meter = SystemMeter()
        return self.meter.snapshot()

    @functools.cached_property
    def source(self) -> tuple[str | None, bool]:
        """The git commit measured and whether tracked files differ from it (reports aside)."""
        ignore = [self.settings.baseline_dir, self.settings.report_dir]
        return code_version(self.config.rootpath, ignore)

    @functools.cached_property
    def gate(self) -> Gate:
        """Judges checks under ``--aide-perf``; built on first use (reading machine info)."""
        settings, machine = self.settings, machine_info()
        commit, dirty = self.source if settings.save_baseline else (None, False)
        return Gate(
            baseline_dir=settings.baseline_dir,
            rootdir=self.config.rootpath,
            machine=machine,
            slug=machine_slug(machine),
            profile=settings.profile,
            tolerance=settings.tolerance,
            compare=settings.compare,
            save=settings.save_baseline,
            any_machine=settings.any_machine,
            drift=settings.drift,
            against=self.revision.label if self.revision else None,
            commit=commit,
            dirty=dirty,
            stored=self.stored_run,
            uncompared_fails=settings.uncompared == "fail",
        )

    def is_check(self, item: pytest.Item) -> bool:
        """A test aide gates: marked ``aide``, or named in pyproject (checks or profiles)."""
        return own_marker(item) is not None or self.configured(item) is not None

    def configured(self, item: pytest.Item) -> dict[str, Threshold] | None:
        """Thresholds pyproject attaches to a measuring test without a marker, else None.

        ``[tool.aide.checks]`` patterns match node ids; a ``[tool.aide.profiles]``
        entry for the profile in force names the test. Only tests that measure
        (pytest-benchmark's ``benchmark`` or an aide fixture) become checks so.
        """
        if not measures(item):
            return None
        if self.config_error:
            return {}  # check_for fails it with the one-line error
        if opted_out(self.check_patterns, item.nodeid):
            return None
        matched = match_checks(self.check_patterns, item.nodeid)
        profile = self.overrides.get(self.settings.profile, {})
        names = (getattr(item, "originalname", None), item.name)
        if matched is None and any(name in profile for name in names if name):
            return {}
        if matched is None and self.measures_declared and declared(item) is not None:
            return {}  # a benchmark the suite declares is a check as it is
        return matched

    def measure_of(self, item: pytest.Item) -> str:
        """What ``item``'s check measures: its marker's, its scenario's, else the session's.

        An invalid marker keyword is reported when the test runs.
        """
        return self._chosen_measure(item) or self.default_measure

    def _chosen_measure(self, item: pytest.Item) -> str | None:
        """The measure ``item``'s marker, scenario or ``--aide-measure`` asks for, if any."""
        if isinstance(item, ScenarioItem) and item.scenario and item.scenario.measure:
            return item.scenario.measure
        marker = item.get_closest_marker("aide")
        measure = marker.kwargs.get("measure") if marker is not None else None
        return measure if isinstance(measure, str) else self.settings.measure

    def _asked_clock(self, item: pytest.Item) -> str | None:
        """The time measure asked for ``item`` (a counted check's: ``--aide-measure``'s), if any."""
        asked = self._chosen_measure(item)
        if asked in COUNTED:
            asked = self.settings.measure if self.settings.measure not in COUNTED else None
        return asked

    def timing_measure(self, item: pytest.Item) -> str:
        """The clock ``item``'s timings are read on (a counted check's: the session's)."""
        measure = self._asked_clock(item) or self.default_measure
        return measure if measure in ("solo", "cpu") else "wall"

    def plan(
        self,
        iterations: int,
        warmup: int,
        gc: bool = True,
        measure: str = "wall",
        chosen: bool = True,
    ) -> TimingPlan:
        """The timing plan for a check, with the session's overrides applied."""
        return TimingPlan(
            iterations=self.settings.iterations or iterations,
            warmup=warmup if self.settings.warmup is None else self.settings.warmup,
            gc=gc,
            smoke=not self.settings.perf,
            measure=measure if self.settings.perf else "wall",
            chosen=chosen,
        )

    def plan_for(self, item: pytest.Item) -> Callable[[int, int, bool], TimingPlan]:
        """:meth:`plan` with ``item``'s clock: ``solo``, ``cpu`` or ``wall``.

        Counted checks time on the session's clock beside their count.
        """
        measure, chosen = self.timing_measure(item), self._asked_clock(item) is not None
        return lambda iterations, warmup, gc=True: self.plan(
            iterations, warmup, gc, measure, chosen
        )

    def checked(self, item: pytest.Item) -> Check | None:
        """The check of ``item``, if it has one yet."""
        return item.stash.get(_CHECK_KEY, None)

    def check_for(
        self,
        item: pytest.Item,
        name: str | None = None,
        thresholds: dict[str, Threshold] | None = None,
    ) -> Check:
        """The check of ``item``, created on first use with the profile's overrides."""
        check = self.checked(item)
        if check is not None:
            return check
        check = Check(name or item.name, item.nodeid, dict(thresholds or {}))
        check.declared = declared(item)
        item.stash[_CHECK_KEY] = check
        self.checks.append(check)
        if self.config_error:
            pytest.fail(self.config_error, pytrace=False)
        profile = self.overrides.get(self.settings.profile, {})
        for key in (getattr(item, "originalname", None), item.name, check.name):
            check.thresholds.update(profile.get(key, {}) if key else {})
        return check

    @property
    def trace_dir(self) -> Path | None:
        """Where memray traces are kept (``--aide-keep-traces``), else None."""
        if not self.settings.keep_traces:
            return None
        path = self.settings.report_dir / "traces"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def progress(self) -> Progress | None:
        """Where load runs report live progress: the terminal if interactive, else None."""
        return self._show_progress if self.terminal is not None else None

    def _show_progress(self, line: str) -> None:
        if self.terminal is None:
            return
        # Save the cursor, write after pytest's output, erase the rest, restore the cursor.
        self.terminal.write(f"\x1b7 {line}\x1b[K\x1b8" if line else "\x1b[K")
        self.terminal.flush()

    @staticmethod
    def limit_time(item: pytest.Item, seconds: float, origin: str) -> None:
        """Give ``item``'s check a timeout of ``seconds``, set by ``origin`` (for its message)."""
        item.stash[TIMEOUT_KEY] = (seconds, origin)

    @staticmethod
    def caches_for(item: pytest.Item) -> list[WatchedCache]:
        """The caches the test's marker names (``caches=``), watched while it measures."""
        return item.stash.get(CACHES_KEY, [])

    @staticmethod
    def databases_for(item: pytest.Item) -> list[WatchedDatabase]:
        """The connections and engines the test's marker names (``databases=``)."""
        return item.stash.get(DATABASES_KEY, [])

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Close the progress terminal."""
        if self.terminal is not None:
            self.terminal.close()
            self.terminal = None


def _check_profile_is_known(
    scenario_dirs: list[Path], overrides: ProfileOverrides, settings: Settings
) -> None:
    """A usage error when the profile in force is defined nowhere."""
    files = [p for d in scenario_dirs if d.is_dir() for p in sorted(d.rglob("*.toml"))]
    known = known_profiles(files, overrides)
    name, source = settings.profile, settings.profile_source
    if name not in known:
        raise pytest.UsageError(
            f"unknown aide profile {name!r} (from {source}); {hint(name, sorted(known))}"
        )


def _time_benchmarks(config: pytest.Config, measure: str) -> None:
    """Have pytest-benchmark time its rounds on solo time, when checks measure it.

    Only where solo time is the session's ``measure`` and no timer was asked
    for. pytest-benchmark reads its options after this plugin's configure.
    """
    option = config.option
    if measure != "solo":
        return
    asked = any(a.startswith("--benchmark-timer") for a in config.invocation_params.args)
    if getattr(option, "benchmark_timer", None) == "time.perf_counter" and not asked:
        option.benchmark_timer = "pytest_aide.measure.solo.benchmark_clock"


def _read_pyproject(pyproject: Path) -> tuple[ProfileOverrides, CheckPatterns, str | None]:
    """pyproject's aide profiles and check patterns, and the first error reading them."""
    overrides: ProfileOverrides = {}
    patterns: CheckPatterns = []
    error = None
    try:
        overrides = pyproject_profiles(pyproject)
    except ProfileError as exc:
        error = str(exc)
    try:
        patterns = pyproject_checks(pyproject)
    except ProfileError as exc:
        error = error or str(exc)
    return overrides, patterns, error


def _revision(
    config: pytest.Config, settings: Settings, workerinput: dict[str, Any] | None
) -> Revision | None:
    """``--aide-against``'s REV: checked out here, or the xdist controller's checkout."""
    if not settings.against:
        return None
    shared = (workerinput or {}).get("aide_against")
    try:
        if shared:
            return Revision.shared(shared)
        return Revision.check_out(settings.against, config.rootpath)
    except AgainstError as exc:
        raise pytest.UsageError(str(exc)) from None


def _open_terminal() -> TextIO | None:
    """A handle on the interactive terminal, opened while pytest is not capturing."""
    if os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return None
    try:
        fd = sys.stdout.fileno()
        if not os.isatty(fd):
            return None
        return os.fdopen(os.dup(fd), "w", encoding="utf-8", errors="replace")
    except (AttributeError, OSError, ValueError):
        return None


def read_stored_run(settings: Settings, selector: str) -> StoredRun:
    """The history run ``--aide-compare-run`` names, as baselines; one line if it cannot."""
    store = History(settings.history_file)
    slug = machine_slug(machine_info())
    try:
        run = store.find_run(selector, slug)
        recorded = store.results(run.id)
    except HistoryError as exc:
        raise pytest.UsageError(f"--aide-compare-run {selector}: {exc}") from None
    label = f"history run {run.label()}"
    baselines = {}
    for check_id, results in recorded.items():
        compared = ("timing", "count", "scaling")
        kept = [result_from_dict(r) for r in results if r.get("kind") in compared]
        baselines[check_id] = Baseline(
            id=check_id,
            results=[r for r in kept if isinstance(r, (TimingResult, CountResult, ScalingResult))],
            machine={},
            profile=run.profile,
            created=run.created,
            commit=run.commit,
            dirty=run.dirty,
        )
    if not baselines:
        raise pytest.UsageError(
            f"--aide-compare-run {selector}: {label} kept no results to compare with "
            "(runs recorded before pytest-aide kept every sample)"
        )
    return StoredRun(label, run.machine, baselines)
