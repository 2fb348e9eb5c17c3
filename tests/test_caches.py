"""Cache efficiency: hits and misses over the measured calls, and ``cache_hit_rate_min``."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.measure.caches import CacheError, CacheWatch, resolve_caches
from pytest_aide.measure.load import LoadPlan
from pytest_aide.measure.timer import TimingPlan
from pytest_aide.results import CacheResult, result_from_dict
from pytest_aide.runner import CheckRun, Load, RunError, run_check

SCHEMA = Path(__file__).parent.parent / "pytest_aide" / "report" / "report.schema.json"


@functools.lru_cache(maxsize=8)
def _square(n: int) -> int:
    return n * n


def test_the_watch_counts_only_what_happens_between_start_and_stop() -> None:
    _square.cache_clear()
    (watched,) = resolve_caches([_square])
    assert watched.name == f"{__name__}:_square"
    for n in range(4):
        _square(n)  # before: four misses, not counted
    watch = CacheWatch("w", [watched])
    watch.start()
    for n in range(6):
        _square(n)  # four hits, two misses
    (stats,) = watch.stop().caches
    assert (stats.hits, stats.misses, stats.maxsize, stats.currsize) == (4, 2, 8, 6)
    assert stats.hit_rate == pytest.approx(4 / 6)


def test_warmup_is_left_out_of_a_timed_checks_figures() -> None:
    _square.cache_clear()

    def the_same_keys() -> int:
        return sum(_square(n) for n in range(5))

    plan = TimingPlan(iterations=3, warmup=1, min_time=0, warmup_time=0)
    timing, caches = run_check(
        CheckRun("t", the_same_keys, plan=plan, caches=resolve_caches([_square]))
    )
    assert isinstance(caches, CacheResult)
    # Warmup made the five misses; every measured call only hit.
    calls = timing.iterations * timing.calls_per_sample
    assert (caches.hits, caches.misses, caches.hit_rate) == (5 * calls, 0, 1.0)
    assert caches.metrics() == {"cache_hit_rate": 1.0}


def test_a_load_counts_every_request() -> None:
    counter = iter(range(10**9))

    @functools.cache
    def fresh(n: int) -> int:
        return n

    def always_new() -> int:
        return fresh(next(counter))

    load = Load(LoadPlan(2, requests=40), "thread")
    result, caches = run_check(CheckRun("l", always_new, load=load, caches=resolve_caches([fresh])))
    assert result.completed == 40
    assert isinstance(caches, CacheResult)
    assert (caches.hits, caches.misses, caches.hit_rate) == (0, 40, 0.0)
    (stats,) = caches.caches
    assert stats.maxsize is None and "unbounded" in stats.summary()


def test_a_process_load_cannot_read_its_workers_caches() -> None:
    load = Load(LoadPlan(2, requests=4), "process", spec=("x:y", "."))
    with pytest.raises(RunError, match=r"process-mode load .* caches this process cannot see"):
        run_check(CheckRun("p", _square, (1,), load=load, caches=resolve_caches([_square])))


def test_a_result_survives_its_dict_and_the_schema_describes_it() -> None:
    _square.cache_clear()
    watch = CacheWatch("r", resolve_caches([_square]))
    watch.start()
    _square(1)
    _square(1)
    result = watch.stop()
    data = json.loads(json.dumps(result.to_dict()))
    assert result_from_dict(data) == result
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(data, {"$defs": schema["$defs"], "$ref": "#/$defs/result"})
    assert data["hit_rate"] == 0.5 and data["caches"][0]["currsize"] == 1
    assert CacheWatch("n", resolve_caches([_square])).stop().metrics() == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("os.path:join", "'os.path:join' is not a cache wrapper: join has no cache_info()"),
        ("no_such_module_x:f", "cannot import 'no_such_module_x'"),
        ("functools:nothing_here", "has no attribute 'nothing_here'"),
        ("functools", "expected 'package.module:function', got 'functools'"),
    ],
)
def test_what_is_not_a_cache_is_one_line(spec: str, message: str) -> None:
    with pytest.raises(CacheError) as raised:
        resolve_caches([spec])
    assert message in str(raised.value) and "\n" not in str(raised.value)


CACHED_MODULE = """
import functools

@functools.lru_cache(maxsize=64)
def lookup(key):
    return sum(range(200 + key))

@functools.cache
def fresh(key):
    return key

_counter = iter(range(10**9))

def same_keys():
    return [lookup(k) for k in range(16)]

def new_keys():
    return fresh(next(_counter))

def plain(key):
    return key

def half_new():
    return lookup(1), lookup(1000 + next(_counter))
"""

SCENARIOS = """
[scenarios.warm]
target = "cachedmod:same_keys"
iterations = 5
caches = ["cachedmod:lookup"]
thresholds = { cache_hit_rate_min = "90%" }

[scenarios.cold]
target = "cachedmod:new_keys"
iterations = 5
caches = ["cachedmod:fresh", "cachedmod:lookup"]
thresholds = { cache_hit_rate_min = 0.9 }

[scenarios.not_a_cache]
target = "cachedmod:same_keys"
caches = ["cachedmod:plain"]

[scenarios.untouched]
target = "cachedmod:same_keys"
caches = ["cachedmod:fresh"]
thresholds = { cache_hit_rate_min = "50%" }
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(cachedmod=CACHED_MODULE)
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "caches.toml").write_text(SCENARIOS)
    pytester.syspathinsert()
    return pytester


def test_scenarios_gate_their_hit_rate_and_report_it(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf", "-p", "no:randomly", "scenarios")
    result.assert_outcomes(passed=1, failed=3)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*scenarios/caches.toml: scenario 'not_a_cache': key 'caches': 'cachedmod:plain' "
            "is not a cache wrapper: plain has no cache_info()*",
        ]
    )
    result.stdout.fnmatch_lines(["cold: cache_hit_rate 0.0% < 90.0%"])
    result.stdout.fnmatch_lines(
        ["untouched: threshold 'cache_hit_rate_min' is set but nothing measured*"]
    )
    result.stdout.fnmatch_lines(
        [
            "warm: cache hit rate 100.0%: cachedmod:lookup 100.0% hits (* hits, 0 misses, "
            "16/64 entries)",
            "cold: cache hit rate 0.0%: cachedmod:fresh 0.0% hits (0 hits, * misses, "
            "*/unbounded entries); cachedmod:lookup no lookups*",
        ]
    )
    assert "Traceback" not in out and "INTERNALERROR" not in out
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    warm = next(c for c in report["checks"] if c["id"].endswith("warm"))
    (cache,) = [r for r in warm["results"] if r["kind"] == "cache"]
    assert cache["hit_rate"] == 1.0 and cache["caches"][0]["name"] == "cachedmod:lookup"
    markdown = (project.path / ".aide" / "report.md").read_text()
    assert "## Caches" in markdown
    assert "| `warm` | `cachedmod:lookup` | 100.0% |" in markdown
    page = (project.path / ".aide" / "report.html").read_text()
    assert 'data-chart="caches"' in page and "cache hit rate 100.0%" in page


def test_without_perf_caches_are_checked_but_nothing_is_gated(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:randomly", "scenarios")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*'not_a_cache': key 'caches': *not a cache wrapper*"])


MARKED = """
import pytest
from cachedmod import lookup, same_keys, new_keys, plain

@pytest.mark.aide(caches=[lookup], cache_hit_rate_min="90%")
def test_warm(aide_timer):
    aide_timer(same_keys, iterations=5)

@pytest.mark.aide(caches="cachedmod:fresh", cache_hit_rate_min="90%")
def test_cold(aide_timer):
    aide_timer(new_keys, iterations=5)

@pytest.mark.aide(caches=[lookup], cache_hit_rate_min="90%")
def test_under_load(aide_load):
    aide_load(same_keys, concurrency=4, requests=40)

@pytest.mark.aide(caches=[plain])
def test_not_a_cache(aide_timer):
    aide_timer(same_keys)

@pytest.mark.asyncio
@pytest.mark.aide(caches=[lookup], cache_hit_rate_min="90%")
async def test_async_warm(aide_timer):
    async def twice():
        return same_keys()
    await aide_timer.async_(twice, iterations=5)
"""


def test_the_marker_names_caches_for_the_tests_measurements(project: pytest.Pytester) -> None:
    project.makepyfile(test_marked=MARKED)
    result = project.runpytest("--aide-perf", "-p", "no:randomly", "test_marked.py")
    result.assert_outcomes(passed=3, failed=1, errors=1)
    result.stdout.fnmatch_lines(["test_cold: cache_hit_rate 0.0% < 90.0%"])
    result.stdout.fnmatch_lines(
        [
            "*test_marked.py::test_not_a_cache: @pytest.mark.aide: caches: "
            "'cachedmod:plain' is not a cache wrapper*"
        ]
    )
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    rates = {
        c["id"].split("::")[1]: [r["hit_rate"] for r in c["results"] if r["kind"] == "cache"]
        for c in report["checks"]
    }
    assert rates["test_warm"] == [1.0] and rates["test_cold"] == [0.0]
    assert rates["test_under_load"] == [1.0] and rates["test_async_warm"] == [1.0]
    assert "Traceback" not in result.stdout.str()


def test_baselines_keep_the_hit_rate_and_compare_shows_its_change(
    project: pytest.Pytester,
) -> None:
    one = '[scenarios.c]\ntarget = "cachedmod:{}"\niterations = 3\ncaches = ["cachedmod:lookup"]\n'
    (project.path / "scenarios" / "caches.toml").write_text(one.format("same_keys"))
    args = ("--aide-perf", "-p", "no:randomly", "--aide-confirm", "0", "scenarios")
    project.runpytest(*args, "--aide-save-baseline").assert_outcomes(passed=1)
    (saved,) = (project.path / "baselines").rglob("c.json")
    kinds = [r["kind"] for r in json.loads(saved.read_text())["results"]]
    assert kinds == ["timing", "cache"]
    (project.path / "scenarios" / "caches.toml").write_text(one.format("half_new"))
    project.runpytest(*args, "--aide-no-compare").assert_outcomes(passed=1)
    new = project.path / ".aide" / "report.json"
    result = project.run(
        sys.executable, "-m", "pytest_aide.cli", "compare", str(saved.parent), str(new)
    )
    result.stdout.fnmatch_lines(
        ["cache hit rate: scenarios/caches.toml::c: 100.0% -> 50.0% (-50.0 points; *"]
    )
    as_json = project.run(
        sys.executable,
        "-m",
        "pytest_aide.cli",
        "compare",
        str(saved.parent),
        str(new),
        "--format",
        "json",
    )
    (rate,) = json.loads(as_json.stdout.str())["cache_hit_rates"]
    assert (rate["old"], rate["new"]) == (1.0, 0.5)
