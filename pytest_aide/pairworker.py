"""The pytest plugin of a ``--aide-against`` pair worker (``-p pytest_aide.pairworker``).

A worker is a pytest session in one tree, started by
:func:`pytest_aide.measure.pair.pair_items`. It imports the project from its
own tree (see :class:`Redirect`), runs the items the controller keeps, in the
controller's order, and stops at each measured call (``benchmark(...)``,
``benchmark.pedantic(...)``, ``aide_timer(...)``, a scenario's target) to time
batches of calls when asked. The test then goes on with the call's return
value, so its assertions still run. With ``plain`` in its spec a session
only imports from its tree and runs as any other (REV's asv numbers,
:mod:`pytest_aide.tracked`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from time import perf_counter_ns, thread_time_ns
from types import ModuleType
from typing import Any

import pytest

from pytest_aide.measure.pair import WORKER_ENV
from pytest_aide.measure.solo import MeasureClock, SoloUnavailable, measure_clock
from pytest_aide.measure.timer import Clock, _abatch, _batch, advance, is_async_callable

__all__ = ["PAIR_SERVER", "PairServer", "Redirect", "pedantic_batch"]

_Batch = Callable[[int], tuple[int, Any]]
_Make = Callable[[Clock, bool], _Batch]
"""Builds a batch of the measured call timed by a clock, or (True) of a no-op in its place."""


class Redirect(importlib.abc.MetaPathFinder):
    """Imports the project's top-level modules from this side's tree, whatever is installed.

    An editable install (a ``.pth`` path, or a finder such as setuptools' or
    ``editables``') points at the current checkout; this finder sits first on
    ``sys.meta_path`` and answers for the project's own top-level names, so their
    submodules follow from the package's ``__path__``. Namespace packages keep
    every portion they have here.
    """

    def __init__(self, locations: dict[str, list[str]]) -> None:
        self.locations = locations

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec of a redirected top-level module; None for every other name."""
        places = self.locations.get(fullname)
        if places is None:
            return None
        folders = [p for p in map(Path, places) if p.is_dir()]
        for place in map(Path, places):
            if place.is_file():
                return importlib.util.spec_from_file_location(fullname, place)
            if (place / "__init__.py").is_file():
                return importlib.util.spec_from_file_location(
                    fullname, place / "__init__.py", submodule_search_locations=[str(place)]
                )
        if not folders:
            raise ModuleNotFoundError(f"No module named {fullname!r} in this tree", name=fullname)
        spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
        spec.submodule_search_locations = [str(f) for f in folders]
        return spec


def _origin(fn: Any) -> str:
    """The source file of a callable (through partials, bound methods and wrappers)."""
    while hasattr(fn, "func"):
        fn = fn.func
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    code = getattr(fn, "__code__", None)
    if code is not None:
        return str(Path(code.co_filename).resolve())
    module = sys.modules.get(getattr(fn, "__module__", None) or type(fn).__module__)
    return str(Path(module.__file__).resolve()) if module and module.__file__ else ""


class PairServer:
    """The worker's end of the pipes: answers the controller at each measured call."""

    def __init__(self, spec: dict[str, Any]) -> None:
        reader, writer = spec["fds"]
        self._in = os.fdopen(reader, "r")
        self._out = os.fdopen(writer, "w", buffering=1)
        self.watch = frozenset(spec.get("watch") or ())
        self.changed = tuple("/" + path for path in spec.get("changed") or ())
        self.cpu: int | None = spec.get("cpu")

    def send(self, message: dict[str, Any]) -> None:
        """One JSON line to the controller."""
        self._out.write(json.dumps(message) + "\n")

    def receive(self) -> dict[str, Any]:
        """One JSON line from the controller (EOF means it is gone: stop)."""
        line = self._in.readline()
        if not line:
            raise SystemExit("aide pair worker: the controller went away")
        return json.loads(line)

    def keep(self, nodeids: list[str]) -> list[str]:
        """Tell the controller what was collected; return what it wants run, in its order.

        The worker is pinned to its CPU from here on: start-up and collection, which
        nothing measures, run wherever the machine has room, beside the other side's.
        """
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {int(self.cpu)})
        self.send({"op": "items", "items": nodeids})
        return list(self.receive()["items"])

    def _watched(self, name: str, file: str) -> bool:
        top = name.partition(".")[0]
        if top in self.watch:
            return True
        if top in sys.stdlib_module_names:  # stdlib bisect is not a changed pkg/bisect.py
            return False
        tail = "/" + name.replace(".", "/")
        tail += "/__init__.py" if file.endswith("__init__.py") else Path(file).suffix
        return any(path.endswith(tail) for path in self.changed)

    def _modules(self) -> dict[str, str]:
        """Files of the project's modules and of modules named like a changed file."""
        return {
            name: str(Path(module.__file__).resolve())
            for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None) and self._watched(name, module.__file__)
        }

    def _protocol(self, nodeid: str, label: str, fn: Any) -> Generator[dict, Any, Any]:
        """Yield the controller's commands for one measured call; return its last value."""
        self.send(
            {
                "op": "measure",
                "item": nodeid,
                "label": label,
                "file": _origin(fn),
                "modules": self._modules(),
            }
        )
        value = None
        while True:
            command = self.receive()
            if command["op"] == "done":
                return value
            if command["op"] == "skip":
                _, result = yield {"op": "run", "calls": 1}
                return result
            started = thread_time_ns()
            elapsed, result = yield command
            cpu = thread_time_ns() - started
            if command["op"] == "count":
                assert self._meter is not None
                self._meter.dump(str(command["tag"]))
                self.send({"op": "counted"})
            elif isinstance(self._solo, MeasureClock):
                wall = self._solo.take_wall()
                self.send({"op": "ran", "ns": wall, "cpu": cpu, "solo": elapsed})
            else:
                self.send({"op": "ran", "ns": elapsed, "cpu": cpu})
            value = value if command.get("noop") else result

    _meter: Meter | None = None
    _solo: MeasureClock | None = None

    def _clock(self, command: dict) -> Clock:
        """The batch's clock: valgrind's switch when counting, else solo time where read."""
        if command["op"] != "count":
            try:
                self._solo = measure_clock("solo")
            except SoloUnavailable:
                return perf_counter_ns
            return self._solo or perf_counter_ns
        if self._meter is None:
            self._meter = Meter()
        gc.collect()
        return self._meter.ready()

    @contextlib.contextmanager
    def _telling_errors(self) -> Iterator[None]:
        """An exception from the measured call goes to the controller, then on to the test."""
        try:
            yield
        except BaseException as exc:
            self.send({"op": "error", "message": f"{type(exc).__name__}: {exc}"})
            raise

    def serve_batches(self, nodeid: str, label: str, fn: Any, make: _Make) -> Any:
        """Run the batches ``make`` builds while the controller asks; return the last value."""
        protocol = self._protocol(nodeid, label, fn)
        command, done = advance(protocol, None)
        while not done:
            batch = make(self._clock(command), bool(command.get("noop")))
            with self._telling_errors():
                outcome = batch(int(command["calls"]))
            command, done = advance(protocol, outcome)
        return command

    def serve(
        self,
        nodeid: str,
        label: str,
        fn: Callable[..., Any],
        args: tuple,
        kwargs: dict,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    ) -> Any:
        """A measured call from synchronous code (coroutine functions get a new loop)."""
        if not is_async_callable(fn):
            return self.serve_batches(
                nodeid,
                label,
                fn,
                lambda clock, noop: (
                    lambda n: _batch(
                        _stand_in(args, kwargs) if noop else fn, args, kwargs, n, clock
                    )
                ),
            )
        loop = (loop_factory or asyncio.new_event_loop)()
        try:
            return self.serve_batches(
                nodeid,
                label,
                fn,
                lambda clock, noop: (
                    lambda n: loop.run_until_complete(
                        _abatch(
                            _stand_in(args, kwargs, True) if noop else fn, args, kwargs, n, clock
                        )
                    )
                ),
            )
        finally:
            loop.close()

    async def aserve(
        self, nodeid: str, label: str, fn: Callable[..., Any], args: tuple, kwargs: dict
    ) -> Any:
        """A measured call from an async test, on its running loop."""
        if not is_async_callable(fn):
            return self.serve(nodeid, label, fn, args, kwargs)
        protocol = self._protocol(nodeid, label, fn)
        command, done = advance(protocol, None)
        while not done:
            clock = self._clock(command)
            target = _stand_in(args, kwargs, True) if command.get("noop") else fn
            with self._telling_errors():
                outcome = await _abatch(target, args, kwargs, int(command["calls"]), clock)
            command, done = advance(protocol, outcome)
        return command


def _noop(*args: Any, **kwargs: Any) -> None:
    """Called in place of the measured callable to count what calling costs."""


def _noop0() -> None:
    """:func:`_noop` for calls without arguments (packing none costs instructions too)."""


async def _anoop(*args: Any, **kwargs: Any) -> None:
    """The coroutine twin of :func:`_noop`."""


async def _anoop0() -> None:
    """The coroutine twin of :func:`_noop0`."""


def _stand_in(args: tuple, kwargs: dict | None, coroutine: bool = False) -> Callable[..., Any]:
    """The no-op called in place of a callable called with ``args`` and ``kwargs``."""
    if coroutine:
        return _anoop if args or kwargs else _anoop0
    return _noop if args or kwargs else _noop0


class Meter:
    """Turns valgrind's counting on and off around measured calls (a worker under callgrind).

    pytest-codspeed's compiled module issues callgrind's client requests;
    outside valgrind they do nothing. Each count ends with a dump of what was
    counted since the last one, tagged so the controller can find it.
    """

    def __init__(self) -> None:
        from pytest_codspeed.instruments.hooks import dist_instrument_hooks as hooks

        self._hooks = hooks
        self._instance = hooks.instrument_hooks_init()
        self._start = hooks.callgrind_start_instrumentation
        self._stop = hooks.callgrind_stop_instrumentation
        self._on = False

    def ready(self) -> Clock:
        """The switch for the next batch, counting off (a batch that raised left it on)."""
        if self._on:
            self.switch()
        return self.switch

    def switch(self) -> int:
        """Turn counting on, or off if it is on; a batch calls this before and after its calls."""
        if self._on:
            self._stop()
        else:
            self._start()
        self._on = not self._on
        return 0

    def dump(self, tag: str) -> None:
        """Write what was counted since the last dump, tagged ``tag``, and zero it."""
        self._hooks.instrument_hooks_set_executed_benchmark(
            self._instance, os.getpid(), tag.encode("ascii", "replace")
        )


PAIR_SERVER = pytest.StashKey[PairServer]()
"""Set in a pair worker's config: aide's fixtures and scenario items serve through it."""


def pedantic_batch(
    target: Callable[..., Any],
    args: tuple,
    kwargs: dict | None,
    setup: Callable[[], Any] | None,
    teardown: Callable[..., Any] | None,
) -> _Make:
    """pytest-benchmark's ``pedantic`` semantics: setup and teardown run outside the timing."""

    def make(clock: Clock, noop: bool) -> _Batch:
        if setup is None and teardown is None:
            fn = _stand_in(args, kwargs) if noop else target
            return lambda calls: _batch(fn, tuple(args), kwargs or {}, calls, clock)

        def batch(calls: int) -> tuple[int, Any]:
            total, value = 0, None
            for _ in range(calls):
                call_args, call_kwargs = args, kwargs or {}
                if setup is not None:
                    made = setup()
                    if made is not None:
                        call_args, call_kwargs = made
                call = _stand_in(call_args, call_kwargs) if noop else target
                start = clock()
                value = call(*call_args, **call_kwargs)
                total += clock() - start
                if teardown is not None:
                    teardown(*call_args, **call_kwargs)
            return total, value

        return batch

    return make


def _patch_benchmark(server: PairServer, label_for: Callable[[Any], str]) -> None:
    """Make pytest-benchmark's fixture serve the controller instead of timing by itself."""
    try:
        from pytest_benchmark.fixture import BenchmarkFixture
    except ImportError:
        return

    def call(
        self: Any, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        make = pedantic_batch(function_to_benchmark, args, kwargs, None, None)
        return server.serve_batches(self.fullname, label_for(self), function_to_benchmark, make)

    def pedantic(
        self: Any,
        target: Callable[..., Any],
        args: tuple = (),
        kwargs: dict | None = None,
        setup: Callable[[], Any] | None = None,
        teardown: Callable[..., Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
    ) -> Any:
        make = pedantic_batch(target, args, kwargs, setup, teardown)
        return server.serve_batches(self.fullname, label_for(self), target, make)

    BenchmarkFixture.__call__ = call  # type: ignore[method-assign]
    BenchmarkFixture.pedantic = pedantic  # type: ignore[method-assign]


def _redirect_paths(path_map: Sequence[str] | None) -> None:
    """Move ``sys.path`` entries (``.pth`` files of editable installs) into this side's tree."""
    if not path_map:
        return
    here, there = (Path(p) for p in path_map)
    moved = []
    for entry in sys.path:
        where = Path(entry or ".").resolve()
        inside = where.is_relative_to(here) and not {"site-packages", "dist-packages"} & set(
            where.parts
        )
        moved.append(str(there / where.relative_to(here)) if inside else entry)
    sys.path[:] = moved


def _start() -> PairServer | None:
    raw = os.environ.pop(WORKER_ENV, None)
    if raw is None:
        return None
    spec = json.loads(raw)
    if spec.get("perf_map"):  # counted: each Python function under a trampoline of its own
        sys.activate_stack_trampoline("perf")  # type: ignore[attr-defined]
    _redirect_paths(spec.get("path_map"))
    if spec.get("redirects"):
        sys.meta_path.insert(0, Redirect(spec["redirects"]))
    if spec.get("plain"):  # a whole session of REV's tree, driven by nobody (tracked.py)
        return None
    return PairServer(spec)


_SERVER = _start()
"""Started at import, before any conftest or test module imports the project."""


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Measure nothing here: every measured call is timed on the controller's orders."""
    if _SERVER is None:
        return
    config.stash[PAIR_SERVER] = _SERVER
    for name, value in (
        ("aide_perf", False),
        ("aide_against", None),
        ("aide_save_baseline", False),
    ):
        setattr(config.option, name, value)

    def label_for(fixture: Any) -> str:
        return config.stash[_LABELS].get(fixture.fullname, fixture.name)

    config.stash[_LABELS] = {}
    _patch_benchmark(_SERVER, label_for)


_LABELS = pytest.StashKey[dict[str, str]]()
"""Node id -> the name aide gives a ``benchmark`` test's result (its check name)."""


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember the check name a ``benchmark`` result of this item gets in the main session."""
    if _SERVER is None:
        return
    marker = item.get_closest_marker("aide")
    name = marker.kwargs.get("name") if marker is not None else None
    item.config.stash[_LABELS][item.nodeid] = name if isinstance(name, str) else item.name


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Keep the items the controller asks for, in its order."""
    if _SERVER is None:
        return
    by_id = {item.nodeid: item for item in items}
    keep = _SERVER.keep(list(by_id))
    dropped = [item for item in items if item.nodeid not in set(keep)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = [by_id[nodeid] for nodeid in keep]


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Tell the controller an item is over."""
    if _SERVER is not None:
        _SERVER.send({"op": "end", "item": nodeid})


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tell the controller this session is over, and end the process.

    The items and their fixtures are torn down by now; the terminal summary
    (and plugins importing their libraries to write theirs) would only cost
    the next round's workers the CPU, and the controller reads nothing more.
    """
    if _SERVER is not None:
        _SERVER.send({"op": "finish"})
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(int(exitstatus))


def serving(config: pytest.Config) -> PairServer | None:
    """The pair server of this session, if it is a pair worker."""
    return config.stash.get(PAIR_SERVER, None)
