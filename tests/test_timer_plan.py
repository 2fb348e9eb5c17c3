"""Calibration and sampling decisions, driven with given elapsed times (no clock)."""

from __future__ import annotations

import gc
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.measure.timer import (
    MIN_SAMPLE_NS,
    NothingTimed,
    TimingPlan,
    _driver,
    _target_sample_ns,
    measure_interleaved,
    timer_overhead_ns,
)
from pytest_aide.results import TimingResult


def _run(plan: TimingPlan, ns_per_call: float) -> tuple[TimingResult, list[int]]:
    """Answer the driver as if every call took ``ns_per_call``; return result and batches."""
    driver = _driver("f", plan)
    batches = [next(driver)]
    try:
        while True:
            batches.append(driver.send((int(batches[-1] * ns_per_call), "value")))
    except StopIteration as done:
        return done.value, batches


def test_fixed_cost_of_a_sample_is_below_one_percent() -> None:
    assert _target_sample_ns() >= 100 * timer_overhead_ns()
    assert _target_sample_ns() >= MIN_SAMPLE_NS


@given(st.floats(min_value=0.5, max_value=5e9), st.integers(1, 30), st.integers(0, 5))
def test_samples_are_long_enough_and_per_call(ns_per_call: float, iterations: int, warmup: int):
    result, batches = _run(
        TimingPlan(iterations=iterations, warmup=warmup, min_time=0), ns_per_call
    )
    calls = result.calls_per_sample
    assert result.iterations == iterations
    assert calls * ns_per_call >= _target_sample_ns() or calls == 1 or calls == 10_000_000
    if ns_per_call >= _target_sample_ns():
        assert calls == 1
    assert result.mean == pytest.approx(int(calls * ns_per_call) / calls / 1e9)
    # At least two calibration rounds run; they count towards the warmup.
    before_samples = len(batches) - iterations
    assert before_samples >= max(2, warmup)
    assert batches[-iterations:] == [calls] * iterations


@given(st.floats(min_value=1.0, max_value=1e8), st.integers(1, 5))
def test_warmup_lasts_at_least_the_warmup_time(ns_per_call: float, warmup: int) -> None:
    plan = TimingPlan(iterations=3, warmup=warmup, warmup_time=0.01)
    _, batches = _run(plan, ns_per_call)
    warm = batches[:-3]
    spent = sum(int(calls * ns_per_call) for calls in warm)
    assert spent >= 0.01 * 1e9 and len(warm) >= warmup
    # it stops as soon as both are met
    assert sum(int(c * ns_per_call) for c in warm[:-1]) < 0.01 * 1e9 or len(warm) - 1 < max(
        warmup, 2
    )


@given(st.floats(min_value=1.0, max_value=1e8), st.integers(1, 50))
def test_samples_span_the_minimum_time(ns_per_call: float, iterations: int) -> None:
    plan = TimingPlan(iterations=iterations, warmup=0, min_time=0.05)
    result, batches = _run(plan, ns_per_call)
    spanned = sum(int(c * ns_per_call) for c in batches[-iterations:])
    assert result.iterations == iterations
    assert spanned >= 0.05e9 * 0.999 or result.calls_per_sample == 10_000_000
    # no longer than needed: one call fewer per sample would fall short, or calibration set it
    if result.calls_per_sample > 1:
        shorter = (result.calls_per_sample - 1) * ns_per_call * iterations
        assert shorter < 0.05e9 * 1.001 or result.calls_per_sample * ns_per_call < 3 * 20_000


def test_no_warmup_means_no_warmup_time() -> None:
    plan = TimingPlan(iterations=2, warmup=0, warmup_time=10.0, min_time=0)
    _, batches = _run(plan, ns_per_call=1e6)
    assert len(batches) == 2 + 2  # two calibration rounds, two samples


def test_sub_microsecond_callable_is_batched() -> None:
    result, _ = _run(TimingPlan(iterations=5, min_time=0), ns_per_call=40)
    assert result.calls_per_sample * 40 >= MIN_SAMPLE_NS
    assert result.mean == pytest.approx(40e-9)


def test_smoke_plan_calls_once() -> None:
    result, batches = _run(TimingPlan(smoke=True), ns_per_call=1e6)
    assert batches == [1]
    assert result.mode == "smoke" and result.iterations == 1 and result.value == "value"


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"iterations": 0}, "iterations"), ({"warmup": -1}, "warmup")]
)
def test_plan_rejects_bad_counts(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimingPlan(**kwargs)


def test_interleaved_inputs_take_turns_and_each_gets_its_samples() -> None:
    seen: list[int] = []
    gc_states: list[bool] = []

    def work(which: int, size: int) -> int:
        seen.append(which)
        gc_states.append(gc.isenabled())
        return sum(range(size))

    plan = TimingPlan(iterations=6, warmup=1, min_time=0.001, warmup_time=0.001, gc=False)
    inputs = [(f"work[n={n}]", (i, n), {}) for i, n in enumerate((10, 1000, 100_000))]
    results = measure_interleaved(work, inputs, plan=plan)
    assert [r.name for r in results] == ["work[n=10]", "work[n=1000]", "work[n=100000]"]
    assert all(len(r.samples) == 6 and r.gc == "disabled" for r in results)
    # Batches alternate: each input's calls come in stretches, one per batch, with the
    # others' batches between them, from the first round on.
    owners = [which for which, _ in itertools.groupby(seen)]
    assert owners[:3] == [0, 1, 2]
    assert all(owners.count(which) >= 6 + 2 for which in (0, 1, 2))  # samples, calibration
    assert gc.isenabled() and not any(gc_states)


def test_interleaving_refuses_a_target_that_returns_an_awaitable() -> None:
    async def job() -> None:
        pass

    with pytest.raises(NothingTimed):
        measure_interleaved(lambda: job(), [("a", (), {})], plan=TimingPlan(iterations=2))
