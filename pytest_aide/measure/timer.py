"""Timing of sync and async callables with warmup and calibration.

Calibration: a fast callable is called several times per sample so that each
sample lasts at least :data:`MIN_SAMPLE_NS` and at least 200 times the cost of
reading the clock; the fixed cost of a sample is then below 0.5 % of it.
Figures are per call.

Sampling window: the samples together span at least ``min_time`` (0.1 s): a
fast callable gets more calls per sample, so that a short burst of machine
noise touches a few samples (which the median ignores) rather than all of
them. The number of samples stays ``iterations``.

Warmup: ``warmup`` samples run and are discarded, and warming continues until
at least ``warmup_time`` (0.2 s) of calls have run, because a fast callable's
first few hundred calls often run slower (cold caches, lazy initialisation)
than the rest. ``warmup=0`` turns both off. Calibration rounds count towards
the warmup.

GC policy: ``gc.collect()`` runs once before the first sample; the collector
stays enabled while sampling, because collecting the garbage a function makes
is part of what it costs (pytest-benchmark's default). ``gc=False`` disables
the collector during the samples, as :mod:`timeit` does. The policy is stored
in every result.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import cache
from time import perf_counter_ns, process_time_ns
from typing import Any

from pytest_aide.measure.solo import MeasureClock, OtherWork, measure_clock
from pytest_aide.results import TimingResult

__all__ = [
    "LOOPS",
    "MIN_SAMPLE_NS",
    "LoopFactory",
    "LoopUnavailable",
    "NothingTimed",
    "TimingPlan",
    "advance",
    "is_async_callable",
    "loop_factory",
    "measure",
    "measure_async",
    "measure_interleaved",
    "pedantic",
    "refuse_generator_function",
    "refuse_unawaited",
    "run_coroutine",
    "timer_overhead_ns",
]

__tracebackhide__ = True
"""pytest leaves this module's frames out of a failing test's traceback: what the user
sees of a target that raised is the target's own code (``--full-trace`` shows all)."""

MIN_SAMPLE_NS = 20_000
"""Shortest sample calibration aims for, in nanoseconds."""
CPU_SAMPLE_NS = 1_000_000
"""Shortest sample when timing on the CPU-time clock."""
WARMUP_TIME = 0.2
"""Seconds of calls that warmup runs at least, unless ``warmup=0``."""
MIN_TIME = 0.1
"""Seconds the samples of one measurement span at least, together."""
_MAX_CALLS_PER_SAMPLE = 10_000_000

# (elapsed ns, last return value) answered for each batch size the driver asks for.
_Driver = Generator[int, tuple[int, Any], TimingResult]


@dataclass(frozen=True)
class TimingPlan:
    """How to time one callable."""

    iterations: int = 10
    """Samples to record."""
    warmup: int = 2
    """Samples to run and discard first (calibration rounds count towards them)."""
    gc: bool = True
    """Keep the garbage collector enabled while sampling."""
    warmup_time: float = WARMUP_TIME
    """Seconds of warmup calls at least (when ``warmup`` is not 0)."""
    min_time: float = MIN_TIME
    """Seconds all samples span together at least; fast callables get longer samples."""
    smoke: bool = False
    """Call once and record that single call (the mode without ``--aide-perf``)."""
    cpu_time: bool = False
    """Read the process's CPU time instead of the wall clock: time the machine spends on
    other processes is left out (a scaling fit uses it; limits never see it)."""
    measure: str = "wall"
    """What the samples are on: ``wall``, ``solo`` or ``cpu`` (:mod:`~pytest_aide.measure.solo`);
    under ``solo`` and ``cpu`` the wall figures are kept beside them."""
    chosen: bool = True
    """The measure was asked for. A ``solo`` that was not (the session's default) falls
    back to the wall clock when the callable hands its work to other threads or
    processes, whose waits for a CPU solo time cannot take out."""

    @property
    def clock(self) -> Callable[[], int]:
        """What each batch reads before and after its calls, in nanoseconds.

        A fresh clock each time it is asked for: a ``solo`` or ``cpu`` clock
        belongs to the thread that reads it and remembers its last batch.
        """
        if self.cpu_time:
            return process_time_ns
        return measure_clock(self.measure) or perf_counter_ns

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}")
        if self.warmup < 0:
            raise ValueError(f"warmup must not be negative, got {self.warmup}")


@cache
def timer_overhead_ns() -> int:
    """Smallest observed cost of two back-to-back ``perf_counter_ns()`` calls."""
    best = math.inf
    for _ in range(2000):
        start = perf_counter_ns()
        best = min(best, perf_counter_ns() - start)
    return max(int(best), 1)


def grow_batch(calls: int, elapsed_ns: int, target_ns: int) -> int:
    """Calls per sample for the next calibration round: 25 % past the target, at least double."""
    wanted = math.ceil(calls * target_ns * 1.25 / max(elapsed_ns, 1))
    return min(_MAX_CALLS_PER_SAMPLE, max(calls * 2, wanted))


def _target_sample_ns() -> int:
    return max(MIN_SAMPLE_NS, 200 * timer_overhead_ns())


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for coroutine functions and objects whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - the bound __call__ is what gets awaited
    )


def _calibrate(plan: TimingPlan, dual: MeasureClock | None) -> Generator[int, tuple[int, Any], int]:
    """Grow the batch until a sample takes the target time, then warm up; the batch size."""
    # Reading the CPU-time clock is a system call (~0.5 us): longer samples keep it negligible.
    # So do the solo clock (a pread of schedstat) and the thread's CPU clock.
    slow_clock = plan.cpu_time or plan.measure != "wall"
    target = max(_target_sample_ns(), CPU_SAMPLE_NS if slow_clock else 0)
    calls, rounds, warmed_ns = 1, 0, 0
    while True:
        elapsed, _ = yield calls
        if dual is not None:
            dual.take_wall()
        rounds += 1
        warmed_ns += elapsed
        # The first call may be cold, so never trust a single round.
        if (elapsed >= target and rounds >= 2) or calls >= _MAX_CALLS_PER_SAMPLE:
            break
        if elapsed < target:
            calls = grow_batch(calls, elapsed, target)
    per_call_ns = max(elapsed / calls, 1e-3)
    spread = math.ceil(plan.min_time * 1e9 / plan.iterations / per_call_ns)
    calls = min(_MAX_CALLS_PER_SAMPLE, max(calls, spread))
    warmup_ns = plan.warmup_time * 1e9 if plan.warmup else 0
    while rounds < plan.warmup or warmed_ns < warmup_ns:
        elapsed, _ = yield calls
        if dual is not None:
            dual.take_wall()
        rounds += 1
        warmed_ns += elapsed
    return calls


def _driver(
    name: str,
    plan: TimingPlan,
    on_sampling: Callable[[], None] | None = None,
    clock: Clock | None = None,
) -> _Driver:
    """Decide batch sizes; receives each batch's elapsed time. Never reads the clock.

    ``on_sampling`` is called once warmup is over, right before the first sample.
    A ``clock`` that keeps each batch's wall time (:class:`MeasureClock`) gives
    the samples their wall figures too.
    """
    dual = clock if isinstance(clock, MeasureClock) else None
    if plan.smoke:
        if on_sampling is not None:
            on_sampling()
        elapsed, value = yield 1
        return TimingResult(name, [elapsed / 1e9], mode="smoke", gc="enabled", value=value)
    calls = yield from _calibrate(plan, dual)
    gc.collect()
    if on_sampling is not None:
        on_sampling()
    elsewhere = OtherWork() if dual is not None else None
    was_enabled = gc.isenabled()
    if not plan.gc:
        gc.disable()
    samples: list[float] = []
    walls: list[float] = []
    value = None
    try:
        for _ in range(plan.iterations):
            elapsed, value = yield calls
            samples.append(max(elapsed, 0) / calls / 1e9)
            if dual is not None:
                walls.append(dual.take_wall() / calls / 1e9)
    finally:
        if was_enabled:
            gc.enable()
    measure, wall_samples, handoff = "wall", None, None
    if dual is not None and elsewhere is not None:
        handoff = elsewhere.handoff(sum(samples) * calls * 1e9, dual.measure)
        if handoff is not None and dual.measure == "solo" and not plan.chosen:
            samples, handoff = walls, f"{handoff}: measured on wall time instead"
        else:
            measure, wall_samples = dual.measure, walls
    return TimingResult(
        name,
        samples,
        warmup=plan.warmup,
        calls_per_sample=calls,
        gc="enabled" if plan.gc else "disabled",
        value=value,
        measure=measure,
        wall_samples=wall_samples,
        handoff=handoff,
    )


Clock = Callable[[], int]
"""What a batch reads before and after its calls: ``perf_counter_ns``, or a pair
worker's switch that turns valgrind's counting on and off (and reads 0)."""


def _batch(
    fn: Callable[..., Any], args: tuple, kwargs: dict, calls: int, clock: Clock = perf_counter_ns
) -> tuple[int, Any]:
    value = None
    loop = range(calls)
    if args or kwargs:
        start = clock()
        for _ in loop:
            value = fn(*args, **kwargs)
        end = clock()
    else:
        start = clock()
        for _ in loop:
            value = fn()
        end = clock()
    return end - start, value


async def _abatch(
    fn: Callable[..., Any], args: tuple, kwargs: dict, calls: int, clock: Clock = perf_counter_ns
) -> tuple[int, Any]:
    value = None
    loop = range(calls)
    start = clock()
    for _ in loop:
        value = await fn(*args, **kwargs)
    end = clock()
    return end - start, value


def advance(driver: Generator[Any, Any, Any], sent: Any) -> tuple[Any, bool]:
    """Send ``sent`` into ``driver``: (what it yielded, False), or (what it returned, True).

    Only the driver's own end is caught here, never a ``StopIteration`` that the
    measured callable raised: that is the callable's failure, shown as such.
    """
    try:
        return driver.send(sent), False
    except StopIteration as done:
        return done.value, True


def _pump_sync(
    driver: _Driver,
    fn: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    clock: Clock = perf_counter_ns,
) -> TimingResult:
    calls, done = advance(driver, None)
    first = True
    while not done:
        batch = _batch(fn, args, kwargs, calls, clock)
        if first:
            refuse_unawaited(batch[1])
            first = False
        calls, done = advance(driver, batch)
    return calls


def measure_interleaved(
    fn: Callable[..., Any],
    inputs: list[tuple[str, tuple, dict[str, Any]]],
    *,
    plan: TimingPlan,
) -> list[TimingResult]:
    """Time sync ``fn`` on each ``(name, args, kwargs)``, one batch of each in turn.

    Every input is calibrated, warmed up and sampled as :func:`measure` would,
    but their batches alternate, so a burst of load on the machine falls on
    all inputs alike instead of on whichever was being measured then.
    """
    clocks = [plan.clock for _ in inputs]
    drivers = [
        _driver(name, plan, None, clock) for (name, _, _), clock in zip(inputs, clocks, strict=True)
    ]
    pending = {i: advance(driver, None)[0] for i, driver in enumerate(drivers)}
    results: dict[int, TimingResult] = {}
    unchecked = set(pending)
    was_enabled = gc.isenabled()
    if not plan.gc:  # for all of them at once: one driver must not re-enable it for another
        gc.disable()
    try:
        while pending:
            for i in list(pending):
                _, args, kwargs = inputs[i]
                batch = _batch(fn, args, kwargs, pending[i], clocks[i])
                if i in unchecked:
                    refuse_unawaited(batch[1])
                    unchecked.discard(i)
                sent, done = advance(drivers[i], batch)
                if done:
                    results[i] = sent
                    del pending[i]
                else:
                    pending[i] = sent
    finally:
        if was_enabled:
            gc.enable()
    return [results[i] for i in range(len(inputs))]


class NothingTimed(TypeError):
    """The callable only creates something (a coroutine, a generator) that does the work."""


def refuse_generator_function(fn: Callable[..., Any]) -> None:
    """Raise :class:`NothingTimed` for a (async) generator function: calling it runs nothing."""
    for test, kind in (
        (inspect.isasyncgenfunction, "an async generator function"),
        (inspect.isgeneratorfunction, "a generator function"),
    ):
        if test(fn):
            raise NothingTimed(
                f"the target is {kind}: calling it only creates the generator, so nothing "
                "would be timed; time a function that consumes it instead"
            )


def refuse_unawaited(value: Any) -> None:
    """Raise :class:`NothingTimed` when a synchronous callable returned an awaitable."""
    if inspect.isawaitable(value):
        close = getattr(value, "close", None)
        if callable(close):
            close()  # never awaited: no RuntimeWarning about it
        raise NothingTimed(
            "the target returned an awaitable without awaiting it, so only creating it would "
            "be timed: make the target 'async def' (it is then awaited on an event loop)"
        )


async def measure_async(
    fn: Callable[..., Any],
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    name: str,
    plan: TimingPlan,
    on_sampling: Callable[[], None] | None = None,
) -> TimingResult:
    """Time ``fn`` on the running event loop; coroutine functions are awaited.

    ``on_sampling`` is called when warmup is over, before the first sample.
    """
    kwargs = kwargs or {}
    clock = plan.clock
    driver = _driver(name, plan, on_sampling, clock)
    if not is_async_callable(fn):
        return _pump_sync(driver, fn, args, kwargs, clock)
    calls, done = advance(driver, None)
    while not done:
        calls, done = advance(driver, await _abatch(fn, args, kwargs, calls, clock))
    return calls


LoopFactory = Callable[[], asyncio.AbstractEventLoop]
"""Makes a new event loop."""
LOOPS = ("asyncio", "uvloop")
"""Event loops ``--aide-loop`` can choose."""


class LoopUnavailable(RuntimeError):
    """The event loop asked for cannot be used here."""


def loop_factory(name: str) -> LoopFactory | None:
    """The factory for event loop ``name``; None means asyncio's default loop."""
    if name == "asyncio":
        return None
    if name != "uvloop":
        raise LoopUnavailable(f"unknown event loop {name!r} (known: {', '.join(LOOPS)})")
    try:
        import uvloop
    except ImportError as exc:
        raise LoopUnavailable(
            f"uvloop is not installed ({exc}); install it with: pip install 'pytest-aide[uvloop]'"
        ) from None
    return uvloop.new_event_loop


def run_coroutine(
    coro: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
) -> Any:
    """Run ``coro`` to completion on a new event loop, refusing to nest in a running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError(
            "cannot time a coroutine function synchronously while an event loop is running; "
            "inside an async test use 'await aide_timer.async_(...)'"
        )
    loop = (loop_factory or asyncio.new_event_loop)()
    try:
        result = loop.run_until_complete(coro)
    except BaseException:
        _abandon(loop)
        raise
    try:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    return result


def _abandon(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on ``loop`` and close it without waiting for its threads.

    After an error or a check timeout a call sent to the default executor may
    still be running; ``close()`` shuts the executor down without joining it.
    """
    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def measure(
    fn: Callable[..., Any],
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    name: str,
    plan: TimingPlan,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    on_sampling: Callable[[], None] | None = None,
) -> TimingResult:
    """Time ``fn`` from synchronous code; a coroutine function runs on a new event loop.

    ``on_sampling`` is called when warmup is over, before the first sample.
    """
    kwargs = kwargs or {}
    if is_async_callable(fn):
        return run_coroutine(
            measure_async(fn, args, kwargs, name=name, plan=plan, on_sampling=on_sampling),
            loop_factory,
        )
    clock = plan.clock
    return _pump_sync(_driver(name, plan, on_sampling, clock), fn, args, kwargs, clock)


def pedantic(
    name: str,
    target: Callable[..., Any],
    args: tuple,
    kwargs: dict[str, Any],
    rounds: tuple[int, int, int],
    plan: TimingPlan,
    setup: Callable[[], Any] | None = None,
    teardown: Callable[..., Any] | None = None,
) -> TimingResult:
    """Run ``target`` as pytest-benchmark's ``pedantic`` does, timing each round.

    ``rounds`` is ``(rounds, iterations, warmup_rounds)``: exactly that many
    calls, no calibration. ``setup`` (which may return ``(args, kwargs)``)
    and ``teardown`` run outside the timing, once per round. A sample is one
    round's time per call on ``plan``'s clock, with its wall figures beside
    when that is not the wall clock; the result's value is the last call's.
    """
    count, iterations, warmup = rounds
    clock = plan.clock
    dual = clock if isinstance(clock, MeasureClock) else None
    samples: list[float] = []
    walls: list[float] = []
    value: Any = None
    for index in range(warmup + count):
        call_args, call_kwargs = args, kwargs
        if setup is not None and (made := setup()) is not None:
            call_args, call_kwargs = made
        started = clock()
        for _ in range(iterations):
            value = target(*call_args, **call_kwargs)
        took = clock() - started
        wall = dual.take_wall() if dual is not None else took
        if index >= warmup:
            samples.append(took / iterations / 1e9)
            walls.append(wall / iterations / 1e9)
        if teardown is not None:
            teardown(*call_args, **call_kwargs)
    return TimingResult(
        name,
        samples,
        warmup=warmup,
        calls_per_sample=iterations,
        measure=dual.measure if dual is not None else "wall",
        wall_samples=walls if dual is not None else None,
        value=value,
    )
