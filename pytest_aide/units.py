"""Parsing and formatting of durations, sizes, counts and percentages.

Durations are returned in seconds, sizes in bytes, percentages as fractions
(``"10%"`` -> ``0.10``). Every parser raises :class:`UnitError` with a message
that quotes the bad value and says what is accepted.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable

__all__ = [
    "MAX_SECONDS",
    "UnitError",
    "format_count",
    "format_duration",
    "format_size",
    "hint",
    "parse_count",
    "parse_duration",
    "parse_percent",
    "parse_size",
    "parse_timeout",
    "shown",
    "written_unit",
]


class UnitError(ValueError):
    """A value that cannot be read as a duration, size or percentage."""


_NUMBER = r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
}
_SIZE_UNITS: dict[str, float] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_WRITTEN = {
    "b": "B",
    "kb": "kB",
    "mb": "MB",
    "gb": "GB",
    "tb": "TB",
    "kib": "KiB",
    "mib": "MiB",
    "gib": "GiB",
    "tib": "TiB",
    "ns": "ns",
    "us": "us",
    "µs": "us",
    "μs": "us",
    "ms": "ms",
    "s": "s",
    "sec": "s",
    "min": "min",
    "h": "h",
}
_SI_SIZES = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))
_BINARY_SIZES = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))
_SIZE_SCALES = dict(_SI_SIZES + _BINARY_SIZES)
_SCALED_RE = re.compile(rf"^\s*{_NUMBER}\s*([a-zµμ]*)\s*$", re.IGNORECASE)
_PERCENT_RE = re.compile(rf"^\s*{_NUMBER}\s*(%?)\s*$")

_COUNT_UNITS: dict[str, float] = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
COUNT_HELP = "a number or a string like '900k', '2.5M', '1.2G'"
DURATION_HELP = "a number of seconds or a string like '80us', '250ms', '2s', '1.5min'"
SIZE_HELP = "a number of bytes or a string like '512KiB', '200MB', '1.5GiB'"
PERCENT_HELP = "a percentage like '10%' or 10"


MAX_SECONDS = 7 * 86400.0
"""The longest timeout, load duration or gap between requests accepted: a week."""


def hint(word: object, known: Iterable[str]) -> str:
    """``did you mean 'p95'?`` when ``word`` is close to one of ``known``, else the list."""
    choices = list(known)
    text = str(word)
    prefixed = [c for c in choices if len(text) >= 3 and c.startswith(text)]
    scored = [
        (difflib.SequenceMatcher(None, text, choice).ratio(), -index, choice)
        for index, choice in enumerate(choices)
    ]
    best = max(scored, default=(0.0, 0, ""))
    close = prefixed[0] if prefixed else best[2] if best[0] >= 0.6 else None
    return f"did you mean {close!r}?" if close else f"known: {', '.join(choices)}"


def shown(value: object, width: int = 40) -> str:
    """``repr(value)``, shortened in the middle when longer than ``width``."""
    text = repr(value)
    if len(text) <= width:
        return text
    return f"{text[: width // 2]}…{text[-8:]} ({len(text)} characters)"


def _number(value: object, what: str, accepted: str) -> float | None:
    """Return ``value`` as a float when it is a plain number, else None."""
    if isinstance(value, bool):
        raise UnitError(f"invalid {what} {shown(value)}: expected {accepted}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise UnitError(f"invalid {what} {shown(value)}: too large to use") from None
    if not isinstance(value, str):
        raise UnitError(f"invalid {what} {shown(value)}: expected {accepted}")
    return None


def _checked(number: float, raw: object, what: str, accepted: str) -> float:
    if not math.isfinite(number) or number < 0:
        raise UnitError(f"invalid {what} {raw!r}: expected {accepted} (finite, not negative)")
    return number


def _parse_scaled(
    value: object, what: str, units: dict[str, float], default: float, accepted: str
) -> float:
    number = _number(value, what, accepted)
    if number is not None:
        return _checked(number, value, what, accepted)
    match = _SCALED_RE.match(str(value))
    unit = match.group(2).lower() if match else ""
    scale = units.get(unit, default if unit == "" else None)
    if not match or scale is None:
        raise UnitError(f"invalid {what} {value!r}: expected {accepted}")
    return _checked(float(match.group(1)) * scale, value, what, accepted)


def parse_duration(value: object) -> float:
    """Parse a duration (``2``, ``"250ms"``, ``"1.5min"``) into seconds."""
    return _parse_scaled(value, "duration", _DURATION_UNITS, 1.0, DURATION_HELP)


def parse_timeout(value: object) -> float:
    """A check's ``timeout``: a duration of more than zero."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise UnitError(
            f"invalid timeout {shown(value)}: expected a duration of more than 0, e.g. '30s'"
        )
    if seconds > MAX_SECONDS:
        raise UnitError(
            f"invalid timeout {shown(value)}: expected at most {MAX_SECONDS / 86400:.0f} days"
        )
    return seconds


def parse_size(value: object) -> float:
    """Parse a size (``1024``, ``"200MB"``, ``"1.5GiB"``) into bytes."""
    return _parse_scaled(value, "size", _SIZE_UNITS, 1, SIZE_HELP)


def parse_count(value: object) -> float:
    """Parse a count (``1200``, ``"900k"``, ``"2.5M"``) into a number."""
    return _parse_scaled(value, "count", _COUNT_UNITS, 1, COUNT_HELP)


def format_count(count: float, unit: str = "instr") -> str:
    """A count for people: ``1.23 M instr``, ``912 k instr``, ``87 instr``."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        # 999,999,999 rounds to "1e+03 M" at three figures: it is 1 G.
        if abs(float(f"{count:.3g}")) >= scale:
            return f"{count / scale:.3g} {prefix} {unit}"
    return f"{count:.0f} {unit}"


def parse_percent(value: object) -> float:
    """Parse a percentage (``"10%"`` or ``10``, both ten percent) into a fraction."""
    number = _number(value, "percentage", PERCENT_HELP)
    if number is None:
        match = _PERCENT_RE.match(str(value))
        if not match:
            raise UnitError(f"invalid percentage {value!r}: expected {PERCENT_HELP}")
        number = float(match.group(1))
    return _checked(number, value, "percentage", PERCENT_HELP) / 100.0


def written_unit(value: object) -> str | None:
    """The unit a duration or size was written in (``"1MB"`` -> ``MB``); None for a number."""
    if not isinstance(value, str):
        return None
    match = _SCALED_RE.match(value)
    return _WRITTEN.get(match.group(2).lower()) if match else None


def _duration_unit(seconds: float) -> tuple[str, float]:
    magnitude = abs(seconds)
    if magnitude >= 3600.0:
        return "h", 3600.0
    if magnitude >= 60.0:
        return "min", 60.0
    if magnitude >= 1.0 or magnitude == 0.0:
        return "s", 1.0
    if magnitude >= 1e-3:
        return "ms", 1e-3
    if magnitude >= 1e-6:
        return "us", 1e-6
    return "ns", 1e-9


def format_duration(seconds: float, like: float | None = None, unit: str | None = None) -> str:
    """Format seconds with a readable unit, e.g. ``2.31 s`` or ``250.00 ms``.

    ``unit`` (as :func:`written_unit` gives it) is used when given; else ``like``
    picks the unit from another value, so a measurement and its limit read in
    the same unit (``2.31 s > 2.00 s``). Either gives way when it would need
    more than four digits before the point (``125.86 us > 1.00 ns``).
    """
    name, scale = _duration_unit(seconds if like is None else like)
    if unit in _DURATION_UNITS:
        name, scale = unit, _DURATION_UNITS[unit]
    if abs(seconds / scale) >= 10_000:
        name, scale = _duration_unit(seconds)
    return f"{seconds / scale:.2f} {name}"


def format_size(size: float, unit: str | None = None) -> str:
    """Format bytes, e.g. ``48.00 MiB``; in ``unit``, or its family (SI or binary), if given.

    ``"1MB"`` reads back as ``1.00 MB``, not ``976.56 KiB``: a limit is shown in
    the units it was written in, and so is the figure it is compared with.
    """
    family = _SI_SIZES if unit in dict(_SI_SIZES) else _BINARY_SIZES
    if unit in dict(family) and abs(size / _SIZE_SCALES[unit]) < 10_000:
        return f"{size / _SIZE_SCALES[unit]:.2f} {unit}"
    for name, scale in family:
        if abs(size) >= scale:
            return f"{size / scale:.2f} {name}"
    return f"{size:.0f} B"
