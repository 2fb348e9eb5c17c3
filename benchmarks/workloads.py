"""Workloads for the benchmarks: a fixed count of real operations, scaled by a factor."""

from __future__ import annotations

BASE_OPS = 20_000
"""Operations of the unscaled workload (about 0.8 ms of CPU on this project's VM)."""


def work(scale: float = 1.0) -> int:
    """Sum of squares over ``BASE_OPS * scale`` integers: real CPU work, never a sleep."""
    return sum(i * i for i in range(int(BASE_OPS * scale)))


def noop() -> None:
    """Does nothing: the floor of what a timer can measure."""


def one_microsecond() -> int:
    """About 1 µs of work on this project's VM."""
    return sum(range(110))


async def anoop() -> None:
    """The coroutine that does nothing."""
