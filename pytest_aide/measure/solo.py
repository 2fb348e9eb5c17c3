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
import resource
import threading
from collections.abc import Callable
from time import perf_counter, perf_counter_ns, process_time_ns, thread_time_ns

import psutil

__all__ = [
    "HANDOFF_SHARE",
    "MeasureClock",
    "OtherWork",
    "SoloUnavailable",
    "available",
    "benchmark_clock",
    "benchmark_walls",
    "measure_clock",
    "ran_and_waited_ns",
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


def _schedstat() -> tuple[int, int]:
    """This thread's ns on a CPU and ns on a run queue, so far (its schedstat's first fields)."""
    try:
        fields = os.pread(_fd(), 128, 0).split()
        return int(fields[0]), int(fields[1])
    except (IndexError, ValueError) as exc:
        raise SoloUnavailable(f"schedstat of thread {_local.tid} unreadable: {exc}") from None


def run_queue_wait_ns() -> int:
    """Nanoseconds this thread has waited on a run queue since it started."""
    return _schedstat()[1]


def ran_and_waited_ns() -> tuple[int, int] | None:
    """This thread's ns on a CPU and ns waiting for one, so far; None where unreadable."""
    try:
        return _schedstat()
    except SoloUnavailable:
        return None


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


def benchmark_clock() -> float:
    """:func:`solo_clock` for pytest-benchmark's rounds, noting the wall clock of each read.

    pytest-aide sets it as ``--benchmark-timer`` when checks measure solo time
    and no other timer was asked for; :func:`benchmark_walls` then gives the
    measured rounds their wall figures too.
    """
    now = solo_clock()
    walls = getattr(_local, "walls", None)
    if walls is None:
        walls = _local.walls = []
    walls.append(perf_counter())
    return now


def benchmark_walls(rounds: int, iterations: int) -> list[float] | None:
    """Wall seconds per call of the last ``rounds`` rounds :func:`benchmark_clock` timed.

    Each round reads the clock at its start and its end; the reads are
    forgotten once asked for. None when fewer reads were made.
    """
    walls = getattr(_local, "walls", None) or []
    _local.walls = []
    if rounds < 1 or len(walls) < 2 * rounds:
        return None
    last = walls[-2 * rounds :]
    return [(last[i + 1] - last[i]) / iterations for i in range(0, 2 * rounds, 2)]


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

    Called at the start and at the end of what it times, like
    ``perf_counter_ns`` (a batch, or each call of one); returns the measure's
    nanoseconds, and adds the wall time of every start-to-end stretch to
    :attr:`batch_wall`, so a result can show the wall figures beside the ones
    that gate.
    """

    def __init__(self, measure: str, read: Callable[[], int]) -> None:
        self.measure = measure
        self._read = read
        self._started: int | None = None
        self.batch_wall = 0
        """Wall nanoseconds of the stretches timed since :meth:`take_wall` last took them."""

    def __call__(self) -> int:
        value = self._read()
        now = perf_counter_ns()
        if self._started is None:
            self._started = now
        else:
            self.batch_wall += now - self._started
            self._started = None
        return value

    def take_wall(self) -> int:
        """The wall nanoseconds timed so far (a batch's, read after it), starting afresh."""
        wall, self.batch_wall = self.batch_wall, 0
        return wall


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


HANDOFF_SHARE = 0.1
"""Other threads and child processes that spend this share of the measured thread's own
time on the CPU while it is measured are taken to do the measured work with it."""
_HANDOFF_FLOOR_NS = 1_000_000


def _children_cpu() -> dict[int, int]:
    """CPU ns of each live child process (recursively), by pid."""
    cpu = {}
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return cpu
    for child in children:
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        cpu[child.pid] = int((times.user + times.system) * 1e9)
    return cpu


def _reaped_cpu() -> int:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


class OtherWork:
    """CPU time spent by the process's other threads and by child processes since it was made.

    A measure read on one thread (solo, cpu) leaves out what the thread waits
    for: work handed to a thread pool, a subprocess or a server the process
    started runs elsewhere, and its own waits for a CPU are still in the
    measured thread's time. This tells when that happened while measuring.
    """

    def __init__(self) -> None:
        self._threads = process_time_ns() - thread_time_ns()
        self._reaped = _reaped_cpu()
        self._live = _children_cpu()

    def spent(self) -> tuple[int, int]:
        """(ns of CPU the other threads spent, ns the child processes spent) so far."""
        threads = process_time_ns() - thread_time_ns() - self._threads
        children = _reaped_cpu() - self._reaped
        for pid, cpu in _children_cpu().items():
            children += cpu - self._live.get(pid, 0)
        return max(threads, 0), max(children, 0)

    def handoff(self, own_ns: float, measure: str) -> str | None:
        """Why the measured thread's ``own_ns`` of ``measure`` time miss work done elsewhere."""
        threads, children = self.spent()
        if threads + children < max(_HANDOFF_FLOOR_NS, HANDOFF_SHARE * own_ns):
            return None
        where = [
            f"other threads {threads / 1e6:.1f} ms" if threads >= _HANDOFF_FLOOR_NS else "",
            f"child processes {children / 1e6:.1f} ms" if children >= _HANDOFF_FLOOR_NS else "",
        ]
        share = (threads + children) / max(own_ns, 1)
        return (
            f"hands work to {' and '.join(w for w in where if w) or 'other threads'} of CPU "
            f"while measured ({share:.0%} of its {measure} time): their waits for a CPU "
            "are not taken out"
        )
