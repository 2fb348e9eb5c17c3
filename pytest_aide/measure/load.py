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

When the whole check passes its own timeout (see :mod:`pytest_aide.measure.deadline`)
no further request starts; load threads are daemons, so one that hangs for good
is abandoned rather than holding up the end of the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import multiprocessing.heap
import multiprocessing.resource_tracker
import multiprocessing.sharedctypes
import multiprocessing.spawn
import multiprocessing.synchronize
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from pytest_aide.measure.solo import ran_and_waited_ns
from pytest_aide.measure.timer import (
    NothingTimed,
    is_async_callable,
    refuse_unawaited,
    run_coroutine,
)

if sys.platform != "win32":
    import multiprocessing.popen_spawn_posix
from pytest_aide.results import LoadResult, SweepResult
from pytest_aide.targets import TargetError, import_target
from pytest_aide.units import MAX_SECONDS, shown

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
    "smoke_load",
    "sweep_result",
]

__tracebackhide__ = True
"""pytest leaves this module's frames out of a failing test's traceback: what the user
sees of a target that raised is the target's own code (``--full-trace`` shows all)."""

LOAD_MODES = ("thread", "async", "process")
"""Load modes: a thread pool, tasks on an event loop, or worker processes."""
_KEPT_MESSAGES = 5
PROGRESS_INTERVAL = 0.5
"""Seconds between progress lines; a run shorter than this prints none."""

Progress = Callable[[str], None]
"""Receives a progress line (``""`` once the run ends, to clear it)."""


_LIMITS = (
    ("concurrency", 1, 10_000),
    ("requests", 1, 10**9),
    ("duration", 1e-6, MAX_SECONDS),
    ("rate", 1 / MAX_SECONDS, 1e9),
    ("timeout", 1e-6, MAX_SECONDS),
)
"""Each load setting's range: beyond it a plan cannot run (threads, clocks, sleeps overflow)."""


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
        for name, low, high in _LIMITS:
            value = getattr(self, name)
            if value is None and name != "concurrency":
                continue
            whole = name in ("concurrency", "requests")
            if whole and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number, got {shown(value)}")
            if not whole and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{name} must be a number, got {shown(value)}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be from {low:g} to {high:g}, got {shown(value)}")

    @property
    def total(self) -> int | None:
        """Requests to send, or None when only the duration limits them."""
        if self.requests is None and self.duration is None:
            return self.concurrency * 5
        return self.requests


def _due(plan: LoadPlan, started: float, index: int) -> float | None:
    """When request ``index`` should start, or None when the run is over."""
    total = plan.total
    if total is not None and index >= total:
        return None
    now = time.perf_counter()
    if plan.duration is not None and now - started >= plan.duration:
        return None
    return started + index / plan.rate if plan.rate else now


@dataclass
class _Tally:
    plan: LoadPlan
    started: float = field(default_factory=time.perf_counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: Any = field(default_factory=itertools.count)
    last_end: float = 0.0
    stopped: bool = False
    """Set when the run was cut short (a check timeout): no further requests start."""
    ran: int = 0
    waited: int | None = 0
    """The load threads' ns on a CPU and waiting for one (None: unknown)."""

    @contextlib.contextmanager
    def scheduling(self) -> Iterator[None]:
        """Add the calling thread's time on a CPU and waiting for one while inside."""
        before = ran_and_waited_ns()
        try:
            yield
        finally:
            after = ran_and_waited_ns()
            with self.lock:
                if before is None or after is None or self.waited is None:
                    self.waited = None
                else:
                    self.ran += after[0] - before[0]
                    self.waited += after[1] - before[1]

    def next_request(self) -> float | None:
        """The intended start of the next request, or None when the run is over."""
        with self.lock:
            index = next(self.counter)
        return None if self.stopped else _due(self.plan, self.started, index)

    @property
    def done(self) -> int:
        """Requests finished so far, successful or not."""
        return len(self.latencies) + sum(self.errors.values())

    def record(self, due: float, end: float, error: BaseException | None) -> None:
        """Count one finished request: its latency, or its error."""
        if error is None:
            self.record_failure(due, end, None, "")
        else:
            self.record_failure(due, end, type(error).__name__, str(error))

    def record_failure(self, due: float, end: float, kind: str | None, message: str) -> None:
        """Like :meth:`record`, with the error as its type name and message (or None)."""
        latency = end - due
        timeout = self.plan.timeout
        if kind is None and timeout is not None and latency > timeout:
            kind, message = "TimeoutError", f"request took {latency:.3f} s > timeout {timeout:g} s"
        with self.lock:
            self.last_end = max(self.last_end, end)
            if kind is None:
                self.latencies.append(latency)
                return
            self.errors[kind] += 1
            if len(self.messages) < _KEPT_MESSAGES:
                self.messages.append(f"{kind}: {message}")

    def result(self, name: str, mode: str) -> LoadResult:
        return LoadResult(
            name,
            self.latencies,
            errors=sum(self.errors.values()),
            error_types=dict(self.errors),
            error_messages=self.messages,
            wall_time=(self.last_end or time.perf_counter()) - self.started,
            concurrency=self.plan.concurrency,
            mode=mode,
            waited=(
                self.waited / (self.ran + self.waited)
                if self.waited is not None and self.ran + self.waited > 0
                else None
            ),
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


def smoke_load(
    plan: LoadPlan, mode: str, levels: Sequence[int] | None
) -> tuple[LoadPlan, str, list[int] | None]:
    """What runs without ``--aide-perf``: one request at concurrency 1, process mode in a thread."""
    return (
        LoadPlan(concurrency=1, requests=1, timeout=plan.timeout),
        "thread" if mode == "process" else mode,
        [1] if levels else None,
    )


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
            value = None
            try:
                value = fn(*args, **kwargs)
            except Exception as exc:
                error = exc
            tally.record(due, time.perf_counter(), error)
            refuse_unawaited(value)

    failures: list[BaseException] = []

    def run() -> None:
        try:
            with tally.scheduling():
                worker()
        except BaseException as exc:
            tally.stopped = True
            failures.append(exc)

    # Daemon threads: a request that hangs past the check's timeout is abandoned
    # (it cannot be stopped) without holding up the end of the session.
    threads = [
        threading.Thread(target=run, name=f"aide-load-{i}", daemon=True)
        for i in range(plan.concurrency)
    ]
    with _progress(tally, name, progress):
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        except BaseException:
            tally.stopped = True
            raise
    if failures:
        raise failures[0]
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
            refuse_unawaited(await asyncio.to_thread(fn, *args, **kwargs))

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
            except NothingTimed:
                tally.stopped = True
                raise
            except Exception as exc:
                error = exc
            tally.record(due, time.perf_counter(), error)

    with _progress(tally, name, progress), tally.scheduling():
        await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
    return tally.result(name, "async")


_IDLE = -1
# The multiprocessing submodules are imported above, not lazily: a session that
# re-imports them (pytester restores sys.modules) could no longer pickle them.


def _process_worker(
    slot: int,
    root: str,
    spec: str,
    args: tuple,
    kwargs: dict,
    plan: LoadPlan,
    shared: tuple[Any, ...],
    outbox: Connection,
) -> None:
    """A worker process: import the target, then take requests until the run is over.

    Requests are numbered through a shared counter, as the threads of
    :func:`run_load` number theirs. Each outcome goes back through this worker's
    own pipe, written synchronously: a worker that dies mid-write can only cut
    its own pipe short, never block the others (as a shared queue's lock would).
    """
    counter, started, go, current, dues = shared
    try:
        target = import_target(spec, root)
    except TargetError as exc:
        outbox.send(("broken", str(exc)))
        return
    except BaseException as exc:
        outbox.send(("broken", f"{type(exc).__name__}: {exc}"))
        return
    outbox.send(("ready",))
    go.wait()
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        due = _due(plan, started.value, index)
        if due is None:
            return
        dues[slot], current[slot] = due, index
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        kind, message = None, ""
        try:
            target(*args, **kwargs)
        except Exception as exc:
            kind, message = type(exc).__name__, str(exc)
        outbox.send(("done", index, due, time.perf_counter(), kind, message))


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

    For CPU-bound targets, which threads cannot run in parallel. Workers are
    started, and import the target, before the clock starts; latency is timed
    in the worker. A worker that dies (a crash, ``os._exit``, a signal) fails
    the request it was running, counted as a ``WorkerCrashed`` error, and a
    fresh worker takes its place.
    """
    pool = _Processes(spec, (root, spec, args, kwargs, plan), plan.concurrency)
    _, started, go, _, _ = pool.shared
    tally = _Tally(plan)
    try:
        pool.start()
        tally.started = started.value = time.perf_counter()
        go.set()
        with _progress(tally, name, progress):
            pool.serve(tally)
    finally:
        pool.close()
    return tally.result(name, "process")


class _Processes:
    """The load's worker processes, one per slot; a dead one's slot gets a fresh worker."""

    def __init__(self, spec: str, target: tuple, slots: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.context, self.spec, self.target = context, spec, target
        self.shared = (
            context.Value("q", 0),
            context.Value("d", 0.0, lock=False),
            context.Event(),
            context.Array("q", [_IDLE] * slots, lock=False),
            context.Array("d", [0.0] * slots, lock=False),
        )
        self.slots = slots
        self.workers: dict[int, Any] = {}
        self.inboxes: dict[Connection, int] = {}

    def spawn(self, slot: int) -> None:
        """Start slot ``slot``'s worker."""
        inbox, outbox = self.context.Pipe(duplex=False)
        root, spec, args, kwargs, plan = self.target
        worker = self.context.Process(
            target=_process_worker,
            args=(slot, root, spec, args, kwargs, plan, self.shared, outbox),
            name=f"aide-load-{slot}",
            daemon=True,
        )
        worker.start()
        outbox.close()  # the worker holds the only write end: its exit ends the pipe
        self.shared[3][slot] = _IDLE
        self.workers[slot], self.inboxes[inbox] = worker, slot

    def ended(self, inbox: Connection) -> tuple[int, Any]:
        """The slot and the worker whose pipe ``inbox`` closed, joined."""
        slot = self.inboxes.pop(inbox)
        inbox.close()
        worker = self.workers[slot]
        worker.join()
        return slot, worker

    def start(self) -> None:
        """Start every worker and wait until each has imported the target."""
        for slot in range(self.slots):
            self.spawn(slot)
        for inbox in list(self.inboxes):
            try:
                message = inbox.recv()
            except EOFError:
                message = ("broken", f"exited with code {self.ended(inbox)[1].exitcode}")
            if message[0] == "broken":
                raise RuntimeError(f"worker process could not import {self.spec!r}: {message[1]}")

    def serve(self, tally: _Tally) -> None:
        """Until every worker is done: tally failures, replace a worker that crashed."""
        _, _, _, current, dues = self.shared
        while self.inboxes:
            for inbox in wait(list(self.inboxes)):
                assert isinstance(inbox, Connection)
                try:
                    message = inbox.recv()
                except EOFError:
                    slot, worker = self.ended(inbox)
                    if worker.exitcode != 0:
                        _crashed(tally, worker.exitcode, current[slot], dues[slot])
                        self.spawn(slot)
                    continue
                if message[0] == "done":
                    tally.record_failure(*message[2:])

    def close(self) -> None:
        """Kill what still runs; close the pipes."""
        for worker in self.workers.values():
            if worker.is_alive():
                worker.kill()
            worker.join()
        for inbox in self.inboxes:
            inbox.close()


def _crashed(tally: _Tally, exitcode: int | None, index: int, due: float) -> None:
    """Count the request a dead worker was running; a worker that never took one is fatal."""
    if index == _IDLE:
        raise RuntimeError(f"worker process exited with code {exitcode} before taking a request")
    tally.record_failure(
        due,
        time.perf_counter(),
        "WorkerCrashed",
        f"worker process exited with code {exitcode} while running request {index}",
    )


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
