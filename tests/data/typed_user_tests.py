from __future__ import annotations

import pytest

from pytest_aide.fixtures import AideCpu, AideLoad, AideMemory, AideTimer
from pytest_aide.results import LoadResult, TimingResult


def work(n: int) -> int:
    return sum(range(n))


@pytest.mark.aide(mean="2s")
def test_timer(aide_timer: AideTimer) -> None:
    result: TimingResult = aide_timer(work, 100, iterations=5)
    assert result.mean >= 0


def test_load(aide_load: AideLoad) -> None:
    result = aide_load(work, 10, concurrency=2, requests=4)
    assert isinstance(result, LoadResult)
    assert result.error_rate == 0


def test_memory(aide_memory: AideMemory, aide_cpu: AideCpu) -> None:
    with aide_memory() as mem:
        bytearray(1000)
    assert mem.peak_bytes >= 0
    with aide_cpu() as cpu:
        work(1000)
    assert cpu.mean_percent >= 0
