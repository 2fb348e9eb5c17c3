"""asv suites as pytest items: one per benchmark and parameter combination.

Node ids read like asv's names: ``benchmarks/bench_graph.py::TimeSuite::time_bfs[1000-True]``.
``time_`` benchmarks are timed as ``aide_timer`` times a callable (so they are
paired, counted and profiled like it), ``timeraw_`` code in fresh interpreters,
``peakmem_`` traced with memray, ``mem_`` and ``track_`` recorded as numbers.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from numbers import Real
from pathlib import Path
from typing import Any, NoReturn

import pytest

from pytest_aide.asv import (
    AsvBenchmark,
    AsvError,
    benchmark_dir,
    benchmarks_in,
    deep_size,
    param_id,
)
from pytest_aide.fixtures import AideMemory, AideTimer
from pytest_aide.results import TimingResult, TrackResult

__all__ = ["AsvBroken", "AsvItem", "AsvModule", "AsvSuite"]

__tracebackhide__ = True

TIMERAW_REPEAT = 5
"""Fresh interpreters a ``timeraw_`` benchmark is timed in, unless it sets ``repeat``."""

_RAW = """
import sys, time
setup, code = sys.stdin.read().split("\\0", 1)
namespace = {}
exec(compile(setup, "<setup>", "exec"), namespace)
started = time.perf_counter()
exec(compile(code, "<timeraw>", "exec"), namespace)
print(time.perf_counter() - started)
"""


class AsvTimer(AideTimer):
    """Times an asv ``time_`` benchmark."""

    fixture = "asv"


def _fail(message: str) -> NoReturn:
    raise pytest.fail.Exception(message, pytrace=False) from None


def _skip(reason: str) -> NoReturn:
    pytest.skip(reason)


class AsvSuite:
    """The plugin object that collects an asv suite's modules (``--aide-asv`` or the rootdir's).

    ``timer_for`` builds a check's timer; ``session`` is the aide session (checks, memory
    traces, time limits).
    """

    def __init__(
        self,
        config_path: Path,
        shown: str,
        timer_for: Callable[[pytest.Item, type[AideTimer]], AideTimer],
        session: Any,
    ) -> None:
        self.shown = shown
        self.timer_for = timer_for
        self.session = session
        self.error: str | None = None
        try:
            self.directory: Path | None = benchmark_dir(config_path, shown)
        except AsvError as exc:
            self.directory, self.error = None, str(exc)
        self._caches: dict[str, Any] = {}

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.File | None:
        """Collect each module of the suite's benchmark directory."""
        directory = self.directory
        if directory is None or file_path.suffix != ".py" or file_path.name == "__init__.py":
            return None
        if not file_path.resolve().is_relative_to(directory):
            return None
        return AsvModule.from_parent(parent, path=file_path, suite=self)

    def pytest_report_header(self) -> list[str]:
        """Say which asv suite is collected, or why it is not."""
        if self.error:
            return [f"aide: asv suite not collected: {self.error}"]
        return [f"aide: asv suite {self.shown} (benchmarks in {self.directory})"]

    def cached(self, bench: AsvBenchmark) -> Any:
        """``setup_cache``'s value, made once per session for all benchmarks that share it."""
        key = bench.cache_key
        if key is None:
            return None
        if key not in self._caches:
            setup_cache = bench.setup_cache
            assert setup_cache is not None
            self._caches[key] = setup_cache()
        return self._caches[key]


class AsvModule(pytest.File):
    """One module of an asv suite, imported as asv imports it: part of the suite's package."""

    def __init__(self, *, suite: AsvSuite, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite

    def _import(self) -> Any:
        directory = self.suite.directory
        assert directory is not None
        parent = str(directory.parent)
        if parent not in sys.path:
            sys.path.insert(0, parent)
        parts = self.path.resolve().relative_to(directory).with_suffix("").parts
        name = ".".join((directory.name, *parts))
        return importlib.import_module(name), directory.name

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        """The module's benchmarks; a class's under a node of its own.

        A module that cannot be imported is one failing item, so the rest of the suite runs.
        """
        try:
            module, suite = self._import()
        except Exception as exc:
            why = f"asv benchmark module cannot be imported: {type(exc).__name__}: {exc}"
            yield AsvBroken.from_parent(self, name="import", why=f"{self.nodeid}: {why}")
            return
        classes: dict[str, AsvClass] = {}
        for class_name, bench in benchmarks_in(module, suite):
            if class_name is None:
                yield from _items(self, bench)
                continue
            if class_name not in classes:
                classes[class_name] = AsvClass.from_parent(self, name=class_name)
                classes[class_name].benches = []
                yield classes[class_name]
            classes[class_name].benches.append(bench)


class AsvBroken(pytest.Item):
    """A module of the suite that could not be imported: fails with the reason, on one line."""

    def __init__(self, *, why: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.why = why

    def runtest(self) -> None:
        """Fail with the reason the module could not be collected."""
        _fail(self.why)


class AsvClass(pytest.Collector):
    """An asv benchmark class: its benchmarks share one instance, as in asv."""

    benches: list[AsvBenchmark]

    def collect(self) -> Iterator[pytest.Item]:
        """One item per benchmark and parameter combination."""
        for bench in self.benches:
            yield from _items(self, bench)


def _items(parent: pytest.Collector, bench: AsvBenchmark) -> Iterator[AsvItem]:
    try:
        combinations = bench.combinations()
    except AsvError as exc:
        raise parent.CollectError(str(exc)) from None
    method = bench.name.rsplit(".", 1)[-1]
    for values in combinations:
        name = f"{method}[{param_id(values)}]" if values else method
        yield AsvItem.from_parent(parent, name=name, bench=bench, values=values)


class AsvItem(pytest.Item):
    """One asv benchmark at one parameter combination: a check."""

    aide_declared = "asv"
    """How the suite declared it (the summary counts each shape)."""

    def __init__(self, *, bench: AsvBenchmark, values: tuple[Any, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bench = bench
        self.values = values
        self.aide_pairable = bench.kind == "time"
        """Only a ``time_`` benchmark goes through the timer a pair or count worker serves."""
        self.aide_tracked = bench.kind in ("track", "mem", "peakmem")
        """It yields a number: under ``--aide-against`` REV's tree yields its own to compare."""

    def _suite(self) -> AsvSuite:
        node: Any = self.parent
        while not isinstance(node, AsvModule):
            node = node.parent
        return node.suite

    def setup(self) -> None:
        """Set the benchmark's timeout as its check's time limit."""
        try:
            timeout = self.bench.timeout
        except AsvError as exc:
            _fail(str(exc))
        self._suite().session.limit_time(self, timeout, "asv timeout")

    def runtest(self) -> None:
        """Run setup, measure the benchmark as its kind says, run teardown."""
        bench, suite = self.bench, self._suite()
        if bench.skipped(self.values):
            pytest.skip("asv: skip_params")
        cache = suite.cached(bench)
        args = (cache, *self.values) if cache is not None else self.values
        try:
            for setup in bench.setups:
                setup(*args)
        except NotImplementedError as exc:  # asv's SkipNotImplemented is one
            pytest.skip(f"asv: skipped: {exc!r}")
        try:
            self._measure(suite, bench, args)
        finally:
            for teardown in bench.teardowns:
                teardown(*args)

    def _measure(self, suite: AsvSuite, bench: AsvBenchmark, args: tuple[Any, ...]) -> None:
        session = suite.session
        check = session.check_for(self)
        if bench.kind == "time":
            rounds = _rounds(bench.attr("repeat", 0))
            warmup = 0 if bench.attr("warmup_time", None) == 0 else 2
            timer = suite.timer_for(self, AsvTimer)
            number = bench.attr("number", 0)
            if isinstance(number, int) and number > 0:  # exactly so many calls a sample
                afresh = _afresh(bench, args)
                timer.pedantic(bench.func, args, {}, (rounds, number, warmup), setup=afresh)
            else:
                timer.time(bench.func, args, {}, rounds, warmup)
        elif bench.kind == "timeraw":
            check.results.append(_timeraw(check.next_result_name(), bench, args, self.nodeid))
        elif bench.kind == "peakmem":
            memory = AideMemory(check, session.trace_dir, _skip, _fail)
            with memory() as traced:
                bench.func(*args)
            # The peak is gated against the baseline as a count is; the trace stays for limits.
            check.results.append(TrackResult(traced.name, traced.peak_bytes, "bytes", "peakmem"))
        elif bench.kind == "mem":
            size = deep_size(bench.func(*args))
            check.results.append(TrackResult(check.next_result_name(), size, "bytes", "size"))
        else:
            value = bench.func(*args)
            if not isinstance(value, Real) or isinstance(value, bool):
                _fail(f"{self.nodeid}: track_ returned {value!r}, not a number")
            unit = str(bench.attr("unit", "unit"))
            check.results.append(TrackResult(check.next_result_name(), float(value), unit))

    def _traceback_filter(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        # Show the suite's own frames, as pytest shows a test function's.
        traceback = excinfo.traceback
        directory = self._suite().directory
        for index, entry in enumerate(traceback):
            if directory is not None and Path(entry.path).resolve().is_relative_to(directory):
                return traceback[index:].filter(excinfo)
        return traceback.filter(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the benchmark is defined, and asv's name for it."""
        try:
            line = inspect.getsourcelines(self.bench.func)[1] - 1
        except (OSError, TypeError):
            line = None
        suffix = f"({param_id(self.values)})" if self.values else ""
        return self.path, line, f"asv {self.bench.name}{suffix}"


def _rounds(repeat: object) -> int:
    """Samples of a ``time_`` benchmark: its ``repeat``, or asv's tuple's bounds around 10."""
    if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat > 0:
        return repeat
    if isinstance(repeat, (tuple, list)) and len(repeat) == 3:
        low, high = (int(r) for r in repeat[:2])
        return max(low, min(high, 10), 1)
    return 10


def _afresh(bench: AsvBenchmark, args: tuple[Any, ...]) -> Callable[[], None]:
    """Before each sample but the first, tear down and set up again, as asv does."""
    first = True

    def again() -> None:
        nonlocal first
        if first:
            first = False
            return
        for teardown in bench.teardowns:
            teardown(*args)
        for setup in bench.setups:
            setup(*args)

    return again


def _timeraw(name: str, bench: AsvBenchmark, args: tuple[Any, ...], nodeid: str) -> TimingResult:
    """Time the code a ``timeraw_`` benchmark returns, each time in a fresh interpreter."""
    made = bench.func(*args)
    code, setup = (made, "") if isinstance(made, str) else tuple(made)
    if not isinstance(code, str) or not isinstance(setup, str):
        _fail(f"{nodeid}: timeraw_ must return code, or (code, setup), as strings; got {made!r}")
    repeat = bench.attr("repeat", 0)
    runs = repeat if isinstance(repeat, int) and repeat > 0 else TIMERAW_REPEAT
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _RAW],
            input=f"{setup}\0{code}",
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            _fail(f"{nodeid}: timeraw_ code failed in a fresh interpreter: {last}")
        samples.append(float(json.loads(done.stdout.strip().splitlines()[-1])))
    return TimingResult(name, samples, warmup=0)
