"""Solo time: wall time minus the time the measuring thread waited for a CPU.

Linux reports, per thread, the nanoseconds it sat runnable on a run queue
while another task held the CPU: the second field of
``/proc/self/task/<tid>/schedstat``. Taken out of the wall clock, that wait
leaves what the code itself took, sleeps, I/O and waits on servers included,
whatever the neighbours do. Each thread opens its schedstat file once; a read
is one ``pread`` (about 0.8 us). Knows nothing of pytest.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from time import perf_counter, perf_counter_ns, thread_time_ns

__all__ = [
    "MeasureClock",
    "SoloUnavailable",
    "available",
    "measure_clock",
    "run_queue_wait_ns",
    "solo_clock",
    "solo_ns",
    "why_not",
]

_local = threading.local()


class SoloUnavailable(OSError):
    """The kernel does not report this thread's run-queue wait."""


def _fd() -> int:
    fd = getattr(_local, "fd", None)
    if fd is None:
        path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise SoloUnavailable(f"{path}: {exc.strerror or exc}") from None
        _local.fd = fd
        _local.tid = threading.get_native_id()
    return fd


def run_queue_wait_ns() -> int:
    """Nanoseconds this thread has waited on a run queue since it started."""
    try:
        fields = os.pread(_fd(), 128, 0).split()
        return int(fields[1])
    except (IndexError, ValueError) as exc:
        raise SoloUnavailable(f"schedstat of thread {_local.tid} unreadable: {exc}") from None


def solo_ns() -> int:
    """This thread's solo clock in ns: ``perf_counter_ns()`` minus its run-queue wait so far.

    Monotonic per thread: the wait grows no faster than the wall clock. Only
    differences taken on one thread mean anything. The wait is read on both
    sides of the wall clock and the reading retried until both agree: a wait
    that fell between the reads would otherwise count as the code's time (or
    the next reading's), and the clock would step back.
    """
    wait = run_queue_wait_ns()
    for _ in range(8):
        now = perf_counter_ns()
        after = run_queue_wait_ns()
        if after == wait:
            break
        wait = after
    return now - wait


def solo_clock() -> float:
    """This thread's solo clock in seconds (``perf_counter`` where the kernel reports no wait).

    A monotonic per-thread clock that does not advance while the thread waits
    for a CPU another task holds; pass it to pytest-benchmark as
    ``--benchmark-timer pytest_aide.solo_clock``.
    """
    try:
        return solo_ns() / 1e9
    except SoloUnavailable:
        return perf_counter()


def why_not() -> str | None:
    """Why solo time cannot be read here, or None when it can."""
    try:
        first = run_queue_wait_ns()
    except SoloUnavailable as exc:
        return str(exc)
    if first < 0:
        return "the kernel reports a negative run-queue wait"
    return None


def available() -> bool:
    """Whether this thread's run-queue wait can be read."""
    return why_not() is None


class MeasureClock:
    """Reads a measure's clock and the wall clock together, for batches of calls.

    Called before and after each batch, like ``perf_counter_ns``; returns the
    measure's nanoseconds, and keeps the wall time of the last batch in
    :attr:`batch_wall`, so a result can show the wall figures beside the ones
    that gate.
    """

    def __init__(self, measure: str, read: Callable[[], int]) -> None:
        self.measure = measure
        self._read = read
        self._now: int | None = None
        self.batch_wall = 0
        """Wall nanoseconds between the last two reads (the last batch, once it ended)."""

    def __call__(self) -> int:
        value = self._read()
        now = perf_counter_ns()
        if self._now is not None:
            self.batch_wall = now - self._now
        self._now = now
        return value


def measure_clock(measure: str) -> MeasureClock | None:
    """A fresh clock for ``solo`` or ``cpu`` (None for ``wall``: ``perf_counter_ns`` alone).

    ``solo`` where this thread's run-queue wait cannot be read raises
    :class:`SoloUnavailable`.
    """
    if measure == "solo":
        solo_ns()  # opens this thread's schedstat file, or says why it cannot
        return MeasureClock("solo", solo_ns)
    if measure == "cpu":
        return MeasureClock("cpu", thread_time_ns)
    return None
