"""The pytest-free runner: one check description in, its results out."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_aide.measure.load import LoadPlan
from pytest_aide.measure.timer import TimingPlan
from pytest_aide.results import CpuResult, LoadResult, MemoryResult, SweepResult, TimingResult
from pytest_aide.runner import CheckRun, Load, run_check, run_check_async


def work(n: int = 2000) -> int:
    return sum(i * i for i in range(n))


def test_timing_with_cpu_and_memory_in_order() -> None:
    calls = []

    def target(n: int) -> int:
        calls.append(n)
        return work(n)

    run = CheckRun(
        "w",
        target,
        (500,),
        plan=TimingPlan(iterations=3, warmup=0, min_time=0),
        cpu_interval=0.01,
        memory={},
    )
    timing, cpu, memory = run_check(run)
    assert isinstance(timing, TimingResult) and timing.iterations == 3
    assert isinstance(cpu, CpuResult) and isinstance(memory, MemoryResult)
    assert set(calls) == {500}


def test_smoke_calls_once_and_skips_cpu_and_memory() -> None:
    calls = []
    run = CheckRun(
        "w",
        lambda: calls.append(1),
        plan=TimingPlan(smoke=True),
        cpu_interval=0.01,
        memory={},
    )
    (result,) = run_check(run)
    assert isinstance(result, TimingResult) and result.mode == "smoke" and calls == [1]


def test_load_instead_of_timing() -> None:
    run = CheckRun("l", work, load=Load(LoadPlan(2, requests=6), "thread"))
    (result,) = run_check(run)
    assert isinstance(result, LoadResult) and result.completed == 6


def test_a_pair_worker_serves_the_call_to_the_controller() -> None:
    class Server:
        def serve(self, nodeid: str, label: str, fn: Any, args: tuple, kwargs: dict, *_: Any):
            return (nodeid, label, fn(*args, **kwargs))

    run = CheckRun("w", work, (10,), server=Server(), nodeid="t.py::test_w", memory={})
    (result,) = run_check(run)
    assert result.mode == "smoke" and result.value == ("t.py::test_w", "w", work(10))


@pytest.mark.parametrize("smoke", [True, False])
def test_the_target_raising_propagates(smoke: bool) -> None:
    run = CheckRun("w", lambda: 1 / 0, plan=TimingPlan(iterations=1, warmup=0, smoke=smoke))
    with pytest.raises(ZeroDivisionError):
        run_check(run)


def test_async_timing_and_async_sweep_on_the_running_loop() -> None:
    import asyncio

    async def nap() -> None:
        await asyncio.sleep(0.001)

    async def main() -> tuple[Any, Any]:
        (timing,) = await run_check_async(
            CheckRun("t", nap, plan=TimingPlan(iterations=2, warmup=0, min_time=0))
        )
        (sweep,) = await run_check_async(
            CheckRun("s", nap, load=Load(LoadPlan(1, requests=4), "async", [1, 2]))
        )
        return timing, sweep

    timing, sweep = asyncio.run(main())
    assert isinstance(timing, TimingResult) and timing.iterations == 2
    assert isinstance(sweep, SweepResult) and [lv.concurrency for lv in sweep.levels] == [1, 2]
