"""Scenario files: TOML schema, validation and target import (no pytest here).

Every problem is reported as one line naming the file, the scenario and the
key, e.g. ``scenarios/aide.toml: scenario 'health': unknown threshold key
'p96' (known: mean, ...)``. A bad scenario never hides the good ones.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.config import ProfileError, parse_profiles
from pytest_aide.confirm import RetryError, retry_table
from pytest_aide.fileio import read_text
from pytest_aide.growth import GrowthError, ScalingSpec, scaling_spec
from pytest_aide.measure.counts import measure_name
from pytest_aide.measure.http import HttpError, HttpSpec, http_spec
from pytest_aide.measure.load import LOAD_MODES, LoadPlan
from pytest_aide.targets import TargetError, import_target
from pytest_aide.units import UnitError, hint, parse_duration, parse_timeout
from pytest_aide.verdict import Threshold, ThresholdError, parse_thresholds

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "LOAD_OPTIONS",
    "SCENARIO_KEYS",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "ScenarioLoad",
    "load_scenario_file",
    "resolve_target",
]

SCENARIO_KEYS = (
    "target",
    "args",
    "kwargs",
    "iterations",
    "warmup",
    "thresholds",
    "memory",
    "cpu",
    "load",
    "timeout",
    "measure",
    "retry",
    "caches",
    "databases",
    "http",
    "server",
    "scaling",
    "description",
)
"""Keys a ``[scenarios.NAME]`` table may hold."""
_FILE_KEYS = ("scenarios", "profiles")
_MAX_COUNT = 1_000_000
_MAX_CONCURRENCY = 10_000
LOAD_OPTIONS = (
    "concurrency",
    "requests",
    "duration",
    "mode",
    "rate",
    "timeout",
    "engine",
    "workers",
)
"""Options of a scenario's ``load`` table."""
LOAD_ENGINES = ("aide", "locust")
"""What sends a load: aide's own driver, or Locust's distributed runner (HTTP checks)."""


class ScenarioError(Exception):
    """A scenario file, scenario or key that cannot be used; the message is the whole story."""


@dataclass(frozen=True)
class ScenarioLoad:
    """A scenario's ``load`` table: how much load, in which mode, over which levels."""

    plan: LoadPlan
    mode: str = "thread"
    levels: list[int] | None = None
    """Concurrency levels of a sweep, or None for a single level."""
    engine: str = "aide"
    """What sends an HTTP check's load: aide's own client, or ``locust`` (its runner)."""
    workers: int = 1
    """Locust's worker processes (``engine = "locust"``)."""


@dataclass
class Scenario:
    """One validated scenario."""

    name: str
    target: str
    """``package.module:callable`` (attribute paths like ``mod:Class.method`` work)."""
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    iterations: int = 10
    warmup: int = 2
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    description: str = ""
    profiles: dict[str, dict[str, Threshold]] = field(default_factory=dict)
    """Threshold overrides by profile name, from this file's ``[profiles.NAME.SCENARIO]``."""
    memory: dict[str, bool] | None = None
    """memray options when the scenario also traces memory (``memory = true`` or a table)."""
    cpu: float | None = None
    """Sampling interval in seconds when the scenario also samples CPU."""
    load: ScenarioLoad | None = None
    """Concurrent load to apply instead of timing calls one at a time."""
    timeout: float | None = None
    """Seconds after which the scenario is stopped and fails (None: the session default)."""
    measure: str | None = None
    """What the gate measures (``time``, ``instructions``, ``cycles``); None: the session's."""
    retry: dict[str, Any] | None = None
    """The ``retry`` table (validated): how a suspected failure is confirmed; None: the
    session's ``--aide-confirm``."""
    caches: list[str] = field(default_factory=list)
    """``package.module:function`` names of caches whose hit rate the check reports."""
    databases: list[str] = field(default_factory=list)
    """``package.module:attribute`` names of sqlite3 connections (or lists of them) and
    SQLAlchemy engines whose SQL statements per call the check counts."""
    http: HttpSpec | None = None
    """The request an HTTP check sends under load, instead of calling a target."""
    server: tuple[str, int] | None = None
    """``(package.module:app, port)`` started on loopback for the check (port 0: any free)."""
    scaling: ScalingSpec | None = None
    """Measure at each of several input sizes and judge the order of growth."""

    def thresholds_for(self, profile: str) -> dict[str, Threshold]:
        """The scenario's thresholds with ``profile``'s overrides merged over them."""
        return {**self.thresholds, **self.profiles.get(profile, {})}


@dataclass
class ScenarioFile:
    """What one TOML file yields: good scenarios, and errors by scenario name.

    An error under the name ``None`` concerns the whole file.
    """

    path: str
    scenarios: list[Scenario] = field(default_factory=list)
    errors: dict[str | None, str] = field(default_factory=dict)


def _count(value: object, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"key {key!r}: expected a whole number, got {value!r}")
    if not minimum <= value <= _MAX_COUNT:
        raise ScenarioError(
            f"key {key!r}: expected a whole number from {minimum} to {_MAX_COUNT:,}, got {value}"
        )
    return value


def _expect(value: object, kind: type, key: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise ScenarioError(f"key {key!r}: expected {what}, got {type(value).__name__} {value!r}")
    return value


def _target(value: object) -> str:
    text = _expect(value, str, "target", "a string 'package.module:callable'")
    module, sep, attr = text.partition(":")
    if not sep or not module.strip() or not attr.strip() or " " in text:
        raise ScenarioError(f"key 'target': expected 'package.module:callable', got {text!r}")
    return text


def _switch(value: object, key: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """``true``/``false`` or a table of known options; returns the options or None."""
    if isinstance(value, bool):
        return dict(options) if value else None
    if not isinstance(value, dict):
        raise ScenarioError(
            f"key {key!r}: expected true, false or a table of {', '.join(options)}, got {value!r}"
        )
    unknown = sorted(set(value) - set(options))
    if unknown:
        raise ScenarioError(
            f"key {key!r}: unknown option {unknown[0]!r} ({hint(unknown[0], options)})"
        )
    return {**options, **value}


def _memory(value: object) -> dict[str, bool] | None:
    options = _switch(value, "memory", {"python_allocators": False, "native": False})
    if options is not None:
        for option, flag in options.items():
            if not isinstance(flag, bool):
                raise ScenarioError(f"key 'memory': {option!r} must be true or false")
    return options


def _cpu(value: object) -> float | None:
    options = _switch(value, "cpu", {"interval": 0.05})
    if options is None:
        return None
    try:
        interval = parse_duration(options["interval"])
    except UnitError as exc:
        raise ScenarioError(f"key 'cpu': interval: {exc}") from None
    if interval <= 0:
        raise ScenarioError("key 'cpu': interval must be more than 0")
    return interval


def _positive(value: object, option: str, parse: Callable[[object], float]) -> float:
    try:
        number = parse(value)
    except UnitError as exc:
        raise ScenarioError(f"key 'load': {option}: {exc}") from None
    if not number > 0:
        raise ScenarioError(f"key 'load': {option} must be more than 0, got {value!r}")
    return number


def _rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitError(f"expected requests per second as a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise UnitError(f"expected a finite number, got {value!r}")
    return float(value)


def _concurrency(value: object) -> tuple[int, list[int] | None]:
    levels = value if isinstance(value, list) else [value]
    if not levels:
        raise ScenarioError("key 'load': concurrency: expected at least one level")
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int):
            raise ScenarioError(
                f"key 'load': concurrency: expected a whole number or an array of them, "
                f"got {level!r}"
            )
        if not 1 <= level <= _MAX_CONCURRENCY:
            raise ScenarioError(
                f"key 'load': concurrency: expected 1 to {_MAX_CONCURRENCY:,}, got {level}"
            )
    return min(levels), (sorted(set(levels)) if isinstance(value, list) else None)


def _load(value: object, http: bool = False) -> ScenarioLoad | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ScenarioError(
            f"key 'load': expected a table like {{ concurrency = 50, requests = 250 }}, "
            f"got {value!r}"
        )
    unknown = sorted(set(value) - set(LOAD_OPTIONS))
    if unknown:
        raise ScenarioError(
            f"key 'load': unknown option {unknown[0]!r} ({hint(unknown[0], LOAD_OPTIONS)})"
        )
    concurrency, levels = _concurrency(value.get("concurrency", 50))
    mode = value.get("mode", "thread")
    if mode not in LOAD_MODES:
        raise ScenarioError(f"key 'load': unknown mode {mode!r} ({hint(mode, LOAD_MODES)})")
    requests = value.get("requests")
    if requests is not None:
        try:
            requests = _count(requests, "requests", 1)
        except ScenarioError as exc:
            raise ScenarioError(f"key 'load': {exc}") from None
    optional = {
        "duration": parse_duration,
        "rate": _rate,
        "timeout": parse_duration,
    }
    figures = {
        option: _positive(value[option], option, parse)
        for option, parse in optional.items()
        if option in value
    }
    try:
        plan = LoadPlan(concurrency=concurrency, requests=requests, **figures)
    except ValueError as exc:
        raise ScenarioError(f"key 'load': {exc}") from None
    engine, workers = _engine(value)
    if engine == "locust" and not http:
        raise ScenarioError("key 'load': engine 'locust' sends HTTP requests: add an 'http' table")
    if engine == "locust" and (levels is not None or "rate" in value or "timeout" in value):
        raise ScenarioError(
            "key 'load': engine 'locust' runs one level of closed-loop users: leave out "
            "'rate', 'timeout' and a list of concurrency levels"
        )
    return ScenarioLoad(plan, mode, levels, engine, workers)


def _engine(value: dict) -> tuple[str, int]:
    """The load table's ``engine`` and Locust's ``workers``."""
    engine = value.get("engine", "aide")
    if engine not in LOAD_ENGINES:
        raise ScenarioError(
            f"key 'load': unknown engine {engine!r} ({hint(str(engine), LOAD_ENGINES)})"
        )
    if "workers" in value and engine != "locust":
        raise ScenarioError("key 'load': 'workers' are Locust's: add engine = \"locust\"")
    try:
        workers = _count(value.get("workers", 1), "workers", 1)
    except ScenarioError as exc:
        raise ScenarioError(f"key 'load': {exc}") from None
    return engine, workers


def _scenario(name: str, table: object) -> Scenario:
    if not isinstance(table, dict):
        raise ScenarioError(f"expected a table, got {type(table).__name__} {table!r}")
    unknown = sorted(set(table) - set(SCENARIO_KEYS))
    if unknown:
        raise ScenarioError(f"unknown key {unknown[0]!r} ({hint(unknown[0], SCENARIO_KEYS)})")
    if "scaling" in table:
        for key in ("load", "http", "memory", "cpu"):
            if key in table:
                raise ScenarioError(
                    f"key {key!r}: a 'scaling' check times single calls at each size; "
                    f"give {key!r} a scenario of its own"
                )
    if "http" in table:
        if "target" in table:
            raise ScenarioError(
                "keys 'target' and 'http': give one (a callable to call, or a request to send)"
            )
        for key in ("args", "kwargs", "memory", "caches", "databases"):
            if key in table:
                raise ScenarioError(
                    f"key {key!r}: an 'http' check sends requests to a server in another "
                    "process; it has no callable to pass arguments to or to trace"
                )
        if isinstance(table.get("load"), dict) and "mode" in table["load"]:
            raise ScenarioError(
                "key 'load': mode: an 'http' check's load is sent by the aiohttp client; "
                "leave 'mode' out"
            )
    elif "server" in table:
        raise ScenarioError("key 'server': a server is started for an 'http' check; add 'http'")
    elif "target" not in table:
        raise ScenarioError("key 'target' is missing ('package.module:callable')")
    try:
        thresholds = parse_thresholds(
            _expect(table.get("thresholds", {}), dict, "thresholds", "a table")
        )
    except ThresholdError as exc:
        raise ScenarioError(str(exc)) from None
    return Scenario(
        name=name,
        target=_target(table["target"]) if "target" in table else "",
        args=list(_expect(table.get("args", []), list, "args", "an array")),
        kwargs=dict(_expect(table.get("kwargs", {}), dict, "kwargs", "a table")),
        iterations=_count(table.get("iterations", 10), "iterations", 1),
        warmup=_count(table.get("warmup", 2), "warmup", 0),
        thresholds=thresholds,
        description=_expect(table.get("description", ""), str, "description", "a string"),
        memory=_memory(table.get("memory", False)),
        cpu=_cpu(table.get("cpu", False)),
        load=_load(table.get("load"), "http" in table),
        timeout=_parsed(table, "timeout", parse_timeout, UnitError),
        measure=_measure(table.get("measure"), "load" in table or "http" in table),
        retry=_parsed(table, "retry", retry_table, RetryError),
        caches=_names(table.get("caches", []), "caches", "function"),
        databases=_names(table.get("databases", []), "databases", "attribute"),
        http=_parsed(table, "http", http_spec, HttpError),
        server=_server(table.get("server")),
        scaling=_parsed(table, "scaling", scaling_spec, GrowthError),
    )


def _measure(value: object, load: bool) -> str | None:
    if value is None:
        return None
    try:
        measure = measure_name(value)
    except ValueError as exc:
        raise ScenarioError(f"key 'measure': {exc}") from None
    if load and measure != "time":
        raise ScenarioError(f"key 'measure': a load scenario is timed, it cannot measure {measure}")
    return measure


def _names(value: object, key: str, what: str) -> list[str]:
    """A key holding ``package.module:attribute`` names (one, or an array)."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ScenarioError(
            f"key {key!r}: expected an array of 'package.module:{what}' names, got {value!r}"
        )
    for name in names:
        module, sep, attr = name.partition(":")
        if not sep or not module.strip() or not attr.strip() or " " in name:
            raise ScenarioError(f"key {key!r}: expected 'package.module:{what}', got {name!r}")
    return list(names)


def _parsed(table: dict[str, Any], key: str, parse: Callable[[Any], Any], *errors: type) -> Any:
    """``table[key]`` read by ``parse`` (None when absent); its errors name the key."""
    value = table.get(key)
    if value is None:
        return None
    try:
        return parse(value)
    except errors as exc:
        raise ScenarioError(f"key {key!r}: {exc}") from None


def _server(value: object) -> tuple[str, int] | None:
    if value is None:
        return None
    table = {"app": value} if isinstance(value, str) else value
    if not isinstance(table, dict) or set(table) - {"app", "port"} or "app" not in table:
        raise ScenarioError(
            "key 'server': expected 'package.module:app' or { app = 'package.module:app', "
            f"port = 8080 }}, got {value!r}"
        )
    app, port = table["app"], table.get("port", 0)
    if not isinstance(app, str) or ":" not in app or " " in app:
        raise ScenarioError(f"key 'server': expected 'package.module:app', got {app!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ScenarioError(f"key 'server': port must be from 0 (any free) to 65535, got {port!r}")
    return app, port


def load_scenario_file(path: Path, display: str | None = None) -> ScenarioFile:
    """Read and validate one scenario file; problems are collected, never raised."""
    shown = display or str(path)
    result = ScenarioFile(shown)
    try:
        data = tomllib.loads(read_text(path))
    except OSError as exc:
        result.errors[None] = f"{shown}: cannot read file: {exc.strerror or exc}"
        return result
    except UnicodeDecodeError:
        result.errors[None] = f"{shown}: cannot read file: not UTF-8 text"
        return result
    except tomllib.TOMLDecodeError as exc:
        result.errors[None] = f"{shown}: invalid TOML: {exc}"
        return result
    unknown = sorted(set(data) - set(_FILE_KEYS))
    if unknown:
        what = hint(unknown[0], _FILE_KEYS)
        result.errors[None] = f"{shown}: unknown top-level key {unknown[0]!r} ({what})"
        return result
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        result.errors[None] = f"{shown}: no scenarios: add a [scenarios.NAME] table"
        return result
    for name, table in scenarios.items():
        try:
            result.scenarios.append(_scenario(name, table))
        except ScenarioError as exc:
            result.errors[name] = f"{shown}: scenario {name!r}: {exc}"
    _attach_profiles(result, data.get("profiles", {}), set(scenarios))
    return result


def _attach_profiles(result: ScenarioFile, table: object, names: set[str]) -> None:
    """Give each scenario its profile overrides; a bad profile errors its own item."""
    try:
        profiles = parse_profiles(table, result.path, noun="scenario")
    except ProfileError as exc:
        result.errors["profiles"] = str(exc)
        return
    by_name = {scenario.name: scenario for scenario in result.scenarios}
    for profile, overrides in profiles.items():
        unknown = sorted(set(overrides) - names)
        if unknown:
            result.errors[f"profiles.{profile}"] = (
                f"{result.path}: profile {profile!r}: unknown scenario {unknown[0]!r} "
                f"({hint(unknown[0], sorted(names))})"
            )
            continue
        for name, thresholds in overrides.items():
            if name in by_name:
                by_name[name].profiles[profile] = thresholds


def resolve_target(
    spec: str, search_path: Path | None = None, key: str = "'target'"
) -> Callable[..., Any]:
    """Import ``package.module:callable`` (:func:`~pytest_aide.targets.import_target`).

    ``key`` names what the spec was given as in an error (``'scaling': setup``).
    """
    try:
        obj = import_target(spec, search_path)
    except TargetError as exc:
        raise ScenarioError(f"key {key}: {exc}") from None
    if not callable(obj):
        raise ScenarioError(f"key {key}: {spec!r} is not callable (it is {type(obj).__name__})")
    return obj
