"""Concurrent load: many requests through a bounded pool, every latency recorded.

Closed loop (default): ``concurrency`` workers each start a new request as soon
as their previous one ends, until ``requests`` have started or ``duration`` has
passed. Open loop (``rate``): request *i* is due at ``start + i / rate``; a
worker that picks it up late still measures its latency from that intended
start, so a stalled system cannot hide its backlog.

Errors never stop the run: they are counted by exception type, with the first
few messages kept. A request that outlasts ``timeout`` is an error of type
``TimeoutError``. Async requests are cancelled at the timeout; a thread cannot
be, so there the request runs on and is counted once it ends late.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_aide.measure.timer import is_async_callable, run_coroutine
from pytest_aide.results import LoadResult, SweepResult

__all__ = [
    "LOAD_MODES",
    "PROGRESS_INTERVAL",
    "LoadPlan",
    "Progress",
    "apply_load",
    "level_plans",
    "run_load",
    "run_load_async",
    "run_load_process",
    "sweep_result",
]

LOAD_MODES = ("thread", "async", "process")
"""Load modes: a thread pool, tasks on an event loop, or worker processes."""
_KEPT_MESSAGES = 5
PROGRESS_INTERVAL = 0.5
"""Seconds between progress lines; a run shorter than this prints none."""

Progress = Callable[[str], None]
"""Receives a progress line (``""`` once the run ends, to clear it)."""


@dataclass(frozen=True)
class LoadPlan:
    """How much load to apply and how."""

    concurrency: int = 50
    requests: int | None = None
    """Requests to send; with neither this nor ``duration``, ``concurrency * 5``."""
    duration: float | None = None
    """Seconds to keep sending new requests."""
    rate: float | None = None
    """Open loop: requests per second, scheduled regardless of how fast they finish."""
    timeout: float | None = None
    """Seconds after which a request counts as a ``TimeoutError``."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        for name in ("requests", "duration", "rate", "timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be more than 0, got {value!r}")

    @property
    def total(self) -> int | None:
        """Requests to send, or None when only the duration limits them."""
        if self.requests is None and self.duration is None:
            return self.concurrency * 5
        return self.requests


@dataclass
class _Tally:
    plan: LoadPlan
    started: float = field(default_factory=time.perf_counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: Any = field(default_factory=itertools.count)

    def next_request(self) -> float | None:
        """The intended start of the next request, or None when the run is over."""
        with self.lock:
            index = next(self.counter)
        total, plan = self.plan.total, self.plan
        if total is not None and index >= total:
            return None
        now = time.perf_counter()
        if plan.duration is not None and now - self.started >= plan.duration:
            return None
        return self.started + index / plan.rate if plan.rate else now

    @property
    def done(self) -> int:
        """Requests finished so far, successful or not."""
        return len(self.latencies) + sum(self.errors.values())

    def record(self, due: float, end: float, error: BaseException | None) -> None:
        latency = end - due
        timeout = self.plan.timeout
        if error is None and timeout is not None and latency > timeout:
            error = TimeoutError(f"request took {latency:.3f} s > timeout {timeout:g} s")
        with self.lock:
            if error is None:
                self.latencies.append(latency)
                return
            kind = type(error).__name__
            self.errors[kind] += 1
            if len(self.messages) < _KEPT_MESSAGES:
                self.messages.append(f"{kind}: {error}")

    def result(self, name: str, mode: str) -> LoadResult:
        return LoadResult(
            name,
            self.latencies,
            errors=sum(self.errors.values()),
            error_types=dict(self.errors),
            error_messages=self.messages,
            wall_time=time.perf_counter() - self.started,
            concurrency=self.plan.concurrency,
            mode=mode,
        )


@contextlib.contextmanager
def _progress(tally: _Tally, name: str, write: Progress | None) -> Iterator[None]:
    """Report done/total and the current request rate every ``PROGRESS_INTERVAL``."""
    if write is None:
        yield
        return
    stop = threading.Event()

    def report() -> None:
        last_done, last_time, shown = 0, time.perf_counter(), False
        while not stop.wait(PROGRESS_INTERVAL):
            done, now = tally.done, time.perf_counter()
            rate = (done - last_done) / (now - last_time)
            last_done, last_time = done, now
            total = tally.plan.total
            count = f"{done}/{total}" if total is not None else f"{done}"
            elapsed = now - tally.started
            write(f"{name}: {count} requests in {elapsed:.1f} s, {rate:,.0f} req/s")
            shown = True
        if shown:
            write("")

    thread = threading.Thread(target=report, name="aide-load-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def level_plans(plan: LoadPlan, levels: Sequence[int]) -> list[LoadPlan]:
    """One plan per concurrency level of a sweep, lowest first, duplicates dropped."""
    if not levels:
        raise ValueError("a concurrency sweep needs at least one level")
    return [replace(plan, concurrency=level) for level in sorted(set(levels))]


def sweep_result(name: str, levels: list[LoadResult]) -> SweepResult:
    """Gather the levels of a sweep; level results are named ``name[concurrency]``."""
    for level in levels:
        level.name = f"{name}[{level.concurrency}]"
    return SweepResult(name, levels)


def run_load(
    fn: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    *,
    name: str,
    plan: LoadPlan,
    progress: Progress | None = None,
) -> LoadResult:
    """Call ``fn`` under load from a pool of ``plan.concurrency`` threads."""
    tally = _Tally(plan)

    def worker() -> None:
        while (due := tally.next_request()) is not None:
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            error: BaseException | None = None
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                error = exc
            tally.record(due, time.perf_counter(), error)

    with (
        _progress(tally, name, progress),
        ThreadPoolExecutor(plan.concurrency, thread_name_prefix="aide-load") as pool,
    ):
        for future in [pool.submit(worker) for _ in range(plan.concurrency)]:
            future.result()
    return tally.result(name, "thread")


async def run_load_async(
    fn: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    *,
    name: str,
    plan: LoadPlan,
    progress: Progress | None = None,
) -> LoadResult:
    """Await ``fn`` under load from ``plan.concurrency`` tasks; sync callables run in threads."""
    tally = _Tally(plan)
    is_coroutine = is_async_callable(fn)

    async def call() -> None:
        if is_coroutine:
            await fn(*args, **kwargs)
        else:
            await asyncio.to_thread(fn, *args, **kwargs)

    async def worker() -> None:
        while (due := tally.next_request()) is not None:
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            error: BaseException | None = None
            try:
                if plan.timeout is not None:
                    remaining = max(plan.timeout - (time.perf_counter() - due), 0.0)
                    await asyncio.wait_for(call(), remaining)
                else:
                    await call()
            except asyncio.TimeoutError:
                error = TimeoutError(f"request passed its timeout of {plan.timeout:g} s")
            except Exception as exc:
                error = exc
            tally.record(due, time.perf_counter(), error)

    with _progress(tally, name, progress):
        await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
    return tally.result(name, "async")


_WORKER_TARGET: list[Any] = []


def _process_init(root: str, spec: str) -> None:
    """Pool initializer: import ``module:qualname`` once per worker process."""
    import importlib
    import sys

    sys.path.insert(0, root)
    module_name, _, attr = spec.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    _WORKER_TARGET[:] = [target]


def _process_call(args: tuple, kwargs: dict) -> None:
    _WORKER_TARGET[0](*args, **kwargs)


def run_load_process(
    spec: str,
    root: str,
    args: tuple,
    kwargs: dict,
    *,
    name: str,
    plan: LoadPlan,
    progress: Progress | None = None,
) -> LoadResult:
    """Call ``module:qualname`` under load from ``plan.concurrency`` worker processes.

    For CPU-bound targets, which threads cannot run in parallel. Latency is measured
    in this process, so it includes the hand-off to the worker (about 0.1 ms).
    A worker that dies fails the requests it and its pool had in flight, counted as
    ``BrokenProcessPool`` errors; a fresh pool takes over the rest.
    """
    context = multiprocessing.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            plan.concurrency, mp_context=context, initializer=_process_init, initargs=(root, spec)
        )

    pool = new_pool()
    # Start the workers (and import the target) before the clock starts.
    wait([pool.submit(time.sleep, 0) for _ in range(plan.concurrency)])
    tally = _Tally(plan)
    in_flight: dict[Future[None], float] = {}
    more = True
    with _progress(tally, name, progress):
        try:
            while more or in_flight:
                while more and len(in_flight) < plan.concurrency:
                    due = tally.next_request()
                    if due is None:
                        more = False
                        break
                    wait_for = due - time.perf_counter()
                    if wait_for > 0 and in_flight:
                        break  # let running requests finish while the next one is not due
                    if wait_for > 0:
                        time.sleep(wait_for)
                    try:
                        in_flight[pool.submit(_process_call, args, kwargs)] = due
                    except BrokenProcessPool as exc:
                        tally.record(due, time.perf_counter(), exc)
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = new_pool()
                if not in_flight:
                    continue
                done, _ = wait(in_flight, timeout=0.05, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    due = in_flight.pop(future)
                    error = future.exception()
                    broken = broken or isinstance(error, BrokenProcessPool)
                    tally.record(due, time.perf_counter(), error)
                if broken:
                    for due in in_flight.values():
                        tally.record(due, time.perf_counter(), BrokenProcessPool("worker died"))
                    in_flight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = new_pool()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return tally.result(name, "process")


def apply_load(
    fn: Callable[..., Any] | None,
    args: tuple,
    kwargs: dict,
    *,
    name: str,
    plan: LoadPlan,
    mode: str = "thread",
    levels: Sequence[int] | None = None,
    spec: tuple[str, str] | None = None,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    progress: Progress | None = None,
) -> LoadResult | SweepResult:
    """Run one load, or one per level of a concurrency sweep, in ``mode``.

    ``mode="process"`` needs ``spec``: the target's ``module:qualname`` and the
    directory to import it from. ``mode="async"`` runs on a new event loop made
    by ``loop_factory`` (asyncio's default when None).
    """
    if mode not in LOAD_MODES:
        raise ValueError(f"unknown load mode {mode!r} (known: {', '.join(LOAD_MODES)})")

    def one(level: LoadPlan) -> LoadResult:
        if mode == "async":
            assert fn is not None
            coro = run_load_async(fn, args, kwargs, name=name, plan=level, progress=progress)
            return run_coroutine(coro, loop_factory)
        if mode == "process":
            assert spec is not None
            target, root = spec
            return run_load_process(
                target, root, args, kwargs, name=name, plan=level, progress=progress
            )
        assert fn is not None
        return run_load(fn, args, kwargs, name=name, plan=level, progress=progress)

    if levels is None:
        return one(plan)
    return sweep_result(name, [one(level) for level in level_plans(plan, levels)])
