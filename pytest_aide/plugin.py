"""pytest entry point: options, the marker, the fixtures and which stages this run has.

Each stage is a plugin object of its own, registered here only when its option
is on; they share the run's :class:`~pytest_aide.session.AideSession`.
"""

from __future__ import annotations

import os
from typing import NoReturn, TypeVar

import pytest

from pytest_aide.asv import CONFIG_NAME
from pytest_aide.asvitems import AsvSuite
from pytest_aide.collecting import COLLECTION_NAME, Collection
from pytest_aide.config import Settings, display_path, option_conflict
from pytest_aide.confirming import CONFIRMING_NAME, Confirming, asks_to_retry
from pytest_aide.counting_stage import COUNTING_NAME, CountingStage, counted
from pytest_aide.explaining import EXPLAINING_NAME, Explaining
from pytest_aide.fixtures import AideCpu, AideLoad, AideMemory, AideScaling, AideTimer
from pytest_aide.judging import JUDGING_NAME, Judging
from pytest_aide.marks import BENCHMARK_MARKER_HELP, MARKER_HELP
from pytest_aide.options import OptionError, add_options, read_settings
from pytest_aide.pairing import PAIRING_NAME, Pairing
from pytest_aide.relay import RELAY_NAME, XdistRelay
from pytest_aide.reporting import REPORTS_NAME, Reports
from pytest_aide.session import SESSION_KEY, SESSION_NAME, AideSession, AsyncioLoops
from pytest_aide.sharding import SHARDING_NAME, Sharding
from pytest_aide.suites import DeclaredBenchmarks
from pytest_aide.summary import SUMMARY_NAME, TerminalSummary
from pytest_aide.timelimits import TIMELIMITS_NAME, TimeLimits

__all__ = ["aide_cpu", "aide_load", "aide_memory", "aide_scaling", "aide_timer"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``aide`` option group from the options table; each has an ini twin."""
    group = parser.getgroup("aide", "pytest-aide: performance measurement and gates")
    add_options(group.addoption, parser.addini)


def _read_settings(config: pytest.Config) -> Settings:
    try:
        return read_settings(config.getoption, config.getini, config.rootpath, os.environ)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, the session's state and the stages its options ask for."""
    config.addinivalue_line("markers", MARKER_HELP)
    settings = _read_settings(config)
    conflict = option_conflict(settings)
    if conflict:
        raise pytest.UsageError(conflict)
    session = AideSession.start(config, settings)
    config.stash[SESSION_KEY] = session
    register = config.pluginmanager.register
    register(session, SESSION_NAME)
    # Registered later, further out: a call is timed inside Judging, both inside Confirming.
    register(TimeLimits(session), TIMELIMITS_NAME)
    register(Judging(session), JUDGING_NAME)
    register(Collection(session), COLLECTION_NAME)
    register(TerminalSummary(session), SUMMARY_NAME)
    if config.pluginmanager.has_plugin("xdist"):
        register(XdistRelay(session), RELAY_NAME)
    if settings.perf:
        register(Reports(session), REPORTS_NAME)
        if session.revision is not None:
            register(Pairing(session, session.revision), PAIRING_NAME)
        if settings.shard is not None:
            register(Sharding(session), SHARDING_NAME)
        if settings.explain != "never":
            register(Explaining(session), EXPLAINING_NAME)
        if settings.confirm > 0 and session.pair_server is None:
            register(Confirming(session), CONFIRMING_NAME)
    if session.measures_declared:
        _register_suites(config, session)
    if not any(config.pluginmanager.has_plugin(n) for n in ("benchmark", "codspeed")):
        config.addinivalue_line("markers", BENCHMARK_MARKER_HELP)
    if session.loop_factory is not None and config.pluginmanager.has_plugin("asyncio"):
        register(AsyncioLoops(session.loop_factory), "aide-asyncio-loop")


def _register_suites(config: pytest.Config, session: AideSession) -> None:
    """Benchmarks the suite declares: pytest-benchmark's and codspeed's, an asv suite."""
    settings = session.settings
    benchmarks = DeclaredBenchmarks(_timer_for, session.is_check)
    config.pluginmanager.register(benchmarks, "aide-declared-benchmarks")
    asv = settings.asv or config.rootpath / CONFIG_NAME
    if settings.asv is not None or asv.is_file():
        shown = display_path(asv, config.rootpath)
        suite = AsvSuite(asv, shown, _timer_for, session)
        if suite.error and settings.asv is not None:  # asked for: the run cannot do it
            raise pytest.UsageError(suite.error)
        config.pluginmanager.register(suite, "aide-asv")


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Register the stages the collected checks ask for: counting, and their own retries."""
    aide = session.config.stash[SESSION_KEY]
    manager = session.config.pluginmanager
    if not aide.settings.perf or session.config.option.collectonly:
        return
    if counted(aide, session.items) and not manager.has_plugin(COUNTING_NAME):
        manager.register(CountingStage(aide), COUNTING_NAME)
    retries = aide.pair_server is None and any(asks_to_retry(i) for i in session.items)
    if retries and not manager.has_plugin(CONFIRMING_NAME):
        manager.register(Confirming(aide), CONFIRMING_NAME)


@pytest.fixture
def aide_timer(request: pytest.FixtureRequest) -> AideTimer:
    """Time a callable: ``aide_timer(fn, *args, iterations=10, warmup=2, **kwargs)``.

    Returns a :class:`~pytest_aide.results.TimingResult`. In async tests use
    ``await aide_timer.async_(fn, ...)``.
    """
    return _timer_for(request.node, AideTimer)


_Timer = TypeVar("_Timer", bound=AideTimer)


def _timer_for(node: pytest.Item, kind: type[_Timer]) -> _Timer:
    """A timer of ``kind`` that records into ``node``'s check, on its plan and pair server."""
    session = node.config.stash[SESSION_KEY]
    return kind(
        session.check_for(node),
        session.plan_for(node),
        loop_factory=session.loop_factory,
        server=session.pair_server,
        fail=_fail,
        caches=session.caches_for(node),
        databases=session.databases_for(node),
    )


@pytest.fixture
def aide_scaling(request: pytest.FixtureRequest) -> AideScaling:
    """How cost grows with size: ``aide_scaling(fn, sizes=[...], order="n log n")``.

    ``setup=make`` builds each size's input outside the measured calls; ``arg="n"``
    passes it as a keyword. Returns a :class:`~pytest_aide.results.ScalingResult`.
    """
    return _timer_for(request.node, AideScaling)


def _skip(reason: str) -> NoReturn:
    pytest.skip(reason)


def _fail(message: str) -> NoReturn:
    # "from None": a failure raised while handling the cause shows only its own line.
    raise pytest.fail.Exception(message, pytrace=False) from None


@pytest.fixture
def aide_memory(request: pytest.FixtureRequest) -> AideMemory:
    """Trace memory with memray: ``with aide_memory() as mem: ...``; then ``mem.peak_bytes``.

    ``aide_memory(python_allocators=True)`` sees every Python allocation (slower);
    the default sees pymalloc as 1 MiB arenas. Never falls back to tracemalloc.
    """
    session = request.config.stash[SESSION_KEY]
    return AideMemory(session.check_for(request.node), session.trace_dir, _skip, _fail)


@pytest.fixture
def aide_cpu(request: pytest.FixtureRequest) -> AideCpu:
    """Sample CPU from a helper process: ``with aide_cpu(interval=0.05) as cpu: ...``.

    Then ``cpu.mean_percent`` (100 = one core; more with threads), ``cpu.max_percent``,
    ``cpu.samples``, ``cpu.system_percent`` and ``cpu.rss_peak_bytes``.
    """
    session = request.config.stash[SESSION_KEY]
    return AideCpu(session.check_for(request.node), _fail)


@pytest.fixture
def aide_load(request: pytest.FixtureRequest) -> AideLoad:
    """Concurrent load: ``aide_load(fn, *args, concurrency=50, requests=250, mode="thread")``.

    Returns a ``LoadResult`` (completed, errors, error_rate, throughput, p50, p95,
    p99, mean, max, wall_time). In async tests: ``await aide_load.async_(fn, ...)``.
    """
    session = request.config.stash[SESSION_KEY]
    return AideLoad(
        session.check_for(request.node),
        smoke=not session.settings.perf,
        loop_factory=session.loop_factory,
        progress=session.progress,
        fail=_fail,
        caches=session.caches_for(request.node),
        databases=session.databases_for(request.node),
    )
