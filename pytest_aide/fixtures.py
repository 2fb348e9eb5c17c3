"""The objects behind aide's fixtures; they record results into a check."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from pytest_aide.against import importable_spec
from pytest_aide.check import Check
from pytest_aide.config import MAX_COUNT
from pytest_aide.growth import GrowthError, scaling_spec
from pytest_aide.measure.caches import WatchedCache
from pytest_aide.measure.cpu import CpuTrace, CpuUnavailable
from pytest_aide.measure.load import (
    LOAD_MODES,
    LoadPlan,
    Progress,
    smoke_load,
)
from pytest_aide.measure.memory import MemoryConflict, MemoryTrace, MemoryUnavailable
from pytest_aide.measure.queries import WatchedDatabase
from pytest_aide.measure.timer import (
    LoopFactory,
    TimingPlan,
    pedantic,
)
from pytest_aide.pairworker import PairServer, pedantic_batch
from pytest_aide.results import Result, TimingResult
from pytest_aide.runner import (
    CheckRun,
    Load,
    ProfiledBenchmark,
    RunError,
    Scaling,
    profiling_request,
    run_check,
    run_check_async,
)
from pytest_aide.units import hint, shown

__all__ = ["AideCpu", "AideLoad", "AideMemory", "AideScaling", "AideTimer"]

__tracebackhide__ = True
"""pytest leaves this module's frames out of a failing test's traceback: what the user
sees of a target that raised is the target's own code (``--full-trace`` shows all)."""


def _raise(message: str) -> NoReturn:
    raise ValueError(message)


class AideTimer:
    """Times callables for one test: ``aide_timer(fn, *args, iterations=10, warmup=2)``.

    Without ``--aide-perf`` the callable runs exactly once and the result holds
    that single call. Keyword arguments other than ``iterations``, ``warmup``,
    ``name`` and ``gc`` are passed to ``fn``.
    """

    fixture = "aide_timer"
    """The fixture's name, as its error messages give it."""

    def __init__(
        self,
        check: Check,
        plan: Callable[[int, int, bool], TimingPlan],
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
        server: PairServer | None = None,
        fail: Callable[[str], NoReturn] | None = None,
        caches: list[WatchedCache] | None = None,
        databases: list[WatchedDatabase] | None = None,
    ) -> None:
        self._check = check
        self._plan = plan
        self._fail = fail or _raise
        self._loop_factory = loop_factory
        self._server = server
        """Set in a ``--aide-against`` pair worker: calls are timed on the controller's orders."""
        self._caches = list(caches or [])
        self._databases = list(databases or [])

    def _prepare(
        self, iterations: int, warmup: int, name: str | None, gc: bool
    ) -> tuple[TimingPlan, str]:
        for key, value, least in (("iterations", iterations, 1), ("warmup", warmup, 0)):
            whole = isinstance(value, int) and not isinstance(value, bool)
            if not whole or not least <= value <= MAX_COUNT:
                self._fail(
                    f"{self.fixture}: {key} must be a whole number from {least} to "
                    f"{MAX_COUNT:,}, got {shown(value)}"
                )
        if name is not None and not isinstance(name, str):
            self._fail(f"{self.fixture}: name must be a string, got {shown(name)}")
        return self._plan(iterations, warmup, gc), name or self._check.next_result_name()

    def _record(self, result: TimingResult) -> TimingResult:
        self._check.results.append(result)
        return result

    def _run(
        self,
        label: str,
        fn: Callable[..., Any],
        args: tuple,
        kwargs: dict,
        plan: TimingPlan,
        **how: Any,
    ) -> list[Result]:
        """Measure ``fn`` as this test's check measures (its server, its node id)."""
        run = CheckRun(
            label, fn, args, kwargs, plan, server=self._server, nodeid=self._check.nodeid, **how
        )
        try:
            return run_check(run)
        except RunError as exc:
            self._fail(f"{self.fixture}: {exc}")

    @property
    def check(self) -> Check:
        """The check this timer records into."""
        return self._check

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        iterations: int = 10,
        warmup: int = 2,
        name: str | None = None,
        gc: bool = True,
        **kwargs: Any,
    ) -> TimingResult:
        """Time ``fn(*args, **kwargs)``; coroutine functions run on a new event loop."""
        return self.time(fn, args, kwargs, iterations, warmup, name, gc)

    def time(
        self,
        fn: Callable[..., Any],
        args: tuple = (),
        kwargs: dict[str, Any] | None = None,
        iterations: int = 10,
        warmup: int = 2,
        name: str | None = None,
        gc: bool = True,
    ) -> TimingResult:
        """:meth:`__call__` with the callable's arguments apart from the timer's own."""
        kwargs = kwargs or {}
        plan, label = self._prepare(iterations, warmup, name, gc)
        result, *caches = self._run(
            label,
            fn,
            args,
            kwargs,
            plan,
            loop_factory=self._loop_factory,
            caches=self._caches,
            databases=self._databases,
        )
        assert isinstance(result, TimingResult)
        self._record(result)
        self._check.results += caches
        return result

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple,
        kwargs: dict[str, Any],
        rounds: tuple[int, int, int],
        setup: Callable[[], Any] | None = None,
        teardown: Callable[..., Any] | None = None,
    ) -> Any:
        """Run ``rounds`` (rounds, iterations, warm-up rounds) as ``benchmark.pedantic`` does.

        Exactly those calls, no calibration; returns the last call's value.
        """
        label = self._check.next_result_name()
        if self._server is not None:
            make = pedantic_batch(target, args, kwargs, setup, teardown)
            return self._server.serve_batches(self._check.nodeid, label, target, make)
        request = profiling_request()
        if request is not None:  # profiled as a pytest-benchmark test's pedantic call is
            profiled = ProfiledBenchmark(None, label, request)
            return profiled.pedantic(target, args, kwargs, setup, teardown)
        plan = self._plan(rounds[0], rounds[2], True)
        if plan.smoke:
            rounds = (1, 1, 0)
        return self._record(
            pedantic(label, target, args, kwargs, rounds, plan, setup, teardown)
        ).value

    async def async_(
        self,
        fn: Callable[..., Any],
        *args: Any,
        iterations: int = 10,
        warmup: int = 2,
        name: str | None = None,
        gc: bool = True,
        **kwargs: Any,
    ) -> TimingResult:
        """Time ``fn`` on the running loop, from an async test: ``await aide_timer.async_(fn)``."""
        plan, label = self._prepare(iterations, warmup, name, gc)
        run = CheckRun(
            label,
            fn,
            args,
            kwargs,
            plan,
            server=self._server,
            nodeid=self._check.nodeid,
            caches=self._caches,
            databases=self._databases,
        )
        try:
            result, *caches = await run_check_async(run)
        except RunError as exc:
            self._fail(f"aide_timer: {exc}")
        assert isinstance(result, TimingResult)
        self._record(result)
        self._check.results += caches
        return result


class AideScaling(AideTimer):
    """How a callable's cost grows with its input size, for one test.

    ``aide_scaling(fn, *args, sizes=[1000, 10000, 100000], order="n log n")``
    calls ``fn(size, *args)`` at each size (``arg="n"`` passes it as ``n=size``;
    ``setup=make`` passes ``make(size)`` instead, built outside the measured
    calls) and fits the order of growth; ``order`` is an upper bound, judged
    under ``--aide-perf``. Returns a :class:`~pytest_aide.results.ScalingResult`
    (without ``--aide-perf``, the one call at the smallest size's timing).
    """

    fixture = "aide_scaling"

    def __call__(  # type: ignore[override]
        self,
        fn: Callable[..., Any],
        *args: Any,
        sizes: Sequence[int] = (),
        order: str = "",
        setup: Callable[[int], Any] | None = None,
        arg: str | None = None,
        iterations: int = 5,
        warmup: int = 1,
        name: str | None = None,
        gc: bool = True,
        **kwargs: Any,
    ) -> Result:
        """Measure ``fn`` at each size and record the fit in the test's check."""
        plan, label = self._prepare(iterations, warmup, name, gc)
        if setup is not None and not callable(setup):
            self._fail(f"aide_scaling: setup must be callable, got {shown(setup)}")
        try:
            spec = scaling_spec({"sizes": list(sizes), "order": order, "arg": arg})
        except GrowthError as exc:
            self._fail(f"aide_scaling: {exc}")
        (result,) = self._run(
            label,
            fn,
            args,
            kwargs,
            plan,
            loop_factory=self._loop_factory,
            scaling=Scaling(spec, setup),
        )
        self._check.results.append(result)
        return result


class AideMemory:
    """``with aide_memory(python_allocators=False, native=False) as mem:`` traces with memray.

    Afterwards ``mem.peak_bytes``, ``mem.allocations``, ``mem.leaked_bytes``,
    ``mem.gc_collected`` and ``mem.top_sites``; the result joins the test's check.
    """

    def __init__(
        self,
        check: Check,
        keep_dir: Path | None,
        unavailable: Callable[[str], NoReturn],
        conflict: Callable[[str], NoReturn],
    ) -> None:
        self._check = check
        self._keep_dir = keep_dir
        self._unavailable = unavailable
        self._conflict = conflict

    def __call__(
        self, python_allocators: bool = False, native: bool = False, name: str | None = None
    ) -> Any:
        """A memray Tracker for the test's own ``with``: the figures are ready after it."""
        try:
            return MemoryTrace(
                name or self._check.next_result_name(),
                python_allocators=python_allocators,
                native=native,
                keep_dir=self._keep_dir,
                on_result=self._check.results.append,
            )
        except MemoryUnavailable as exc:
            self._unavailable(f"aide_memory: {exc}; memory checks are skipped")
        except MemoryConflict as exc:
            self._conflict(f"aide_memory: {exc}")


class AideCpu:
    """``with aide_cpu(interval=0.05) as cpu:`` samples this process from a helper process.

    Afterwards ``cpu.mean_percent``, ``cpu.max_percent``, ``cpu.samples``,
    ``cpu.system_percent``, ``cpu.rss_peak_bytes`` and ``cpu.achieved_interval``.
    """

    def __init__(self, check: Check, unavailable: Callable[[str], NoReturn]) -> None:
        self._check = check
        self._unavailable = unavailable

    @contextmanager
    def __call__(self, interval: float = 0.05, name: str | None = None) -> Iterator[CpuTrace]:
        """Sample CPU while the block runs."""
        trace = CpuTrace(name or self._check.next_result_name(), interval=interval)
        try:
            trace.__enter__()
        except CpuUnavailable as exc:
            self._unavailable(f"aide_cpu: {exc}")
        try:
            yield trace
        finally:
            trace.__exit__(*sys.exc_info())
        assert trace.result is not None
        self._check.results.append(trace.result)


def _levels(concurrency: int | Sequence[int]) -> tuple[int, list[int] | None]:
    """Split ``concurrency`` into the plan's value and the sweep's levels (or None)."""
    if isinstance(concurrency, int):
        return concurrency, None
    levels = list(concurrency)
    if not levels or not all(isinstance(c, int) and not isinstance(c, bool) for c in levels):
        raise ValueError(
            f"concurrency must be a whole number or a list of them, got {shown(concurrency)}"
        )
    return min(levels), levels


class AideLoad:
    """Apply concurrent load: ``aide_load(fn, *args, concurrency=50, requests=250)``.

    Returns a :class:`~pytest_aide.results.LoadResult`. ``mode="thread"`` uses a
    thread pool; ``mode="async"`` runs ``concurrency`` tasks on an event loop
    (sync callables go through ``asyncio.to_thread``); ``mode="process"`` imports
    ``fn`` by module path in ``concurrency`` worker processes, for CPU-bound
    targets. A list ``concurrency=[1, 2, 4, 8]`` sweeps the levels and returns a
    :class:`~pytest_aide.results.SweepResult` whose ``knee`` is the worker count
    to use. Without ``--aide-perf`` one request is sent. Keyword arguments other
    than the load options go to ``fn``.
    """

    def __init__(
        self,
        check: Check,
        smoke: bool,
        loop_factory: LoopFactory | None = None,
        progress: Progress | None = None,
        fail: Callable[[str], NoReturn] | None = None,
        caches: list[WatchedCache] | None = None,
        databases: list[WatchedDatabase] | None = None,
    ) -> None:
        self._check = check
        self._smoke = smoke
        self._fail = fail or _raise
        self._loop_factory = loop_factory
        self._progress = progress
        self._caches = list(caches or [])
        self._databases = list(databases or [])

    def _plan(
        self,
        mode: str,
        concurrency: int | Sequence[int],
        requests: int | None,
        duration: float | None,
        rate: float | None,
        timeout: float | None,
    ) -> tuple[LoadPlan, str, list[int] | None]:
        try:
            if mode not in LOAD_MODES:
                raise ValueError(f"unknown mode {mode!r} ({hint(mode, LOAD_MODES)})")
            lowest, levels = _levels(concurrency)
            plan = LoadPlan(lowest, requests, duration, rate, timeout)
        except ValueError as exc:
            self._fail(f"aide_load: {exc}")
        return smoke_load(plan, mode, levels) if self._smoke else (plan, mode, levels)

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        concurrency: int | Sequence[int] = 50,
        requests: int | None = None,
        duration: float | None = None,
        mode: str = "thread",
        rate: float | None = None,
        timeout: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send the load (a ``LoadResult``, or a ``SweepResult`` for a list of levels)."""
        plan, mode, levels = self._plan(mode, concurrency, requests, duration, rate, timeout)
        label = name or self._check.next_result_name()
        spec = None
        if mode == "process":
            try:
                target, root = importable_spec(fn, 'aide_load(mode="process")')
            except ValueError as exc:
                self._fail(str(exc))
            spec = (target, str(root))
        run = CheckRun(
            label,
            fn,
            args,
            kwargs,
            load=Load(plan, mode, levels, spec),
            loop_factory=self._loop_factory,
            progress=self._progress,
            caches=self._caches,
            databases=self._databases,
        )
        try:
            result, *caches = run_check(run)
        except RunError as exc:
            self._fail(f"aide_load: {exc}")
        self._check.results += [result, *caches]
        return result

    async def async_(
        self,
        fn: Callable[..., Any],
        *args: Any,
        concurrency: int | Sequence[int] = 50,
        requests: int | None = None,
        duration: float | None = None,
        rate: float | None = None,
        timeout: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """From an async test: ``await aide_load.async_(fn, concurrency=50, requests=250)``."""
        plan, _, levels = self._plan("async", concurrency, requests, duration, rate, timeout)
        label = name or self._check.next_result_name()
        run = CheckRun(
            label,
            fn,
            args,
            kwargs,
            load=Load(plan, "async", levels),
            progress=self._progress,
            caches=self._caches,
            databases=self._databases,
        )
        try:
            result, *caches = await run_check_async(run)
        except RunError as exc:
            self._fail(f"aide_load: {exc}")
        self._check.results += [result, *caches]
        return result
