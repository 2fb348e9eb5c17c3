"""Measurement results: plain data that serialises to dicts and back, one module per kind.

A result knows its measured figures (``metrics()``, the names thresholds are
checked against) and how to describe itself in one line (``summary()``).
Nothing here measures or judges.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_aide.kinds.common import MAX_STORED_SAMPLES, RESULT_SCHEMA, TIMING_MEASURES, thin
from pytest_aide.kinds.counts import COUNT_METRICS, CountResult, TrackResult
from pytest_aide.kinds.load import KNEE_FRACTION, HttpResult, LoadResult, SweepResult
from pytest_aide.kinds.resources import CpuResult, MemoryResult
from pytest_aide.kinds.scaling import ScalingResult
from pytest_aide.kinds.timing import TimingResult
from pytest_aide.kinds.watched import CacheResult, CacheStats, QueryResult

__all__ = [
    "COUNT_METRICS",
    "KNEE_FRACTION",
    "MAX_STORED_SAMPLES",
    "RESULT_SCHEMA",
    "TIMING_MEASURES",
    "CacheResult",
    "CacheStats",
    "CountResult",
    "CpuResult",
    "HttpResult",
    "LoadResult",
    "MemoryResult",
    "QueryResult",
    "Result",
    "ScalingResult",
    "SweepResult",
    "TimingResult",
    "TrackResult",
    "result_from_dict",
    "thin",
]

Result = (
    TimingResult
    | MemoryResult
    | CpuResult
    | LoadResult
    | SweepResult
    | CountResult
    | CacheResult
    | QueryResult
    | HttpResult
    | ScalingResult
    | TrackResult
)
"""Any measurement result."""

_RESULT_TYPES: dict[str, Any] = {
    cls.kind: cls
    for cls in (
        TimingResult,
        MemoryResult,
        CpuResult,
        LoadResult,
        SweepResult,
        CountResult,
        CacheResult,
        QueryResult,
        HttpResult,
        ScalingResult,
        TrackResult,
    )
}


def result_from_dict(data: dict[str, Any]) -> Result:
    """Rebuild any result from its dict, dispatching on its ``kind``.

    ``ValueError`` names what is wrong: not an object, an unknown kind, a
    number that is not finite (``NaN``, or ``1e999`` read as infinity), a
    negative sample.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a result object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in _RESULT_TYPES:
        raise ValueError(f"unknown result kind {kind!r} (known: {', '.join(_RESULT_TYPES)})")
    _check_numbers(data, str(data.get("name", kind)))
    for key in ("samples", "latencies"):
        values = data.get(key)
        if isinstance(values, list) and any(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0 for v in values
        ):
            raise ValueError(f"result {data.get('name')!r}: {key!r} holds a negative figure")
    return _RESULT_TYPES[kind].from_dict(data)


def _check_numbers(value: Any, where: str) -> None:
    """Raise ``ValueError`` at the first float in ``value`` that is not finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not a finite number (NaN, or too large)")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(item, f"{where}[{index}]")
