"""The session object pytest-aide registers: its hooks turn tests into judged checks.

It owns the session's state (settings, checks, the gate, same-job pairs) and
delegates every decision to modules that know nothing of pytest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, TextIO

import pytest

from pytest_aide.against import AgainstError, Revision
from pytest_aide.baselines import Baseline, code_branch, code_version
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
from pytest_aide.confirm import DECIDE_AT, Attempt, Confirmation, Retrying, RetryPolicy, retry_table
from pytest_aide.counting import COUNTED, Counting
from pytest_aide.fileio import absolute
from pytest_aide.gate import Gate, StoredRun
from pytest_aide.history import History, HistoryError
from pytest_aide.measure import solo
from pytest_aide.measure.caches import WatchedCache, resolve_caches
from pytest_aide.measure.counts import CountError, find_valgrind, measure_name
from pytest_aide.measure.deadline import CheckTimeout, deadline
from pytest_aide.measure.load import Progress
from pytest_aide.measure.pair import PairPlan, PairRun, Tree, pair_items
from pytest_aide.measure.profile import Profile
from pytest_aide.measure.queries import WatchedDatabase, resolve_databases
from pytest_aide.measure.system import (
    SystemMeter,
    machine_info,
    machine_slug,
)
from pytest_aide.measure.timer import LoopFactory, LoopUnavailable, TimingPlan, loop_factory
from pytest_aide.pairworker import serving
from pytest_aide.report.files import Outputs, write_outputs
from pytest_aide.report.json import build_report
from pytest_aide.results import CountResult, ScalingResult, TimingResult, result_from_dict
from pytest_aide.runner import ProfiledBenchmark, profiling
from pytest_aide.suites import declared
from pytest_aide.tracked import Tracked
from pytest_aide.units import format_duration, hint, parse_timeout
from pytest_aide.verdict import (
    CONFIRMABLE_METRICS,
    Comparison,
    Evidence,
    Threshold,
    ThresholdError,
    decide,
    failure_key,
    looks_changed,
    parse_thresholds,
    suspicions,
)

__all__ = ["SESSION_KEY", "SESSION_NAME", "AideSession", "AsyncioLoops"]


SESSION_NAME = "aide-session"
SESSION_KEY = pytest.StashKey["AideSession"]()
_CHECK_KEY = pytest.StashKey[Check]()
_TIMEOUT_KEY = pytest.StashKey[tuple[float, str]]()
_RETRY_KEY = pytest.StashKey[dict[str, Any]]()
_CACHES_KEY = pytest.StashKey[list[WatchedCache]]()
_DATABASES_KEY = pytest.StashKey[list[WatchedDatabase]]()
_ADOPTED_KEY = pytest.StashKey[bool]()


class AsyncioLoops:
    """Hands pytest-asyncio the ``--aide-loop`` event loop for every async test."""

    def __init__(self, factory: LoopFactory) -> None:
        self.factory = factory

    def pytest_asyncio_loop_factories(
        self, config: pytest.Config, item: pytest.Item
    ) -> dict[str, LoopFactory]:
        """One factory, so pytest-asyncio does not parametrize tests by loop."""
        return {config.stash[SESSION_KEY].settings.loop: self.factory}


class _MarkerLimits(NamedTuple):
    name: str | None
    thresholds: dict[str, Threshold]
    timeout: float | None
    measure: str | None
    retry: dict[str, Any] | None
    caches: list[WatchedCache] | None
    databases: list[WatchedDatabase] | None


def _marker_limits(marker: pytest.Mark) -> _MarkerLimits:
    if marker.args:
        raise ThresholdError(
            "takes keyword arguments only, e.g. @pytest.mark.aide(name='x', mean='2s')"
        )
    kwargs = dict(marker.kwargs)
    name = kwargs.pop("name", None)
    if name is not None and not isinstance(name, str):
        raise ThresholdError(f"name must be a string, got {name!r}")
    timeout = _keyword(kwargs, "timeout", parse_timeout)
    measure = _keyword(kwargs, "measure", measure_name)
    retry = _keyword(kwargs, "retry", retry_table)
    caches = _keyword(kwargs, "caches", _marker_caches)
    databases = _keyword(kwargs, "databases", _marker_databases)
    thresholds = parse_thresholds(kwargs)
    return _MarkerLimits(name, thresholds, timeout, measure, retry, caches, databases)


def _marker_caches(value: Any) -> list[WatchedCache]:
    """The marker's ``caches``: a cached function, a ``"pkg.mod:func"`` name, or a list of them."""
    specs = list(value) if isinstance(value, (list, tuple)) else [value]
    if not specs:
        raise ValueError("expected a cached function or 'package.module:function', got []")
    return resolve_caches(specs)


def _marker_databases(value: Any) -> list[WatchedDatabase]:
    """The marker's ``databases``: a connection or engine, a ``"pkg.mod:attr"`` name, or a list."""
    specs = list(value) if isinstance(value, (list, tuple)) else [value]
    if not specs:
        raise ValueError("expected a connection, an engine or 'package.module:attribute', got []")
    return resolve_databases(specs)


def _keyword(kwargs: dict[str, Any], key: str, parse: Callable[[Any], Any]) -> Any:
    """Pop and parse a marker keyword that is not a threshold; None when absent."""
    value = kwargs.pop(key, None)
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise ThresholdError(f"{key}: {exc}") from None


def _own_marker(item: pytest.Item) -> pytest.Mark | None:
    """The ``aide`` marker the user wrote, not the one collection adds for ``-m aide``."""
    marker = item.get_closest_marker("aide")
    return None if marker is None or marker.kwargs.get("_implied") else marker


def _benchmark_disabled(item: pytest.Item) -> str | None:
    """Why pytest-benchmark's ``benchmark`` fixture of this test measured nothing, if so."""
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if fixture is None or not getattr(fixture, "disabled", False):
        return None
    if item.config.getoption("benchmark_disable", default=False):
        return (
            f"{item.nodeid}: the benchmark fixture measured nothing: pytest-benchmark is "
            "disabled (--benchmark-disable, perhaps from addopts); run with "
            "--benchmark-enable to measure it"
        )
    return (
        f"{item.nodeid}: the benchmark fixture measured nothing: pytest-benchmark switches "
        "itself off under pytest-xdist (-n); run this test without -n (or with -p no:xdist), "
        "or measure it with aide_timer, which works under xdist"
    )


def _rearm_benchmark(item: pytest.Item) -> None:
    """Let pytest-benchmark's ``benchmark`` fixture measure once more, for a retry.

    The fixture refuses a second use and lists each use in its own report; the
    retry's use replaces the first one there.
    """
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if fixture is None or not hasattr(fixture, "_mode"):
        return
    listed = getattr(getattr(fixture, "_add_stats", None), "__self__", None)
    if isinstance(listed, list) and fixture.stats in listed:
        listed.remove(fixture.stats)
    fixture._mode = None
    fixture.stats = None


def _file_name(nodeid: str) -> str:
    """A node id as a file name: ``tests/test_x.py::test_y[1]`` -> ``tests_test_x.py__test_y_1``."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid.replace("::", "__"))
    return name.strip("._") or "check"


def _benchmark_timing(item: pytest.Item, name: str) -> TimingResult | None:
    """pytest-benchmark's rounds for this test, when it used the ``benchmark`` fixture."""
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    metadata = getattr(fixture, "stats", None)
    if metadata is None or not metadata.stats.data:
        return None
    samples, calls = list(metadata.stats.data), int(metadata.iterations)
    timer = getattr(fixture, "_timer", None)
    walls = solo.benchmark_walls(len(samples), calls) if timer is solo.benchmark_clock else None
    return TimingResult(
        name,
        samples,
        calls_per_sample=calls,
        gc="disabled" if metadata.options.get("disable_gc") else "enabled",
        measure="solo" if timer in (solo.benchmark_clock, solo.solo_clock) else "wall",
        wall_samples=walls,
    )


class AideSession:
    """Per-session state and the hooks that use it."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.checks: list[Check] = []
        self.workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        """Set in a pytest-xdist worker: its checks go to the controller, not to reports."""
        self.workers = 0
        """In the xdist controller: how many workers measured."""
        self.order: dict[str, int] = {}
        """xdist controller: the collection order of node ids, which the summary keeps."""
        self._remote: dict[str, Check] = {}
        """xdist controller: the workers' checks by node id, as they arrive."""
        self.crashed: list[str] = []
        """xdist: what the controller was told of workers that crashed mid-test."""
        self.scenario_dirs = [absolute(config.rootpath / d) for d in settings.scenario_dirs]
        self._overrides: ProfileOverrides = {}
        self._config_error: str | None = None
        self.outputs: Outputs | None = None
        pyproject = config.rootpath / "pyproject.toml"
        if config.inipath is not None and config.inipath.name == "pyproject.toml":
            pyproject = config.inipath
        try:
            self._overrides = pyproject_profiles(pyproject)
        except ProfileError as exc:
            self._config_error = str(exc)
        if settings.perf:
            self._check_profile_is_known()
        self.snapshots: dict[str, dict[str, float]] = {}
        self.wall_because = solo.why_not()
        """Why checks that do not say measure wall time, not solo time (None: they measure solo)."""
        self.default_measure = "wall" if self.wall_because else "solo"
        """What a check measures when neither it nor ``--aide-measure`` says."""
        self.meter = SystemMeter() if settings.perf else None
        self._time_benchmarks()
        try:
            self.loop_factory = loop_factory(settings.loop)
        except LoopUnavailable as exc:
            raise pytest.UsageError(f"--aide-loop {settings.loop}: {exc}") from None
        self._terminal = self._open_terminal() if settings.perf else None
        self.pair_server = serving(config)
        self.measures_declared = settings.perf or self.pair_server is not None
        """Benchmarks a suite declares are checks: under ``--aide-perf``, and in pair workers."""
        """Set when this session is a ``--aide-against`` pair worker."""
        self.pairs = PairRun()
        """Under ``--aide-against``: every paired call so far."""
        self.paired_items = 0
        self._confirm_revisions: dict[str, Revision] = {}
        """Commits of stored baselines checked out to confirm a suspected regression."""
        self._random = random.Random()
        keep = settings.report_dir / "traces" if settings.keep_traces else None
        self.counting = Counting(settings.valgrind, keep)
        """Instruction counts of the checks that measure them."""
        self.counting_against = Counting(settings.valgrind, None)
        """Under ``--aide-against``: the same counts in REV's tree."""
        self.benchmark_tests = 0
        """Collected tests that use pytest-benchmark's ``benchmark`` fixture."""
        self.opted_out = 0
        """Collected benchmarks the suite declares that ``aide = false`` patterns leave out."""
        self.refused = False
        """The session stopped on a usage error before measuring: nothing to summarise."""
        self.check_patterns: CheckPatterns = []
        self.pyproject_shown = display_path(pyproject, config.rootpath)
        self.pattern_warnings: list[str] = []
        """``[tool.aide.checks]`` patterns that select no collected test, one line each."""
        try:
            self.check_patterns = pyproject_checks(pyproject)
        except ProfileError as exc:
            self._config_error = self._config_error or str(exc)
        self.revision: Revision | None = None
        if settings.perf and settings.against:
            shared = (self.workerinput or {}).get("aide_against")
            try:
                if shared:
                    self.revision = Revision.shared(shared)
                else:
                    self.revision = Revision.check_out(settings.against, config.rootpath)
            except AgainstError as exc:
                raise pytest.UsageError(str(exc)) from None
        self.tracked = Tracked(self.revision.label) if self.revision is not None else None
        """Under ``--aide-against``: REV's numbers of the asv items that yield one."""
        self.stored_run: StoredRun | None = None
        if settings.perf and settings.compare_run is not None:
            self.stored_run = self._read_stored_run(settings.compare_run)

    def _read_stored_run(self, selector: str) -> StoredRun:
        """The history run ``--aide-compare-run`` names, as baselines; one line if it cannot."""
        store = History(self.settings.history or self.settings.report_dir / "history.sqlite")
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
                results=[
                    r for r in kept if isinstance(r, (TimingResult, CountResult, ScalingResult))
                ],
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

    def _check_profile_is_known(self) -> None:
        files = [p for d in self.scenario_dirs if d.is_dir() for p in sorted(d.rglob("*.toml"))]
        known = known_profiles(files, self._overrides)
        name, source = self.settings.profile, self.settings.profile_source
        if name not in known:
            raise pytest.UsageError(
                f"unknown aide profile {name!r} (from {source}); {hint(name, sorted(known))}"
            )

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

    def _pairable(self, item: pytest.Item) -> bool:
        """Whether ``--aide-against`` runs this item in both trees: a timed aide check."""
        if isinstance(item, ScenarioItem):
            scenario = item.scenario
            return scenario is not None and scenario.load is None and scenario.http is None
        fixtures = getattr(item, "fixturenames", ())
        if "aide_timer" in fixtures:
            return True
        if declared(item) is None or not getattr(item, "aide_pairable", True):
            return False
        return self.is_check(item)

    def _pairs_time(self, item: pytest.Item) -> bool:
        """Whether ``--aide-against`` times ``item`` in both trees.

        A check gated on a count is counted in both trees and not timed there,
        unless ``--aide-against-time`` or a time limit of its own asks for it.
        """
        if not self._pairable(item):
            return False
        return (
            self._measure_of(item) not in COUNTED
            or self.settings.against_time
            or self._time_limited(item)
        )

    def _time_limited(self, item: pytest.Item) -> bool:
        """Whether the check's scenario or marker sets a limit on its time figures."""
        limits: dict[str, Threshold] = {}
        if isinstance(item, ScenarioItem):
            if item.scenario is not None:
                limits = item.scenario.thresholds_for(self.settings.profile)
        elif (marker := _own_marker(item)) is not None:
            try:
                limits = _marker_limits(marker).thresholds
            except (ThresholdError, ValueError, TypeError):
                return False  # reported when the test runs
        return any(t.metric in CONFIRMABLE_METRICS for t in limits.values())

    def is_check(self, item: pytest.Item) -> bool:
        """A test aide gates: marked ``aide``, or named in pyproject (checks or profiles)."""
        return _own_marker(item) is not None or self._configured(item) is not None

    def _configured(self, item: pytest.Item) -> dict[str, Threshold] | None:
        """Thresholds pyproject attaches to a measuring test without a marker, else None.

        ``[tool.aide.checks]`` patterns match node ids; a ``[tool.aide.profiles]``
        entry for the profile in force names the test. Only tests that measure
        (pytest-benchmark's ``benchmark`` or an aide fixture) become checks so.
        """
        if not measures(item):
            return None
        if self._config_error:
            return {}  # check_for fails it with the one-line error
        if opted_out(self.check_patterns, item.nodeid):
            return None
        matched = match_checks(self.check_patterns, item.nodeid)
        profile = self._overrides.get(self.settings.profile, {})
        names = (getattr(item, "originalname", None), item.name)
        if matched is None and any(name in profile for name in names if name):
            return {}
        if matched is None and self.measures_declared and declared(item) is not None:
            return {}  # a benchmark the suite declares is a check as it is
        return matched

    def _trees(
        self, items: list[pytest.Item], revision: Revision | None = None
    ) -> tuple[Tree, Tree]:
        """REV's tree and this one, importing the project (and ``items``' targets) from each."""
        revision = revision or self.revision
        assert revision is not None
        extra = [
            item.scenario.target.partition(":")[0]
            for item in items
            if isinstance(item, ScenarioItem) and item.scenario is not None
        ]
        return revision.trees(self.config.rootpath, self.config.inipath, extra)

    def _pair(
        self,
        items: list[pytest.Item],
        revision: Revision | None = None,
        plan: PairPlan | None = None,
    ) -> PairRun:
        """Run ``items`` in REV's worktree (or ``revision``'s) and this tree, interleaved.

        Under ``--aide-against`` the paired calls are kept for the checks.
        """
        revision = revision or self.revision
        assert revision is not None
        a, b = self._trees(items, revision)

        def args_for(tree: Tree) -> list[str]:
            return self._worker_args(items, tree.rootdir)

        run = pair_items(
            a,
            b,
            [item.nodeid for item in items],
            args_for,
            watch=sorted(b.redirects),
            changed=revision.changed_files(),
            plan=plan or PairPlan(tolerance=self.settings.tolerance),
            progress=self.progress,
        )
        if revision is not self.revision:
            return run
        self.pairs.points.update(run.points)
        self.pairs.missing.update(run.missing)
        self.pairs.absent.update(run.absent)
        self.pairs.rounds = max(self.pairs.rounds, run.rounds)
        self.pairs.elapsed += run.elapsed
        self.paired_items += len(items)
        return run

    def _worker_args(self, items: list[pytest.Item], rootdir: Path) -> list[str]:
        """pytest arguments of a worker session (pair or count) that runs ``items``."""
        config = self.config
        files = sorted({item.path.resolve().relative_to(config.rootpath) for item in items})
        options = [*self._session_options(rootdir), "--continue-on-collection-errors"]
        options += ["-p", "no:randomly"]
        if config.pluginmanager.has_plugin("xdist"):
            options += ["-n", "0"]
        return [*options, *(str(f) for f in files if (rootdir / f).exists())]

    def _session_options(self, rootdir: Path) -> list[str]:
        """This session's own pytest options that every worker session must share.

        ``-o``, ``-p``, ``-W``, ``--import-mode`` and ``--confcutdir`` as this
        session got them (a path under this rootdir moves to ``rootdir``); the
        ini file and rootdir are the worker's :class:`Tree`'s, and
        ``PYTEST_ADDOPTS`` reaches it through the environment.
        """
        option = self.config.option
        args: list[str] = []
        for entry in getattr(option, "override_ini", None) or []:
            args += ["-o", entry]
        for name in getattr(option, "plugins", None) or []:
            args += ["-p", name]
        for warning in getattr(option, "pythonwarnings", None) or []:
            args += ["-W", warning]
        mode = getattr(option, "importmode", None)
        if mode:
            args.append(f"--import-mode={mode}")
        given = [*self.config.invocation_params.args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
        cut = getattr(option, "confcutdir", None)
        if cut and any(str(a).startswith("--confcutdir") for a in given):
            path = absolute(Path(cut))
            if path.is_relative_to(self.config.rootpath):
                path = rootdir / path.relative_to(self.config.rootpath)
            args.append(f"--confcutdir={path}")
        asv = self.settings.asv  # the suite's configuration, in the worker's own tree
        if asv is not None:
            if asv.is_relative_to(self.config.rootpath):
                asv = rootdir / asv.relative_to(self.config.rootpath)
            args += ["--aide-asv", str(asv)]
        return args

    def _time_benchmarks(self) -> None:
        """Have pytest-benchmark time its rounds on solo time, when checks measure it.

        Only where solo time is the session's measure and no timer was asked
        for. pytest-benchmark reads its options after this plugin's configure.
        """
        option = self.config.option
        if not self.settings.perf or (self.settings.measure or self.default_measure) != "solo":
            return
        asked = any(a.startswith("--benchmark-timer") for a in self.config.invocation_params.args)
        if getattr(option, "benchmark_timer", None) == "time.perf_counter" and not asked:
            option.benchmark_timer = "pytest_aide.measure.solo.benchmark_clock"

    def _measure_of(self, item: pytest.Item) -> str:
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

    def _can_time(self, items: list[pytest.Item]) -> None:
        """Raise a usage error if a check asks for solo time where the kernel has none."""
        asked = {i.nodeid: "solo" for i in items if self._measure_of(i) == "solo"}
        why = solo.why_not() if asked else None
        if why is not None:
            self._refuse(
                asked,
                f"this system does not report a thread's run-queue wait ({why}); "
                "measure wall or cpu time instead",
            )

    def _can_count(self, items: list[pytest.Item]) -> None:
        """Raise a usage error naming what to install if a check to count cannot be counted."""
        wanted = {i.nodeid: self._measure_of(i) for i in items if self._pairable(i)}
        asked = {nodeid: m for nodeid, m in wanted.items() if m in COUNTED}
        if not asked:
            return
        try:
            find_valgrind(self.settings.valgrind)
        except CountError as exc:
            self._refuse(asked, str(exc))

    def _refuse(self, asked: dict[str, str], why: str) -> NoReturn:
        """Stop the session before measuring: ``asked`` (node id -> measure) cannot be had.

        The one line names what asked (the option, else the first check) and ``why``.
        """
        if self.settings.measure in asked.values():
            source = f"--aide-measure {self.settings.measure}"
        else:
            nodeid, measure = next(iter(asked.items()))
            source = f"{nodeid}: measure={measure!r}"
        self.refused = True
        raise pytest.UsageError(f"{source}: {why}") from None

    def _count(self, items: list[pytest.Item]) -> None:
        """Count the measured calls of the items whose checks measure a count."""
        wanted = {i.nodeid: self._measure_of(i) for i in items if self._pairable(i)}
        wanted = {nodeid: m for nodeid, m in wanted.items() if m in COUNTED}
        if not wanted:
            return
        config = self.config
        tree = Tree("this tree", config.rootpath, config.inipath)
        counted = [item for item in items if item.nodeid in wanted]
        args = self._worker_args(counted, config.rootpath)
        by_function = self.settings.explain == "always"  # a saved baseline keeps them
        self.counting.count(tree, wanted, args, self.progress, by_function)
        if self.revision is not None:
            rev, _ = self._trees(counted)
            args = self._worker_args(counted, rev.rootdir)
            self.counting_against.count(rev, wanted, args, self.progress, by_function)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """Before the tests (serial runs): pair, and count, the checks that ask for it.

        Under ``--aide-against`` every timed check runs in both trees; checks
        that measure instructions or cycles run once more under valgrind.
        """
        if (
            self.workerinput is None
            and self.settings.perf
            and not session.config.option.collectonly
        ):
            if self.revision is not None:
                items = [item for item in session.items if self._pairs_time(item)]
                if items:
                    self._pair(items)
                self._track([item for item in session.items if self._tracks(item)])
            self._count(list(session.items))
        return (yield)

    def _tracks(self, item: pytest.Item) -> bool:
        """Whether ``item`` is an asv benchmark whose number REV's tree yields too."""
        return getattr(item, "aide_tracked", False)  # set by asvitems.AsvItem

    def _track(self, items: list[pytest.Item]) -> None:
        """Run ``items`` once in REV's tree, for the numbers they yield there."""
        assert self.tracked is not None
        if not items:
            return
        rev, _ = self._trees(items)
        args = self._worker_args(items, rev.rootdir)
        self.tracked.run(rev, [item.nodeid for item in items], args, self.progress)

    def _attach_pairs(self, item: pytest.Item, check: Check) -> None:
        """Give ``check`` its paired estimates, or say why it has none against REV."""
        assert self.revision is not None
        if self._tracks(item):
            assert self.tracked is not None
            if not self.tracked.known(item.nodeid):
                self._track([item])  # an xdist worker runs each item as it comes
            self.tracked.attach(item.nodeid, check)
            return
        if not self._pairable(item):
            if declared(item) == "asv":  # asked to compare, and it cannot be: never a pass
                check.uncompared.append(
                    f"{check.name}: not compared against {self.revision.label}: asv "
                    "timeraw_ benchmarks run in fresh interpreters, not in pairs; gate this "
                    "one on a stored baseline"
                )
            elif check.timings:
                check.pair_notes.append(
                    f"{check.name}: not compared against {self.revision.label}: "
                    + (
                        "load results are not paired"
                        if isinstance(item, ScenarioItem)
                        else "only aide_timer, benchmark and scenario timings are paired"
                    )
                )
            return
        counted = [r.name for r in check.results if isinstance(r, CountResult)]
        uncounted = check.count_notes or any(n not in check.against_counts for n in counted)
        if not self._pairs_time(item) and not uncounted:
            return  # gated on its count, counted in both trees
        known = {nodeid for nodeid, _ in self.pairs.points} | set(self.pairs.missing)
        if item.nodeid not in known:
            self._pair([item])  # an xdist worker pairs each item as it comes
        points = {p.label: p for p in self.pairs.for_item(item.nodeid)}
        why = self.pairs.missing.get(item.nodeid)
        names = [result.name for result in check.timings]
        names += [n for r in check.results if isinstance(r, ScalingResult) for n in r.labels()]
        for name in names:  # a scaling check is paired size by size
            point = points.get(name)
            if point is not None and point.problem and point.problem.startswith("both sides"):
                check.pair_problems.append(f"{check.name}: --aide-against: {point.problem}")
            elif point is not None and point.estimate is not None:
                check.paired[name] = point.estimate
                check.pair_sources[name] = {**point.files, "clock": point.clock}
            else:
                problem = point.problem if point is not None else None
                reason = problem or why or "the worker sessions made no matching call"
                line = f"{name}: not compared against {self.revision.label}: {reason}"
                # A check or call REV does not have is new: nothing was there to compare.
                new = item.nodeid in self.pairs.absent or (point is not None and point.one_sided)
                (check.pair_notes if new else check.uncompared).append(line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Remove ``--aide-against``'s worktree; close the progress terminal."""
        if self._terminal is not None:
            self._terminal.close()
            self._terminal = None
        if self.revision is not None:
            self.revision.remove()
            self.revision = None
        for revision in self._confirm_revisions.values():
            revision.remove()
        self._confirm_revisions.clear()

    @property
    def trace_dir(self) -> Path | None:
        """Where memray traces are kept (``--aide-keep-traces``), else None."""
        if not self.settings.keep_traces:
            return None
        path = self.settings.report_dir / "traces"
        path.mkdir(parents=True, exist_ok=True)
        return path

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
        if self._config_error:
            pytest.fail(self._config_error, pytrace=False)
        profile = self._overrides.get(self.settings.profile, {})
        for key in (getattr(item, "originalname", None), item.name, check.name):
            check.thresholds.update(profile.get(key, {}) if key else {})
        return check

    @staticmethod
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

    @property
    def progress(self) -> Progress | None:
        """Where load runs report live progress: the terminal if interactive, else None."""
        return self._show_progress if self._terminal is not None else None

    def _show_progress(self, line: str) -> None:
        if self._terminal is None:
            return
        # Save the cursor, write after pytest's output, erase the rest, restore the cursor.
        self._terminal.write(f"\x1b7 {line}\x1b[K\x1b8" if line else "\x1b[K")
        self._terminal.flush()

    @pytest.hookimpl(optionalhook=True)
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Validate the ``aide`` marker in both modes; a bad one errors the test."""
        marker = _own_marker(item)
        configured = self._configured(item)
        if marker is None:
            if configured is not None:
                self.check_for(item, None, configured)
            return
        try:
            name, thresholds, timeout, _, retry, caches, databases = _marker_limits(marker)
        except ThresholdError as exc:
            self.check_for(item)
            message = f"{item.nodeid}: @pytest.mark.aide: {exc}"
            raise pytest.fail.Exception(message, pytrace=False) from None
        if timeout is not None:
            item.stash[_TIMEOUT_KEY] = (timeout, "@pytest.mark.aide")
        if retry is not None:
            item.stash[_RETRY_KEY] = retry
        if caches is not None:
            item.stash[_CACHES_KEY] = caches
        if databases is not None:
            item.stash[_DATABASES_KEY] = databases
        self.check_for(item, name, {**(configured or {}), **thresholds})

    @staticmethod
    def limit_time(item: pytest.Item, seconds: float, origin: str) -> None:
        """Give ``item``'s check a timeout of ``seconds``, set by ``origin`` (for its message)."""
        item.stash[_TIMEOUT_KEY] = (seconds, origin)

    @staticmethod
    def caches_for(item: pytest.Item) -> list[WatchedCache]:
        """The caches the test's marker names (``caches=``), watched while it measures."""
        return item.stash.get(_CACHES_KEY, [])

    @staticmethod
    def databases_for(item: pytest.Item) -> list[WatchedDatabase]:
        """The connections and engines the test's marker names (``databases=``)."""
        return item.stash.get(_DATABASES_KEY, [])

    def _timeout(self, item: pytest.Item) -> tuple[float, str] | None:
        """The check's timeout and where it was set; None for no limit or no check."""
        own = item.stash.get(_TIMEOUT_KEY, None)
        if own is not None:
            return own
        scenario = item.scenario if isinstance(item, ScenarioItem) else None
        if scenario is not None and scenario.timeout is not None:
            return scenario.timeout, f"scenario {scenario.name!r}"
        is_check = scenario is not None or _CHECK_KEY in item.stash
        if self.settings.timeout is not None and is_check:
            return self.settings.timeout, "--aide-timeout"
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """Run the check under its timeout, if it has one; confirm a suspected failure."""
        limit = self._timeout(item)
        if limit is not None:
            item.stash[_TIMEOUT_KEY] = limit
        started = time.perf_counter()
        with deadline(limit[0] if limit else None, self._stuck(item)):
            result = yield
        check = self.checked(item)
        if check is not None and self.settings.perf and self.pair_server is None:
            self._adopt(item, check)
            self._confirm(item, check, time.perf_counter() - started)
        return result

    def _timed_out_line(self, item: pytest.Item, check: Check) -> str:
        limit, origin = item.stash[_TIMEOUT_KEY]
        return (
            f"{check.name}: timed out: stopped after {format_duration(limit)} "
            f"(timeout from {origin})"
        )

    def _stuck(self, item: pytest.Item) -> Callable[[str], None]:
        """What the watchdog does when a check does not return after its timeout.

        The check fails on one line, its stack is shown, the reports of what
        finished are written and the session ends with pytest's interrupted
        exit code: the hung call cannot be stopped from inside the process.
        """

        def stuck(stack: str) -> None:
            check = self.checked(item)
            name = check.name if check is not None else item.nodeid
            line = f"{name}: timed out and did not return: the session ends here"
            if check is not None and _TIMEOUT_KEY in item.stash:
                line = f"{self._timed_out_line(item, check)} and did not return: the session ends"
                check.verdict = decide(
                    Evidence(check.name, check.results, check.thresholds, timed_out=line)
                )
                check.outcome = "failed"
            capture = self.config.pluginmanager.getplugin("capturemanager")
            with contextlib.suppress(Exception):
                capture.suspend_global_capture(in_=True)
            writer = self.config.get_terminal_writer()
            writer.line()
            writer.line(f"aide: {item.nodeid}: {line}", red=True, bold=True)
            writer.line(f"aide: where it was stuck:\n{stack.rstrip()}")
            try:
                written = self._write_reports(self.config.rootpath)
                if written:
                    writer.line(f"aide: reports of what finished: {', '.join(written)}")
            finally:
                writer.flush()
                sys.stdout.flush()
                os._exit(int(pytest.ExitCode.INTERRUPTED))

        return stuck

    def _adopt(self, item: pytest.Item, check: Check) -> None:
        """Take pytest-benchmark's rounds of this test into its check."""
        adopted = _benchmark_timing(item, check.next_result_name())
        if adopted is not None:
            if adopted.wall_samples and self.timing_measure(item) == "wall":
                adopted = dataclasses.replace(
                    adopted, samples=adopted.wall_samples, measure="wall", wall_samples=None
                )
            check.results.append(adopted)
        item.stash[_ADOPTED_KEY] = adopted is not None

    def _retry_policy(self, item: pytest.Item) -> RetryPolicy:
        """The check's ``retry`` table over ``--aide-confirm``."""
        default = RetryPolicy(max_attempts=self.settings.confirm + 1)
        own = item.stash.get(_RETRY_KEY, None)
        if own is None and isinstance(item, ScenarioItem) and item.scenario is not None:
            own = item.scenario.retry
        return RetryPolicy.from_mapping(own, default) if own is not None else default

    def _confirm(self, item: pytest.Item, check: Check, seconds: float) -> None:
        """Measure a suspected wall-time failure again before it fails (``--aide-confirm``).

        A stored reading whose interval does not lie wholly within the tolerance
        (a slowdown it cannot rule out, or a machine so much faster than when the
        baseline was saved that a slowdown could hide) and whose baseline commit is
        in the repository is measured beside that commit in the same job, which
        decides; anything else suspected is measured again, with backoff, and fails
        only if every attempt breaks it.
        """
        policy = self._retry_policy(item)
        if policy.max_attempts <= 1:
            return
        preview = self.gate.preview(check, self._measure_of(item) in COUNTED)
        suspects, hard = suspicions(preview)
        if hard:
            return
        hinted = [c for c in preview.comparisons if looks_changed(c)]
        notes: list[str] = []
        same_job = self._pairable(item)  # else its call runs in no worker: measure it again
        if hinted and same_job and all(key.endswith(":regression") for key in suspects):
            fallback = self._confirm_same_job(item, check, seconds, hinted)
            if fallback is None:
                return
            notes = fallback
        if not suspects:
            check.notes += notes  # the stored verdict stands; say why it was not checked
            return
        first = Attempt(1, 0.0, seconds, suspects)
        retrying = Retrying(policy, first)
        began = time.perf_counter()
        raised: BaseException | None = None
        while not retrying.done and raised is None:
            time.sleep(retrying.next_delay(self._random.random()))
            attempt, raised = self._attempt(
                item, check, len(retrying.attempts) + 1, origin=began - seconds
            )
            retrying.add(attempt)
        check.confirmation = retrying.result(time.perf_counter() - began)
        check.confirmation.notes = notes
        if raised is not None:
            raise raised

    def _attempt(
        self, item: pytest.Item, check: Check, number: int, origin: float
    ) -> tuple[Attempt, BaseException | None]:
        """Run the test again and see which wall-time limits it breaks this time.

        Returns the attempt (timed from ``origin``, when the first attempt began)
        and the exception the test raised, if it did: that is not retried away,
        it fails the test.
        """
        previous = list(check.results)
        check.results.clear()
        _rearm_benchmark(item)
        limit = item.stash.get(_TIMEOUT_KEY, None)
        started = time.perf_counter()
        try:
            with deadline(limit[0] if limit else None, self._stuck(item)):
                item.runtest()
        except BaseException as exc:
            check.results[:] = previous  # the figures of the last attempt that measured
            took = time.perf_counter() - started
            return Attempt(number, started - origin, took, raised=repr(exc)), exc
        seconds = time.perf_counter() - started
        self._adopt(item, check)
        suspects, hard = suspicions(self.gate.preview(check, self._measure_of(item) in COUNTED))
        # A failure that cannot be noise ends the confirmation; the gate reports it.
        hard_line = hard[0] if hard else None
        return Attempt(number, started - origin, seconds, suspects, hard=hard_line), None

    def _confirm_same_job(
        self, item: pytest.Item, check: Check, seconds: float, stored: list[Comparison]
    ) -> list[str] | None:
        """Measure the stored baseline's commit beside this tree, where ``stored`` looked off.

        Returns None when it was done, else notes saying why it cannot be done
        here (no commit, a modified tree, a commit not in this clone). A worker
        that crashed or refused is a comparison not made (:attr:`Check.uncompared`).
        """
        commit, dirty = check.baseline_commit or (None, False)
        if commit is None:
            return [f"{check.name}: the stored baseline records no commit: measured again instead"]
        if dirty:
            return [
                f"{check.name}: the stored baseline was measured on a modified tree at "
                f"{commit[:7]}: measured again instead"
            ]
        began = time.perf_counter()
        tolerance = self.gate.time_tolerance(check)
        plan = PairPlan(tolerance=tolerance, decide_at=DECIDE_AT)
        try:
            revision = self._confirm_revisions.get(commit)
            if revision is None:
                revision = Revision.check_out(commit, self.config.rootpath)
                revision.name = commit[:7]
                self._confirm_revisions[commit] = revision
            run = self._pair([item], revision, plan)
        except (AgainstError, OSError) as exc:
            reason = str(exc).split(": ", 1)[-1]
            return [
                f"{check.name}: the stored baseline's commit {commit[:7]} cannot be measured "
                f"here ({reason}): measured again instead"
            ]
        points = {p.label: p for p in run.for_item(item.nodeid)}
        paired = [
            Comparison(
                result.name,
                point.estimate,
                tolerance,
                "",
                True,
                revision.label,
                clock=point.clock,
            )
            for result in check.timings
            if (point := points.get(result.name)) is not None and point.estimate is not None
        ]
        if not paired:
            problems = [p.problem for p in points.values() if p.problem]
            why = (
                run.missing.get(item.nodeid)
                or (problems[0] if problems else None)
                or "the worker sessions made no matching call"
            )
            line = f"{check.name}: same-job confirmation against {commit[:7]} failed ({why})"
            if item.nodeid in run.absent:
                return [f"{line}: measured again instead"]
            check.uncompared.append(line)
            return []
        confirmed = {
            failure_key(c.subject, "regression") for c in paired if c.status == "regressed"
        }
        suspected = {failure_key(c.subject, "regression"): c.line() for c in stored}
        check.confirmation = Confirmation(
            "same-job",
            suspected,
            confirmed,
            [Attempt(1, 0.0, seconds, suspected)],
            seconds=time.perf_counter() - began,
            against=revision.label,
            paired=paired,
            stored=stored,
        )
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Turn a failing verdict into a failed test with one line per problem."""
        report = yield
        check = self.checked(item)
        if check is None:
            return report
        if call.excinfo is not None and call.excinfo.errisinstance(CheckTimeout):
            line = self._timed_out_line(item, check)
            report.longrepr = line
            check.verdict = decide(
                Evidence(check.name, check.results, check.thresholds, timed_out=line)
            )
            check.outcome = "failed"
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
            if report.passed and self.settings.perf:
                adopted = item.stash.get(_ADOPTED_KEY, False)
                if self.workerinput is not None and item.nodeid not in self.counting.measures:
                    self._count([item])  # an xdist worker counts each item as it comes
                check.count_notes += self.counting.attach(item.nodeid, check)
                if self.revision is not None:
                    self.counting_against.attach_against(item.nodeid, check, self.revision.label)
                    self._attach_pairs(item, check)
                self.gate.count_slugs.update(self.counting.slugs(self.gate.machine))
                disabled = None if adopted else _benchmark_disabled(item)
                explain = self.settings.explain
                if explain == "always":  # before the verdict: a saved baseline keeps it
                    self._explain(item, check)
                verdict = self.gate.evaluate(check, unmeasured=disabled)
                if explain == "fail" and verdict.status in ("FAIL", "REGRESSED"):
                    self._explain(item, check)
                if not verdict.passed:
                    report.outcome = "failed"
                    explained = check.explanation(
                        self.settings.report_dir, self.config.rootpath, explain != "never"
                    )
                    report.longrepr = "\n".join([*verdict.lines(), *explained])
            if report.failed:
                check.outcome = "failed"
        return report

    def _attribute_counts(self, item: pytest.Item, check: Check) -> None:
        """Give the check's counts (and REV's) their instructions per Python function.

        They are counted once more, with CPython's perf trampoline (3.12+);
        under ``--aide-explain always`` that was done with the first count.
        """
        counts = [r for r in check.results if isinstance(r, CountResult)]
        if not counts or all(r.functions for r in counts):
            return
        if self.counting.attribute([item.nodeid], self.progress) is not None:
            return
        functions = self.counting.functions
        check.results[:] = [
            dataclasses.replace(r, functions=functions.get((item.nodeid, r.name), []))
            if isinstance(r, CountResult)
            else r
            for r in check.results
        ]
        if self.revision is not None and check.against_counts:
            self.counting_against.attribute([item.nodeid], self.progress)
            theirs = self.counting_against.functions
            for name, result in check.against_counts.items():
                if isinstance(result, CountResult):
                    found = theirs.get((item.nodeid, name), [])
                    check.against_counts[name] = dataclasses.replace(result, functions=found)

    def _explain(self, item: pytest.Item, check: Check) -> None:
        """Run the test once more with its measured calls profiled (``--aide-explain``).

        The check keeps its figures: the profiled run's stand in for nothing.
        A test that raises while profiled, or measures nothing the runner sees
        (a pytest-benchmark test), gets a note instead of a profile.
        """
        self._attribute_counts(item, check)
        kept = list(check.results)
        directory = self.settings.report_dir / "profiles"
        stem = _file_name(item.nodeid)
        check.results.clear()  # so the profiled calls take the measured calls' names
        funcargs = getattr(item, "funcargs", {})
        fixture = funcargs.get("benchmark")
        with profiling(directory, stem) as request:
            if fixture is not None:
                funcargs["benchmark"] = ProfiledBenchmark(fixture, check.name, request)
            limit = item.stash.get(_TIMEOUT_KEY, None)
            try:
                with deadline(limit[0] if limit else None, self._stuck(item)):
                    item.runtest()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # pytest.skip/fail too: the verdict stands
                if not request.profiles:
                    request.notes.append(
                        f"{check.name}: not profiled: the test raised {type(exc).__name__}: {exc}"
                    )
            finally:
                check.results[:] = kept
                if fixture is not None:
                    funcargs["benchmark"] = fixture
        for profile in request.profiles:  # as the reports link them, beside report.html
            profile.files = {
                kind: os.path.relpath(path, self.settings.report_dir)
                for kind, path in profile.files.items()
            }
        check.profiles = request.profiles
        check.profile_notes = request.notes
        if self.revision is not None and request.profiles:
            self._profile_revision(item, check)
        if not request.profiles and not request.notes:
            check.profile_notes.append(
                f"{check.name}: not profiled: no call went through aide_timer, aide_load, "
                "benchmark or a scenario"
            )

    def _profile_revision(self, item: pytest.Item, check: Check) -> None:
        """Profile the check in REV's worktree too, for a differential profile (``--aide-against``).

        A pytest session of its own in the worktree, with ``--aide-explain always``.
        """
        assert self.revision is not None
        label = self.revision.label
        with tempfile.TemporaryDirectory(prefix="aide-explain-") as tmp:
            command = [sys.executable, "-m", "pytest", item.nodeid, "--aide-perf"]
            command += ["--aide-explain=always", "--aide-confirm=0", "-p", "no:randomly"]
            command += ["-p", "no:cacheprovider", "-p", "no:xdist", f"--aide-report-dir={tmp}"]
            command += self._session_options(self.revision.path_for(self.config.rootpath))
            done = subprocess.run(
                command,
                cwd=self.revision.path_for(self.config.rootpath),
                capture_output=True,
                text=True,
                check=False,
            )
            report = Path(tmp, "report.json")
            checks = json.loads(report.read_text())["checks"] if report.is_file() else []
        found = [Profile.from_dict(p) for c in checks for p in c.get("profiles") or []]
        if not found:
            last = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()[-1]
            check.profile_notes.append(
                f"{check.name}: no differential profile: {label} could not be profiled ({last})"
            )
            return
        here = str(self.revision.toplevel.resolve()) + os.sep
        if any(f.file.startswith(here) for p in found for f in p.functions):
            check.profile_notes.append(
                f"{check.name}: no differential profile: {label}'s session ran this tree's "
                "code (an install that points here)"
            )
            return
        there = str(self.revision.worktree.resolve()) + os.sep
        for profile in found:  # the same function in both trees gets the same key
            profile.functions = [
                dataclasses.replace(f, file=here + f.file.removeprefix(there))
                if f.file.startswith(there)
                else f
                for f in profile.functions
            ]
        check.baseline_profiles = (f"{label} in the same job", found)

    def take(self, checks: list[Check]) -> None:
        """xdist controller: keep a worker's latest word on each check; ordered at the end."""
        self._remote.update((check.nodeid, check) for check in checks)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the reports and append the run to the history under ``--aide-perf``."""
        if self._remote:
            self.checks = sorted(
                [*self.checks, *self._remote.values()],
                key=lambda c: self.order.get(c.nodeid, len(self.order)),
            )
        if not self.settings.perf or not self.checks or self.workerinput is not None:
            return  # an xdist worker's checks went to the controller (relay.py)
        self._write_reports()

    def _write_reports(self, shown_from: Path | None = None) -> list[str]:
        """Write report.json, the history and the other outputs; the files, as shown."""
        self.snapshots["end"] = self.snapshot()
        settings = self.settings
        report = build_report(self.checks, profile=settings.profile, machine=self.gate.machine)
        report["system"] = self.snapshots
        report["slug"] = self.gate.slug
        report["xdist_workers"] = self.workers
        commit, dirty = self.source
        report["commit"], report["dirty"] = commit, dirty if commit else None
        report["branch"] = code_branch(self.config.rootpath) if commit else None
        if self.stored_run is not None:
            report["compared_with"] = self.stored_run.label
        if self.crashed:
            report["crashed_workers"] = self.crashed
        if self.revision is not None:
            report["against"] = {
                "revision": self.revision.label,
                "commit": self.revision.commit,
                "paired_checks": self.paired_items,
                "rounds": self.pairs.rounds,
                "seconds": round(self.pairs.elapsed, 3),
            }
        history = settings.history or settings.report_dir / "history.sqlite"
        report["history"] = display_path(history, self.config.rootpath)
        self.outputs = write_outputs(
            report,
            settings.report_dir,
            history=history,
            benchmark_json=settings.benchmark_json,
        )
        root = shown_from or self.config.rootpath
        return [display_path(p, root) for p in self.outputs.written]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Snapshot the machine before measuring; count pytest-benchmark tests for advice.

        A counted measure that cannot be counted here is a usage error before
        anything is measured.
        """
        if self.settings.perf and not session.config.option.collectonly:
            self._can_count(session.items)
            self._can_time(session.items)
        if self.settings.perf and self.workerinput is None:
            self.snapshots["start"] = self.snapshot()
        self.benchmark_tests = sum(
            1 for item in session.items if "benchmark" in getattr(item, "fixturenames", ())
        )
        self.opted_out = sum(
            1
            for item in session.items
            if declared(item) and opted_out(self.check_patterns, item.nodeid)
        )
