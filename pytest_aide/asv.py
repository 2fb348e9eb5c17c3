"""asv (airspeed velocity) suites, found and read the way asv finds and reads them.

``asv.conf.json`` names the suite's ``benchmark_dir``; each module under it is
imported as part of that package, and every function, and every method of
every class, whose name has a benchmark prefix (``time_``, ``timeraw_``,
``mem_``, ``peakmem_``, ``track_``, or ``TimeXxx`` and so on) is a benchmark,
with its ``params`` product, ``setup``/``teardown`` (the module's, then the
class's), ``setup_cache``, ``skip_params``, ``timeout``, ``unit`` and
``number``/``repeat``/``warmup_time``. asv itself is not needed. This module
knows nothing of pytest.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import json
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_NAME",
    "PREFIXES",
    "AsvBenchmark",
    "AsvError",
    "benchmark_dir",
    "benchmarks_in",
    "deep_size",
    "param_id",
]

CONFIG_NAME = "asv.conf.json"
"""The file that marks an asv suite's root."""
PREFIXES = {
    "time": re.compile(r"^(Time[A-Z_].+)|(time_.+)$"),
    "timeraw": re.compile(r"^(Timeraw[A-Z_].+)|(timeraw_.+)$"),
    "mem": re.compile(r"^(Mem[A-Z_].+)|(mem_.+)$"),
    "peakmem": re.compile(r"^(PeakMem[A-Z_].+)|(peakmem_.+)$"),
    "track": re.compile(r"^(Track[A-Z_].+)|(track_.+)$"),
}
"""Benchmark kind -> the names asv takes for it."""
DEFAULT_TIMEOUT = 60.0
"""asv's timeout of one benchmark, in seconds, unless it sets ``timeout``."""


class AsvError(ValueError):
    """An asv configuration or benchmark that cannot be read; the message names it."""


def _without_comments(text: str) -> str:
    # asv's configuration allows // comments on lines of their own.
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def benchmark_dir(config: Path, shown: str) -> Path:
    """The ``benchmark_dir`` ``config`` names (``benchmarks`` by default), as a path."""
    try:
        data = json.loads(_without_comments(config.read_text(encoding="utf-8")))
    except OSError as exc:
        raise AsvError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AsvError(f"{shown}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AsvError(f"{shown}: expected a JSON object")
    name = data.get("benchmark_dir", "benchmarks")
    if not isinstance(name, str) or not name.strip():
        raise AsvError(f"{shown}: 'benchmark_dir' must be a directory name, got {name!r}")
    return (config.parent / name).resolve()


def _all_attrs(sources: list[Any], name: str) -> Iterator[Any]:
    """``name`` (or its capitalised twin, ``setUp``) on each source that has it, in order."""
    for source in sources:
        for candidate in (name, name[0].upper() + name[1:], "setUp" if name == "setup" else ""):
            if candidate and hasattr(source, candidate):
                yield getattr(source, candidate)
                break


def _first_attr(sources: list[Any], name: str, default: Any) -> Any:
    for source in sources:
        if hasattr(source, name):
            return getattr(source, name)
    return default


@dataclass
class AsvBenchmark:
    """One asv benchmark: its callable and what asv reads around it."""

    name: str
    """asv's name: ``module.Class.method`` within the suite."""
    kind: str
    """``time``, ``timeraw``, ``mem``, ``peakmem`` or ``track``."""
    func: Callable[..., Any]
    sources: list[Any]
    """Where attributes are looked up, first found wins: the callable, the class's
    instance, the module."""

    @property
    def params(self) -> list[list[Any]]:
        """The parameter axes (one list per parameter; empty when unparametrized)."""
        params = _first_attr(self.sources, "params", [])
        try:
            params = list(params)
        except TypeError:
            raise AsvError(f"{self.name}: params is not a list") from None
        if params and not isinstance(params[0], (list, tuple)):
            return [params]
        return [list(axis) for axis in params]

    def combinations(self) -> list[tuple[Any, ...]]:
        """Every combination of parameter values, in asv's order."""
        return list(itertools.product(*self.params)) if self.params else [()]

    def skipped(self, values: tuple[Any, ...]) -> bool:
        """Whether ``skip_params`` leaves out this combination."""
        skips = _first_attr(self.sources, "skip_params", [])
        return tuple(values) in [tuple(s) for s in skips]

    @property
    def setups(self) -> list[Callable[..., Any]]:
        """``setup`` of the module, then of the class (asv runs the outermost first)."""
        return list(_all_attrs(self.sources, "setup"))[::-1]

    @property
    def teardowns(self) -> list[Callable[..., Any]]:
        """``teardown`` of the class, then of the module."""
        return list(_all_attrs(self.sources, "teardown"))

    @property
    def setup_cache(self) -> Callable[[], Any] | None:
        """The ``setup_cache`` whose value is passed first to setup, benchmark and teardown."""
        return _first_attr(self.sources, "setup_cache", None)

    @property
    def cache_key(self) -> str | None:
        """What ``setup_cache`` runs are shared by: its module and line, as asv keys it."""
        cache = self.setup_cache
        if cache is None:
            return None
        module = inspect.getmodule(cache)
        line = inspect.getsourcelines(cache)[1]
        return f"{module.__name__ if module else '?'}:{line}"

    @property
    def timeout(self) -> float:
        """Seconds the benchmark may take (asv's default: 60)."""
        value = _first_attr(self.sources, "timeout", DEFAULT_TIMEOUT)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise AsvError(f"{self.name}: timeout must be a positive number, got {value!r}")
        return float(value)

    def attr(self, name: str, default: Any = None) -> Any:
        """Any other attribute asv reads (``unit``, ``number``, ``repeat``, ``warmup_time``)."""
        return _first_attr(self.sources, name, default)


def param_id(values: tuple[Any, ...]) -> str:
    """``1000-True``: a combination as pytest writes a parametrized id."""
    return "-".join(_shown(value) for value in values)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, type) or inspect.isroutine(value):
        return str(value.__qualname__)  # a class or function: its name, not its repr
    text = repr(value)
    return re.sub(r" at 0x[0-9a-fA-F]+>$", ">", text)


def benchmarks_in(module: types.ModuleType, suite: str) -> list[tuple[str | None, AsvBenchmark]]:
    """The benchmarks of ``module`` as ``(class name or None, benchmark)``, in asv's order.

    ``suite`` is the package name of the benchmark directory; asv's names leave it out.
    """
    prefix = module.__name__.removeprefix(suite).lstrip(".")
    found: list[tuple[str | None, AsvBenchmark]] = []
    for attr, value in list(vars(module).items()):
        if attr.startswith("_"):
            continue
        if inspect.isclass(value) and not inspect.isabstract(value):
            if value.__module__ != module.__name__:
                continue  # imported from elsewhere: collected where it is defined
            instance: Any = None
            for name, member in inspect.getmembers(value):
                kind = _kind(name, member)
                if kind is None:
                    continue
                if instance is None:
                    instance = value()
                bound = getattr(instance, name)
                asv_name = ".".join(p for p in (prefix, value.__name__, name) if p)
                found.append(
                    (value.__name__, AsvBenchmark(asv_name, kind, bound, [bound, instance, module]))
                )
        elif inspect.isfunction(value) and value.__module__ == module.__name__:
            kind = _kind(attr, value)
            if kind is not None:
                asv_name = ".".join(p for p in (prefix, value.__name__) if p)
                found.append((None, AsvBenchmark(asv_name, kind, value, [value, module])))
    return found


def _kind(name: str, member: Any) -> str | None:
    if not (inspect.isfunction(member) or inspect.ismethod(member)):
        return None
    if getattr(member, "skip_benchmark", False):
        return None
    search = getattr(member, "benchmark_name", name).split(".")[-1]
    for kind, pattern in PREFIXES.items():
        if pattern.match(search):
            return kind
    return None


def deep_size(value: Any) -> int:
    """Bytes ``value`` holds with everything it refers to (asv's ``mem_``, as pympler counts).

    Modules, classes and functions it refers to are not counted: they are the
    program's, not the object's.
    """
    seen: set[int] = set()
    stack = [value]
    total = 0
    skip = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj, 0)
        stack.extend(gc.get_referents(obj))
    return total
