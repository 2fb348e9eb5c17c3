"""The ``aide`` marker's keywords, and what pytest-benchmark's fixture measured.

Read by the stages that judge, time-limit, confirm and explain a check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from pytest_aide.confirm import retry_table
from pytest_aide.measure import solo
from pytest_aide.measure.caches import WatchedCache, resolve_caches
from pytest_aide.measure.counts import measure_name
from pytest_aide.measure.queries import WatchedDatabase, resolve_databases
from pytest_aide.results import TimingResult
from pytest_aide.units import parse_timeout
from pytest_aide.verdict import Threshold, ThresholdError, parse_thresholds

__all__ = [
    "BENCHMARK_MARKER_HELP",
    "CACHES_KEY",
    "DATABASES_KEY",
    "MARKER_HELP",
    "RETRY_KEY",
    "TIMEOUT_KEY",
    "MarkerLimits",
    "benchmark_disabled",
    "benchmark_timing",
    "file_name",
    "marker_limits",
    "own_marker",
    "rearm_benchmark",
]

MARKER_HELP = (
    "aide(name=None, timeout=None, caches=None, databases=None, **thresholds): performance "
    "limits for this test, e.g. @pytest.mark.aide(mean='2s', p95='250ms', throughput_min=50, "
    "timeout='1min'); caches=[cached_func] reports their hit rate over aide_timer/aide_load's "
    "measured calls (cache_hit_rate_min='90%' gates it), databases=[sqlite3 connection or "
    "SQLAlchemy engine] their SQL statements per call (queries_max=3 gates it); enforced under "
    "--aide-perf (the timeout always)"
)

BENCHMARK_MARKER_HELP = (
    "benchmark: measure the whole test (pytest-codspeed's marker); under --aide-perf "
    "pytest-aide times its body as a check"
)


TIMEOUT_KEY = pytest.StashKey[tuple[float, str]]()
"""An item's time limit in seconds and where it was set."""
RETRY_KEY = pytest.StashKey[dict[str, Any]]()
"""The marker's ``retry`` table, for confirmation."""
CACHES_KEY = pytest.StashKey[list[WatchedCache]]()
"""The caches the marker names (``caches=``)."""
DATABASES_KEY = pytest.StashKey[list[WatchedDatabase]]()
"""The connections and engines the marker names (``databases=``)."""


class MarkerLimits(NamedTuple):
    """What an ``aide`` marker asks for besides its name: limits, timeout, measure, retry."""

    name: str | None
    thresholds: dict[str, Threshold]
    timeout: float | None
    measure: str | None
    retry: dict[str, Any] | None
    caches: list[WatchedCache] | None
    databases: list[WatchedDatabase] | None


def marker_limits(marker: pytest.Mark) -> MarkerLimits:
    """The marker's keywords, parsed; a ThresholdError names the first bad one."""
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
    return MarkerLimits(name, thresholds, timeout, measure, retry, caches, databases)


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


def own_marker(item: pytest.Item) -> pytest.Mark | None:
    """The ``aide`` marker the user wrote, not the one collection adds for ``-m aide``."""
    marker = item.get_closest_marker("aide")
    return None if marker is None or marker.kwargs.get("_implied") else marker


def benchmark_disabled(item: pytest.Item) -> str | None:
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


def rearm_benchmark(item: pytest.Item) -> None:
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


def file_name(nodeid: str) -> str:
    """A node id as a file name: ``tests/test_x.py::test_y[1]`` -> ``tests_test_x.py__test_y_1``."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid.replace("::", "__"))
    return name.strip("._") or "check"


def benchmark_timing(item: pytest.Item, name: str) -> TimingResult | None:
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
