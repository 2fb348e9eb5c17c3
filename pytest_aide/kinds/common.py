"""Shared by every kind of result: the layout version, thinning, number helpers."""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MAX_STORED_SAMPLES",
    "RESULT_SCHEMA",
    "SUMMARY_KEYS",
    "TIMING_MEASURES",
    "clip",
    "finite",
    "floats",
    "share",
    "thin",
    "timing_measure",
]


RESULT_SCHEMA = 1
"""Version of the dict layout written by ``to_dict``."""
MAX_STORED_SAMPLES = 1000
"""Samples a timing keeps when written out (evenly spaced, in time order); the summary
statistics written beside them are those of every sample."""


def thin(samples: list[float], keep: int = MAX_STORED_SAMPLES) -> list[float]:
    """At most ``keep`` samples, evenly spaced in time order (first and last kept)."""
    if len(samples) <= keep:
        return list(samples)
    step = (len(samples) - 1) / (keep - 1)
    return [samples[round(i * step)] for i in range(keep)]


def finite(value: float) -> float | None:
    """``value``, or None when it is not finite (JSON has no NaN)."""
    return value if math.isfinite(value) else None


SUMMARY_KEYS = ("mean", "median", "min", "max", "stddev", "p95", "p99")


TIMING_MEASURES = ("wall", "solo", "cpu")
"""What a timing's samples can be on."""


def share(value: Any) -> float | None:
    """A fraction from a report, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return None


def timing_measure(value: object) -> str:
    """A timing's measure as a report names it (``time`` in old reports is ``wall``)."""
    text = "wall" if value == "time" else str(value)
    if text not in TIMING_MEASURES:
        raise ValueError(f"unknown timing measure {value!r} (known: {', '.join(TIMING_MEASURES)})")
    return text


def floats(values: object, length: int) -> list[float] | None:
    """``values`` as floats when they are a list of ``length``; else None."""
    if not isinstance(values, list) or len(values) != length:
        return None
    return [float(v) for v in values]


def clip(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis if it was longer."""
    return text if len(text) <= width else text[: width - 3] + "..."
