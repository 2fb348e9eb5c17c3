"""aide_timer through real pytest sessions: modes, calibration, async, overrides."""

from __future__ import annotations

import pytest

WORKLOAD = """
import asyncio
import pytest

CALLS = []

def work(n=2000):
    CALLS.append(n)
    return sum(i * i for i in range(n))

async def awork(n=2000):
    await asyncio.sleep(0)
    return sum(i * i for i in range(n))
"""


def test_smoke_mode_runs_the_callable_exactly_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        WORKLOAD
        + """
def test_once(aide_timer):
    result = aide_timer(work, 500, iterations=50, warmup=5)
    assert CALLS == [500]
    assert result.iterations == 1 and result.mode == "smoke"
    assert result.value == sum(i * i for i in range(500))
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "aide performance summary" not in result.stdout.str()


def test_perf_mode_measures_every_iteration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        WORKLOAD
        + """
def test_measured(aide_timer):
    result = aide_timer(work, iterations=7, warmup=3)
    assert result.iterations == 7 and result.mode == "perf"
    # every sample and warmup ran, plus at least two calibration rounds
    assert len(CALLS) >= 7 * result.calls_per_sample + 3
    assert result.min <= result.median <= result.max
    assert result.throughput == pytest.approx(1 / result.mean)
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*aide performance summary*", "check*mean*median*status", "test_measured *PASS"]
    )


def test_sub_microsecond_callable_is_calibrated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
from pytest_aide.measure.timer import MIN_SAMPLE_NS

def noop():
    pass

def test_noop(aide_timer):
    result = aide_timer(noop, iterations=20)
    assert result.calls_per_sample > 1
    # figures are per call, not per batch
    assert result.median < MIN_SAMPLE_NS / 1e9
    assert result.median * result.calls_per_sample > 0
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)


def test_coroutine_function_from_a_sync_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        WORKLOAD
        + """
def test_sync_calls_async(aide_timer):
    result = aide_timer(awork, 100, iterations=3)
    assert result.value == sum(i * i for i in range(100))
    assert result.iterations == 3
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)


def test_async_test_awaits_async_(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        WORKLOAD
        + """
@pytest.mark.asyncio
async def test_in_loop(aide_timer):
    loop = asyncio.get_running_loop()
    result = await aide_timer.async_(awork, 100, iterations=4, warmup=1)
    assert result.iterations == 4 and result.value == sum(i * i for i in range(100))
    assert asyncio.get_running_loop() is loop
    synced = await aide_timer.async_(work, 10, iterations=2)
    assert synced.iterations == 2 and synced.name == "test_in_loop#2"

@pytest.mark.asyncio
async def test_sync_call_inside_loop_is_refused(aide_timer):
    with pytest.raises(RuntimeError, match="use 'await aide_timer.async_"):
        aide_timer(awork)
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=2)


def test_command_line_overrides_counts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        WORKLOAD
        + """
def test_counts(aide_timer):
    result = aide_timer(work, iterations=50, warmup=9)
    assert (result.iterations, result.warmup) == (4, 0)
"""
    )
    result = pytester.runpytest("--aide-perf", "--aide-iterations", "4", "--aide-warmup", "0")
    result.assert_outcomes(passed=1)


def test_ini_twins_are_read(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naide_perf = true\naide_iterations = 5\naide_warmup = 1\n")
    pytester.makepyfile(
        WORKLOAD
        + """
def test_counts(aide_timer):
    result = aide_timer(work, iterations=50)
    assert (result.mode, result.iterations, result.warmup) == ("perf", 5, 1)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*aide performance summary*"])


def test_command_line_wins_over_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naide_iterations = 5\n")
    pytester.makepyfile(
        WORKLOAD
        + """
def test_counts(aide_timer):
    assert aide_timer(work).iterations == 3
"""
    )
    pytester.runpytest("--aide-perf", "--aide-iterations=3").assert_outcomes(passed=1)


def test_gc_policy_is_recorded_and_restored(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        WORKLOAD
        + """
import gc

def test_gc(aide_timer):
    assert aide_timer(work, iterations=2).gc == "enabled"
    assert aide_timer(work, iterations=2, gc=False).gc == "disabled"
    assert gc.isenabled()
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)


def test_keyword_arguments_reach_the_callable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        WORKLOAD
        + """
def test_kwargs(aide_timer):
    result = aide_timer(work, n=10, name="squares", iterations=2)
    assert result.name == "squares" and result.value == 285
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["squares *PASS"])


def test_exception_in_the_callable_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def boom():
    raise KeyError("missing")

def test_boom(aide_timer):
    aide_timer(boom)
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*KeyError: 'missing'*", "test_boom * FAIL"])
