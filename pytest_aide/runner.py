"""Measure a check from its description: the one way scenario items and fixtures measure.

Knows nothing of pytest: a :class:`CheckRun` says what to call and how (timing
plan, load, CPU sampling, memory tracing, the same-job pair server), and
:func:`run_check` returns the results. A problem is one line in
:class:`RunError`; a measure this machine lacks is :class:`RunSkipped`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_aide.growth import ScalingSpec, size_label
from pytest_aide.measure import solo
from pytest_aide.measure.caches import CacheWatch, WatchedCache
from pytest_aide.measure.cpu import CpuTrace, CpuUnavailable
from pytest_aide.measure.http import AppServer, HttpError, HttpSpec, run_http_load
from pytest_aide.measure.load import (
    LoadPlan,
    Progress,
    apply_load,
    level_plans,
    run_load_async,
    sweep_result,
)
from pytest_aide.measure.locust import LOCUST_MISSING, locust_installed, run_locust_load
from pytest_aide.measure.memory import MemoryConflict, MemoryTrace, MemoryUnavailable
from pytest_aide.measure.profile import Profile, profile_calls, profile_calls_async
from pytest_aide.measure.queries import QueryError, QueryWatch, WatchedDatabase
from pytest_aide.measure.timer import (
    LoopFactory,
    NothingTimed,
    TimingPlan,
    is_async_callable,
    measure,
    measure_async,
    measure_interleaved,
    refuse_generator_function,
    run_coroutine,
)
from pytest_aide.results import Result, ScalingResult, TimingResult

if TYPE_CHECKING:  # the server lives in a pytest plugin; the runner only calls it
    from pytest_aide.pairworker import PairServer

__all__ = [
    "CheckRun",
    "Load",
    "ProfiledBenchmark",
    "Profiling",
    "RunError",
    "RunSkipped",
    "Scaling",
    "profiling",
    "profiling_request",
    "run_check",
    "run_check_async",
    "served",
]

__tracebackhide__ = True
"""pytest leaves this module's frames out of a failing test's traceback: what the user
sees of a target that raised is the target's own code (``--full-trace`` shows all)."""


class RunError(Exception):
    """The check cannot be measured as described; the message is one line."""


class RunSkipped(Exception):
    """A measure the check asks for is not available here (memray, say)."""


@dataclass(frozen=True)
class Load:
    """Concurrent load instead of timing: the plan, the mode and sweep levels."""

    plan: LoadPlan
    mode: str
    levels: list[int] | None = None
    spec: tuple[str, str] | None = None
    """``(module:attr, root)`` for process mode, where workers import the target."""
    engine: str = "aide"
    """``locust``: an HTTP check's load is sent by Locust's runner (:mod:`.measure.locust`)."""
    workers: int = 1
    master_bind: tuple[str, int] | None = None
    """Locust's master listens here for remote workers (``--aide-locust-master-bind``)."""


@dataclass(frozen=True)
class Scaling:
    """Measure at each of several sizes instead of once: the spec and its set-up, imported."""

    spec: ScalingSpec
    setup: Callable[[int], Any] | None = None
    """Builds a size's input outside the measured calls; None passes the size itself."""

    def call(self, size: int, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        """The arguments of a call at ``size``: its input as ``arg``, else first positional."""
        value = size if self.setup is None else self.setup(size)
        if self.spec.arg is not None:
            return args, {**kwargs, self.spec.arg: value}
        return (value, *args), kwargs

    def label(self, name: str, size: int) -> str:
        """The name of the measured call at ``size``: ``check[n=1000]``."""
        return size_label(name, self.spec.label, size)


@dataclass
class CheckRun:
    """What to measure for one check, and how."""

    name: str
    target: Callable[..., Any]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    plan: TimingPlan = field(default_factory=TimingPlan)
    load: Load | None = None
    cpu_interval: float | None = None
    """Sample CPU and RSS from a helper process this often around the measurement."""
    memory: dict[str, Any] | None = None
    """memray options for one more call traced on its own (timings stay undistorted)."""
    trace_dir: Path | None = None
    loop_factory: LoopFactory | None = None
    progress: Progress | None = None
    server: PairServer | None = None
    nodeid: str = ""
    caches: list[WatchedCache] = field(default_factory=list)
    """Caches whose hits and misses over the measured calls (not warmup) are reported."""
    http: HttpSpec | None = None
    """Send this request under :attr:`load` instead of calling :attr:`target`."""
    app: tuple[str, int, Path] | None = None
    """``(package.module:app, port, root)``: the server to start for :attr:`http`."""
    scaling: Scaling | None = None
    """Measure at each size and fit the order of growth (CPU time per call), instead."""
    databases: list[WatchedDatabase] = field(default_factory=list)
    """Connections and engines whose SQL statements per call are counted over :attr:`plan`'s
    ``iterations`` more calls, run one at a time, untimed, after the measurement: tracing
    each statement would slow the measured calls, and a sqlite3 connection two threads
    share deadlocks under a trace callback (it needs the GIL while the connection is locked)."""

    def _watching(self, key: str, named: list[Any], what: str) -> bool:
        """True when ``named`` is to be watched; a process-mode load cannot be."""
        if not named or self.plan.smoke or self.server is not None:
            return False
        if self.load is not None and self.load.mode == "process":
            raise RunError(
                f"{key}: a process-mode load calls the target in other processes, whose "
                f"{what} this process cannot see (use mode 'thread' or 'async')"
            )
        return True

    def query_watch(self) -> QueryWatch | None:
        """A statement counter over :attr:`databases` while measuring for real; None if none."""
        if not self._watching("databases", self.databases, "statements"):
            return None
        return QueryWatch(self.name, self.databases)

    def cache_watch(self) -> CacheWatch | None:
        """A watch over :attr:`caches` while measuring for real; None when there is none."""
        if not self._watching("caches", self.caches, "caches"):
            return None
        return CacheWatch(self.name, self.caches)


def served(name: str, value: Any) -> TimingResult:
    """What a pair worker's test gets back: the call's value; the timings are the controller's."""
    return TimingResult(name, [0.0], mode="smoke", value=value)


@dataclass
class Profiling:
    """A run that profiles each check's target instead of measuring it (``--aide-explain``)."""

    directory: Path | None
    """Where the profiles are written; None keeps them in memory only."""
    stem: str
    """File name of the first profile; further measured calls add ``-2``, ``-3``, ..."""
    profiles: list[Profile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Measured calls that were not profiled, and why."""

    def next_stem(self) -> str:
        """The file name of the next profile."""
        return self.stem if not self.profiles else f"{self.stem}-{len(self.profiles) + 1}"

    def keep(self, profile: Profile) -> list[Result]:
        """Keep ``profile``; what the measured call returns instead of its figures."""
        self.profiles.append(profile)
        return [TimingResult(profile.name, [profile.seconds], mode="smoke")]

    def profile(
        self,
        name: str,
        call: Callable[[], Any],
        prepare: Callable[[], Callable[[], Any]] | None = None,
    ) -> list[Result]:
        """Profile ``call`` (see :func:`profile_calls`) into this run's directory, and keep it."""
        stem = self.next_stem()
        return self.keep(
            profile_calls(name, call, directory=self.directory, stem=stem, prepare=prepare)
        )

    async def profile_async(self, name: str, call: Callable[[], Any]) -> list[Result]:
        """:meth:`profile` for a coroutine function, on the running loop."""
        stem = self.next_stem()
        return self.keep(await profile_calls_async(name, call, directory=self.directory, stem=stem))


_PROFILING: ContextVar[Profiling | None] = ContextVar("aide_profiling", default=None)


def profiling_request() -> Profiling | None:
    """The profiling run in progress (``--aide-explain``), if any."""
    return _PROFILING.get()


@contextmanager
def profiling(directory: Path | None, stem: str) -> Iterator[Profiling]:
    """While the block runs, :func:`run_check` profiles targets instead of measuring them."""
    request = Profiling(directory, stem)
    token = _PROFILING.set(request)
    try:
        yield request
    finally:
        _PROFILING.reset(token)


class ProfiledBenchmark:
    """Stands in for pytest-benchmark's ``benchmark`` fixture while a test is profiled."""

    def __init__(self, fixture: Any, name: str, request: Profiling) -> None:
        self._fixture, self._name, self._request = fixture, name, request

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._fixture, attribute)  # extra_info, group, name ...

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Profile ``function(*args, **kwargs)``; return one call's value, as benchmark does."""
        value = function(*args, **kwargs)
        self._request.profile(self._name, lambda: function(*args, **kwargs))
        return value

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple = (),
        kwargs: dict | None = None,
        setup: Callable[[], Any] | None = None,
        teardown: Callable[..., Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
    ) -> Any:
        """``benchmark.pedantic``: set-up and teardown run outside the profiled calls."""
        values: list[Any] = []

        def prepare() -> Callable[[], Any]:
            call_args, call_kwargs = args, kwargs or {}
            if setup is not None and (made := setup()) is not None:
                call_args, call_kwargs = made
            return lambda: values.append(target(*call_args, **call_kwargs))

        self._request.profile(self._name, lambda: None, prepare=prepare)
        return values[-1] if values else None


def _unprofiled(run: CheckRun) -> str | None:
    if run.http is not None:
        return f"{run.name}: not profiled: an HTTP check's work is done in the server's process"
    if run.load is not None and run.load.mode == "process":
        # Such a target may crash or exit its process: never call it in this one.
        return f"{run.name}: not profiled: a process-mode load's target runs in other processes"
    return None


def _profile(run: CheckRun, request: Profiling) -> list[Result]:
    """Profile ``run``'s target (one call at a time, for a load too) in place of measuring it."""
    note = _unprofiled(run)
    if note is not None:
        request.notes.append(note)
        return [served(run.name, None)]
    fn, args, kwargs = run.target, run.args, run.kwargs or {}
    if run.scaling is not None:  # where a worse order shows most
        args, kwargs = run.scaling.call(max(run.scaling.spec.sizes), args, kwargs)
    if not is_async_callable(fn):
        return request.profile(run.name, lambda: fn(*args, **kwargs))
    loop = run.loop_factory() if run.loop_factory is not None else asyncio.new_event_loop()
    try:
        return loop.run_until_complete(request.profile_async(run.name, lambda: fn(*args, **kwargs)))
    finally:
        loop.close()


def run_check(run: CheckRun) -> list[Result]:
    """Measure ``run``: timing or load, CPU around it, then memory in one more call."""
    try:
        refuse_generator_function(run.target)
        request = _PROFILING.get()
        if request is not None:
            return _profile(run, request)
        return _run_check(run)
    except NothingTimed as exc:
        raise RunError(str(exc)) from None


def _run_check(run: CheckRun) -> list[Result]:
    if run.http is not None:
        return _run_http(run)
    if run.scaling is not None:
        return _run_scaling(run, run.scaling)
    if run.server is not None and run.load is None:
        value = run.server.serve(
            run.nodeid, run.name, run.target, run.args, run.kwargs, run.loop_factory
        )
        return [served(run.name, value)]
    smoke = run.plan.smoke
    watch = run.cache_watch()
    queries = run.query_watch()
    if smoke or run.cpu_interval is None:
        results = [_measure(run, watch)]
    else:
        try:
            with CpuTrace(run.name, interval=run.cpu_interval) as cpu:
                measured = _measure(run, watch)
        except CpuUnavailable as exc:
            raise RunError(str(exc)) from None
        results = [measured, cpu.result]
    if watch is not None:
        results.append(watch.stop())
    if queries is not None:
        with _counting(queries):
            _call(run, run.plan.iterations)
        results.append(queries.stop(run.plan.iterations))
    if run.memory is not None and not smoke:
        try:
            with MemoryTrace(run.name, keep_dir=run.trace_dir, **run.memory) as memory:
                _call(run)
        except MemoryUnavailable as exc:
            raise RunSkipped(str(exc)) from None
        except MemoryConflict as exc:
            raise RunError(str(exc)) from None
        assert memory.result is not None
        results.append(memory.result)
    return results


def _run_scaling(run: CheckRun, scaling: Scaling) -> list[Result]:
    """One measurement per size on solo (else CPU) time; a worker serves each size instead.

    A sync target's sizes are measured interleaved, a batch of each in turn, so
    load that comes and goes does not bend the curve; an async target's one
    after another. Without ``--aide-perf``, the smallest size is called once.
    """
    smoke = run.plan.smoke and run.server is None  # a worker serves every size
    sizes = scaling.spec.sizes[:1] if smoke else scaling.spec.sizes
    clock = "solo" if solo.available() else "cpu"
    plan = replace(run.plan, cpu_time=clock == "cpu", measure=clock, chosen=True)
    spec = scaling.spec
    if not smoke and run.server is None and not is_async_callable(run.target):
        inputs = [
            (scaling.label(run.name, n), *scaling.call(n, run.args, run.kwargs)) for n in sizes
        ]
        timings = measure_interleaved(run.target, inputs, plan=plan)
        samples = [timing.samples for timing in timings]
        return [ScalingResult(run.name, list(sizes), samples, spec.order, spec.label, clock=clock)]
    samples = []
    for size in sizes:
        args, kwargs = scaling.call(size, run.args, run.kwargs)
        label = scaling.label(run.name, size)
        if run.server is not None:
            run.server.serve(run.nodeid, label, run.target, args, kwargs, run.loop_factory)
            continue
        timing = measure(
            run.target, args, kwargs, name=label, plan=plan, loop_factory=run.loop_factory
        )
        if smoke:
            return [replace(timing, name=run.name)]
        samples.append(timing.samples)
    if run.server is not None:
        return [served(run.name, None)]
    return [ScalingResult(run.name, list(sizes), samples, spec.order, spec.label, clock=clock)]


def _run_http(run: CheckRun) -> list[Result]:
    """Start the server if the check names one, then send the request under load."""
    assert run.http is not None
    load = run.load or Load(LoadPlan(concurrency=1, requests=run.plan.iterations), "async")
    if load.engine == "locust" and not locust_installed():
        raise RunError(LOCUST_MISSING)  # before a server is started for nothing
    try:
        with ExitStack() as stack:
            base = None
            if run.app is not None:
                app, port, root = run.app
                base = stack.enter_context(AppServer(app, root, port)).url
            if load.engine == "locust":
                return list(_on_locust(run, load, base))
            coro = run_http_load(
                run.http,
                base,
                name=run.name,
                plan=load.plan,
                levels=load.levels,
                progress=run.progress,
            )
            if run.cpu_interval is None or run.plan.smoke:
                return list(run_coroutine(coro, run.loop_factory))
            with CpuTrace(run.name, interval=run.cpu_interval) as cpu:
                measured = run_coroutine(coro, run.loop_factory)
            return [*measured, cpu.result]
    except HttpError as exc:
        raise RunError(str(exc)) from None
    except CpuUnavailable as exc:
        raise RunError(str(exc)) from None


def _on_locust(run: CheckRun, load: Load, base: str | None) -> tuple[Result, ...]:
    """The HTTP load sent by Locust's master and workers (CPU sampled as for aide's own)."""
    assert run.http is not None
    url = run.http.target(base)
    send = partial(
        run_locust_load,
        run.http,
        url,
        name=run.name,
        plan=load.plan,
        workers=load.workers,
        master_bind=load.master_bind,
        progress=run.progress,
    )
    if run.cpu_interval is None:
        return send()
    with CpuTrace(run.name, interval=run.cpu_interval) as cpu:
        measured = send()
    return (*measured, cpu.result)


def _call(run: CheckRun, times: int = 1) -> None:
    """Call the target ``times`` times, untimed (memory tracing, statement counting)."""
    for _ in range(times):
        measure(
            run.target,
            run.args,
            run.kwargs,
            name=run.name,
            plan=replace(run.plan, smoke=True),
            loop_factory=run.loop_factory,
        )


@contextmanager
def _counting(queries: QueryWatch) -> Iterator[None]:
    """Count statements while the block runs."""
    try:
        queries.start()
    except QueryError as exc:
        raise RunError(f"databases: {exc}") from None
    try:
        yield
    finally:
        queries.detach()


def _measure(run: CheckRun, watch: CacheWatch | None) -> Result:
    if run.load is None:
        return measure(
            run.target,
            run.args,
            run.kwargs,
            name=run.name,
            plan=run.plan,
            loop_factory=run.loop_factory,
            on_sampling=None if watch is None else watch.start,
        )
    if watch is not None:
        watch.start()
    return apply_load(
        run.target,
        run.args,
        run.kwargs,
        name=run.name,
        plan=run.load.plan,
        mode=run.load.mode,
        levels=run.load.levels,
        spec=run.load.spec,
        loop_factory=run.loop_factory,
        progress=run.progress,
    )


async def run_check_async(run: CheckRun) -> list[Result]:
    """:func:`run_check` from an async test, on its running loop: timing or async load."""
    try:
        refuse_generator_function(run.target)
        request = _PROFILING.get()
        if request is not None and run.http is None and is_async_callable(run.target):
            fn, args, kwargs = run.target, run.args, run.kwargs or {}
            return await request.profile_async(run.name, lambda: fn(*args, **kwargs))
        if request is not None:
            return _profile(run, request)
        watch = run.cache_watch()
        queries = run.query_watch()
        measured = await _run_check_async(run, watch)
        results = [measured] if watch is None else [measured, watch.stop()]
        if queries is not None:
            with _counting(queries):
                for _ in range(run.plan.iterations):
                    await measure_async(
                        run.target,
                        run.args,
                        run.kwargs,
                        name=run.name,
                        plan=replace(run.plan, smoke=True),
                    )
            results.append(queries.stop(run.plan.iterations))
    except NothingTimed as exc:
        raise RunError(str(exc)) from None
    return results


async def _run_check_async(run: CheckRun, watch: CacheWatch | None) -> Result:
    if run.server is not None and run.load is None:
        value = await run.server.aserve(run.nodeid, run.name, run.target, run.args, run.kwargs)
        return served(run.name, value)
    if run.load is None:
        return await measure_async(
            run.target,
            run.args,
            run.kwargs,
            name=run.name,
            plan=run.plan,
            on_sampling=None if watch is None else watch.start,
        )
    if watch is not None:
        watch.start()
    plans = (
        [run.load.plan] if run.load.levels is None else level_plans(run.load.plan, run.load.levels)
    )
    results = [
        await run_load_async(
            run.target, run.args, run.kwargs, name=run.name, plan=plan, progress=run.progress
        )
        for plan in plans
    ]
    return results[0] if run.load.levels is None else sweep_result(run.name, results)
