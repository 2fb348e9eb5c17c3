"""MkDocs hooks: the reference pages are written from the code as the site is built.

A page holds a marker such as ``<!-- reference: options -->``; the build puts
the table the code defines in its place. A threshold or scenario key the code
has and this file does not describe stops the build (and ``tests/test_docs.py``),
so the reference cannot fall behind the code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_aide.options import OPTIONS, SCENARIO_DIRS_INI
from pytest_aide.scenarios import SCENARIO_KEYS
from pytest_aide.verdict import THRESHOLD_KEYS

SCHEMA = Path(__file__).resolve().parents[1] / "pytest_aide" / "report" / "report.schema.json"

THRESHOLD_HELP: dict[str, tuple[str, str]] = {
    "mean": ("mean time per call", '"2s"'),
    "median": ("median time per call", '"150ms"'),
    "min": ("fastest call", '"1ms"'),
    "max": ("slowest call", '"5s"'),
    "p95": ("95th percentile of the times per call (of requests, under load)", '"500ms"'),
    "p99": ("99th percentile of the times per call (of requests, under load)", '"800ms"'),
    "throughput_min": ("calls or requests per second", "200"),
    "error_rate_max": ("share of calls or requests that failed, under load", '"1%"'),
    "cpu_percent_max": ("the process's CPU use while measured, percent of one core", "150"),
    "memory_peak_max": ("peak memory the measured calls allocate (memray)", '"512MB"'),
    "leaked_max": ("memory the measured calls leave allocated (memray)", '"1MB"'),
    "regression_max": ("this check's own tolerance against its baseline or REV", '"5%"'),
    "instructions_max": ("instructions per call, counted by valgrind", '"2M"'),
    "cache_hit_rate_min": ("hit rate of the watched caches over the measured calls", "0.9"),
    "queries_max": ("SQL statements per call on the watched databases", "3"),
}
"""Each threshold key: what it bounds, and a value as a user writes it."""

SCENARIO_HELP: dict[str, str] = {
    "target": "the callable measured, `module:function` (a path under the rootdir or an "
    "importable module)",
    "args": "positional arguments of each call",
    "kwargs": "keyword arguments of each call",
    "iterations": "samples to take",
    "warmup": "calls before the samples, not measured",
    "thresholds": "limits, by threshold key (see [Threshold keys](thresholds.md))",
    "memory": "trace the calls with memray: `true`, or `{ python_allocators, native }`",
    "cpu": 'sample the process\'s CPU use with psutil: `true`, or `{ interval = "20ms" }`',
    "load": "concurrent load instead of timing: `{ concurrency, requests | duration, ... }`; "
    '`engine = "locust", workers = N` sends an HTTP check\'s load on Locust',
    "timeout": "stop and fail the check after this long (a duration)",
    "measure": "what the check measures: `solo`, `wall`, `cpu`, `instructions`, `cycles`",
    "retry": "confirm a failure before it fails: `{ max_attempts, base_delay, max_delay, jitter }`",
    "caches": "`functools.lru_cache`s to watch for the hit rate, `module:name`",
    "databases": "sqlite3 connections or SQLAlchemy engines to count statements on",
    "http": "an HTTP request to load a live server with: `{ url, method, ... }`",
    "server": "the ASGI or WSGI app (`module:app`) served on loopback for `http`",
    "scaling": "how cost grows with size: `{ sizes, arg, setup, order }`",
    "description": "free text, shown in the reports",
}
"""Each key a ``[scenarios.NAME]`` table may hold."""


def _missing(kind: str, keys: list[str], described: dict[str, Any]) -> None:
    missing = [key for key in keys if key not in described]
    if missing:
        raise ValueError(f"docs/hooks.py: {kind} {', '.join(missing)} not described")


def options_table() -> str:
    """Every ``--aide-*`` option, its ini twin and its help, as ``options.py`` declares them."""
    rows = ["| option | ini | meaning |", "|---|---|---|"]
    for option in OPTIONS:
        flag = f"--aide-{option.name}"
        if option.kind != "flag":
            shown = "{" + ",".join(option.choices) + "}" if option.choices else option.metavar
            flag += f" {shown or option.dest.upper()}"
        text = option.help.replace("|", "\\|")
        rows.append(f"| `{flag}` | `{option.dest}` | {text} |")
    rows.append(
        f"| | `{SCENARIO_DIRS_INI}` | directories holding scenario files (default `scenarios`) |"
    )
    return "\n".join(rows)


def thresholds_table() -> str:
    """Every threshold key of ``verdict.THRESHOLD_KEYS``: what it bounds, which way, a value."""
    _missing("threshold key(s)", list(THRESHOLD_KEYS), THRESHOLD_HELP)
    rows = ["| key | bounds | limit | example |", "|---|---|---|---|"]
    for key, spec in THRESHOLD_KEYS.items():
        meaning, example = THRESHOLD_HELP[key]
        way = "at most" if spec.upper else "at least"
        rows.append(f"| `{key}` | {meaning} | {way} | `{key} = {example}` |")
    return "\n".join(rows)


def scenario_keys_table() -> str:
    """Every key of a scenario table (``scenarios.SCENARIO_KEYS``)."""
    _missing("scenario key(s)", list(SCENARIO_KEYS), SCENARIO_HELP)
    rows = ["| key | meaning |", "|---|---|"]
    rows += [f"| `{key}` | {SCENARIO_HELP[key]} |" for key in SCENARIO_KEYS]
    return "\n".join(rows)


def _type(spec: dict[str, Any], defs: dict[str, Any]) -> str:
    """A field's type as the table shows it; an object defined below is a link to it."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name})" if "properties" in defs[name] else _type(defs[name], defs)
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    if "oneOf" in spec or "anyOf" in spec:
        return " or ".join(_type(s, defs) for s in spec.get("oneOf") or spec["anyOf"])
    kind = spec.get("type", "any")
    if kind == "array":
        return f"array of {_type(spec.get('items', {}), defs)}"
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def report_schema() -> str:
    """Every object of ``report.schema.json``: its fields, their types and descriptions."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    objects = [("report", schema)]
    objects += [(name, spec) for name, spec in schema["$defs"].items() if "properties" in spec]
    parts = []
    for name, spec in objects:
        required = set(spec.get("required", ()))
        about = spec.get("description", "")
        parts.append(f"## {name}" + (f"\n\n{about}" if about else ""))
        rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
        for field, sub in spec["properties"].items():
            text = sub.get("description", "").replace("|", "\\|").replace("\n", " ")
            mark = "yes" if field in required else ""
            rows.append(f"| `{field}` | {_type(sub, schema['$defs'])} | {mark} | {text} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


GENERATED: dict[str, Callable[[], str]] = {
    "options": options_table,
    "thresholds": thresholds_table,
    "scenario-keys": scenario_keys_table,
    "report-schema": report_schema,
}
"""What each ``<!-- reference: NAME -->`` marker becomes."""

_MARKER = re.compile(r"<!-- reference: ([\w-]+) -->")


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs hook: put each reference table where its marker stands."""
    return _MARKER.sub(lambda m: GENERATED[m.group(1)](), markdown)
