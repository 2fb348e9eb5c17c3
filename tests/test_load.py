"""aide_load: concurrent load through real pytest sessions.

Latency assertions are lower bounds that a sleep guarantees (a 20 ms sleep never
takes less) with generous upper bounds, so they hold on a slow, noisy machine.
"""

from __future__ import annotations

import json

import pytest

from pytest_aide.results import LoadResult
from pytest_aide.verdict import judge, parse_thresholds

COMMON = """
import asyncio, itertools, time
import pytest

COUNT = itertools.count()

def sleepy():
    time.sleep(0.02)

async def asleepy():
    await asyncio.sleep(0.02)

def flaky():
    n = next(COUNT)
    if n % 10 == 0:
        raise ConnectionError(f"reset #{n}")
    if n % 7 == 0:
        raise ValueError("bad input")
"""


def test_latencies_percentiles_and_throughput(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        COMMON
        + """
def test_threads(aide_load):
    result = aide_load(sleepy, concurrency=10, requests=60)
    assert result.completed == 60 and result.errors == 0 and result.error_rate == 0
    assert len(result.latencies) == 60
    assert 0.02 <= result.p50 <= result.p95 <= result.p99 <= result.max < 30
    assert result.throughput <= 10 / 0.02 * 1.01  # ten workers cannot beat 500 req/s
    assert result.concurrency == 10 and result.mode == "thread"

@pytest.mark.asyncio
async def test_async(aide_load):
    result = await aide_load.async_(asleepy, concurrency=50, requests=150)
    assert result.completed == 150 and result.mode == "async" and result.p50 >= 0.02
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=2)


def test_errors_are_counted_by_type_and_never_stop_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        COMMON
        + """
def test_flaky(aide_load):
    result = aide_load(flaky, concurrency=4, requests=70)
    # requests 0..69: 7 multiples of 10, 9 multiples of 7 that are not (0 is both)
    assert result.error_types == {"ConnectionError": 7, "ValueError": 9}
    assert result.completed + result.errors == 70
    assert result.error_rate == pytest.approx(16 / 70)
    assert len(result.error_messages) == 5
    assert all(m.startswith(("ConnectionError: reset #", "ValueError: bad input"))
               for m in result.error_messages)
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)


def test_timeouts_are_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        COMMON
        + """
async def slow():
    await asyncio.sleep(60.0)

def test_async_timeout(aide_load):
    started = time.perf_counter()
    result = aide_load(slow, concurrency=5, requests=10, mode="async", timeout=0.05)
    assert result.error_types == {"TimeoutError": 10} and result.completed == 0
    assert time.perf_counter() - started < 20  # cancelled, not waited for (2 x 60 s)

def test_thread_timeout(aide_load):
    result = aide_load(time.sleep, 0.1, concurrency=2, requests=4, timeout=0.05)
    assert result.error_types == {"TimeoutError": 4}
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=2)


def test_open_loop_rate_keeps_its_schedule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        COMMON
        + """
def test_rate(aide_load):
    result = aide_load(sleepy, concurrency=20, requests=30, rate=100)
    # request 29 is due 0.29 s after the start, and takes at least 20 ms
    assert result.wall_time >= 0.29 + 0.02
    assert result.completed == 30

def test_stalled_system_is_not_hidden(aide_load):
    # one worker, requests due every 10 ms, each taking 20 ms: the backlog grows and
    # latency from the intended start shows it
    result = aide_load(sleepy, concurrency=1, requests=10, rate=100)
    assert result.max >= 0.02 + 9 * 0.01
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=2)


def test_duration_limits_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        COMMON
        + """
def test_duration(aide_load):
    result = aide_load(sleepy, concurrency=4, duration=0.3)
    assert 0.3 <= result.wall_time < 30
    assert result.completed <= 4 * (0.3 / 0.02 + 1)
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)


def test_load_thresholds_fail_with_one_line_each(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        COMMON
        + """
@pytest.mark.aide(error_rate_max=0.05, p95="1ms", throughput_min=1e9)
def test_gated(aide_load):
    aide_load(flaky, concurrency=2, requests=30)
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "test_gated: error_rate *% > 5.0%",
            "test_gated: throughput * ops/s < 1,000,000,000.0 ops/s",
            "test_gated: * ok, * errors (*%, ConnectionError *, ValueError *), * req/s at "
            "concurrency 2 (thread); p50 *; first error: ConnectionError: reset #0",
        ]
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    (load,) = report["checks"][0]["results"]
    assert load["kind"] == "load" and load["errors"] >= 1


def test_smoke_mode_sends_one_request(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        COMMON
        + """
CALLS = []

def test_smoke(aide_load):
    result = aide_load(CALLS.append, 1, concurrency=50, requests=500)
    assert CALLS == [1] and result.completed == 1
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            'aide_load(sleepy, mode="fork")',
            "aide_load: unknown mode 'fork' (known: thread, async, process)",
        ),
        (
            'aide_load(lambda: 1, mode="process")',
            'aide_load(mode="process") needs a module-level function to import in its worker '
            "processes, got <function *",
        ),
        (
            "aide_load(sleepy, concurrency=0)",
            "aide_load: concurrency must be from 1 to 10000, got 0",
        ),
        ("aide_load(sleepy, requests=-5)", "aide_load: requests must be from 1 to 1e+09, got -5"),
        (
            "aide_load(sleepy, requests=2, rate=1e-300)",
            "aide_load: rate must be from 1.65344e-06 to 1e+09, got 1e-300",
        ),
        (
            "aide_load(lambda: asleepy(), concurrency=2, requests=4)",
            "aide_load: the target returned an awaitable without awaiting it, so only creating "
            "it would be timed: make the target 'async def' (it is then awaited on an event loop)",
        ),
        (
            "aide_load(sleepy, concurrency=[1, 'x'])",
            "aide_load: concurrency must be a whole number or a list of them, got [1, 'x']",
        ),
    ],
)
def test_bad_arguments_are_clear(pytester: pytest.Pytester, call: str, message: str) -> None:
    pytester.makepyfile(COMMON + f"\ndef test_bad(aide_load):\n    {call}\n")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])
    assert "pytest_aide/" not in result.stdout.str() and "ValueError" not in result.stdout.str()


def test_process_mode_imports_by_module_path_and_counts_crashes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        aide_load_mod="""
import os

def cpu():
    return sum(i * i for i in range(50000))

def crash(how):
    if how == "die":
        os._exit(3)
"""
    )
    pytester.makepyfile(
        """
from aide_load_mod import cpu, crash

def test_cpu(aide_load):
    result = aide_load(cpu, concurrency=2, requests=12, mode="process")
    assert result.completed == 12 and result.mode == "process"

def test_crash(aide_load):
    result = aide_load(crash, "die", concurrency=2, requests=4, mode="process")
    assert result.error_types == {"WorkerCrashed": 4} and result.completed == 0
"""
    )
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.runpytest("--aide-perf").assert_outcomes(passed=2)


def test_load_result_round_trips_and_judges() -> None:
    result = LoadResult("l", [0.1, 0.2, 0.3], errors=1, error_types={"E": 1}, wall_time=1.0)
    assert LoadResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert result.error_rate == 0.25 and result.throughput == 3.0 and result.p50 == 0.2
    verdict = judge("l", [result], parse_thresholds({"error_rate_max": 0.1, "median": "1s"}))
    assert verdict.lines() == ["l: error_rate 25.0% > 10.0%"]
    with pytest.raises(Exception, match="expected a number from 0 to 1 or a percentage"):
        parse_thresholds({"error_rate_max": 5})
    assert parse_thresholds({"error_rate_max": "5%"})["error_rate_max"].limit == 0.05
