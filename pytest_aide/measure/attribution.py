"""Instructions per Python function, exact: a callgrind dump read through CPython's perf map.

From Python 3.12, CPython can enter every Python function through a small
trampoline of machine code of its own (the "perf trampoline", switched on by
``sys.activate_stack_trampoline("perf")``), and lists where each one lies in
``/tmp/perf-PID.map`` (``547c7b1 b py::hot:/src/app.py``). Under callgrind each trampoline is a
function of its own, so a dump of counted calls holds, per Python function,
the instructions spent in it and in what it called. pytest-codspeed turns the
trampoline on for its valgrind mode for the same reason.

A count made per function (only to explain a failing check: the trampoline
makes calls dearer, so gated counts are made without it) runs under
``--separate-callers12=0x*``: every function without a symbol (the
trampolines among them) is split by the twelve calls above it, so a
trampoline's context names the Python function that called it (six C frames
lie between two Python functions on the common path, more through builtins
such as ``sum`` or ``sorted``). A function's own instructions are its
inclusive ones less those of the Python functions it called; a callee reached
through more than twelve C frames stays in its caller's own figure.

Knows nothing of pytest or valgrind's process: it reads two files.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pytest_aide.measure.profile import relative_change, short_file
from pytest_aide.units import format_count

__all__ = [
    "CALLER_DEPTH",
    "FunctionCount",
    "attribute",
    "count_differential_lines",
    "name_functions",
    "perf_map_path",
    "read_perf_map",
    "supported",
]

CALLER_DEPTH = 12
"""Callers kept in a trampoline's context (``--separate-callers12=0x*``)."""
KEPT = 200
"""Functions kept per count: enough to attribute a change, small enough for a baseline."""
_SHOWN = 0.05
"""A function is named when its own change is at least this share of the whole change.

Not less: an unchanged function's own count moves by a few percent of a change
when the cyclic collector, run by whichever function allocates, runs elsewhere.
"""
_OWN = str(Path(__file__).parent.parent) + "/"
"""pytest-aide's own functions (the worker's batch loop) are left out."""


def supported() -> bool:
    """Whether this Python can run with the perf trampoline (CPython 3.12+, built with it)."""
    return sys.version_info >= (3, 12) and sysconfig.get_config_var("PY_HAVE_PERF_TRAMPOLINE") == 1


def perf_map_path(pid: int) -> Path:
    """Where CPython writes the perf map of process ``pid``."""
    return Path(f"/tmp/perf-{pid}.map")


def read_perf_map(path: Path) -> dict[int, tuple[str, str]]:
    """Trampoline address -> (qualified name, file) of each Python function in a perf map."""
    found: dict[int, tuple[str, str]] = {}
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            address, _, rest = line.rstrip("\n").partition(" ")
            _, _, symbol = rest.partition(" ")
            if not symbol.startswith("py::"):
                continue
            name, _, file = symbol[4:].partition(":")
            try:
                found[int(address, 16)] = (name, file)
            except ValueError:
                continue
    return found


@dataclass(frozen=True)
class FunctionCount:
    """One Python function's instructions, per call of the counted target."""

    file: str
    function: str
    """The qualified name (``Class.method``, ``outer.<locals>.inner``)."""
    calls: float
    """Calls of the function per call of the target (exact)."""
    own: float
    """Instructions in the function itself and the C code it ran, its Python callees left out."""
    inclusive: float
    """Instructions in the function and everything it called."""

    @property
    def key(self) -> str:
        """``file:function``: the same in two counts of one function."""
        return f"{self.file}:{self.function}"

    @property
    def where(self) -> str:
        """``package/file.py function``, the file shortened to its last two parts."""
        short = short_file(self.file)
        return f"{short} {self.function}" if short else self.function

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionCount:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(data["file"]),
            str(data["function"]),
            float(data["calls"]),
            float(data["own"]),
            float(data["inclusive"]),
        )


_NAMED = re.compile(r"^\((\d+)\)(?: (.*))?$")


class _Names:
    """Callgrind's name compression: ``(12) name`` defines 12, ``(12)`` refers to it."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        match = _NAMED.match(text)
        if match is None:
            return text
        number, name = match.groups()
        if name is not None:
            self.names[number] = name
            return name
        return self.names.get(number, text)


@dataclass
class _Edges:
    """What a dump says of the calls into each function context."""

    calls: dict[str, int]
    inclusive: dict[str, int]


def _read_calls(path: Path) -> _Edges:
    """Calls and inclusive ``Ir`` of every call edge, by callee context."""
    names = _Names()
    calls: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    positions, ir = 1, None
    callee = ""
    pending: int | None = None
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            first = line[:1]
            if first.isdigit() or first in "+-*":
                if pending is not None and ir is not None:
                    fields = line.split()
                    column = positions + ir
                    cost = int(fields[column]) if len(fields) > column else 0
                    calls[callee] += pending
                    inclusive[callee] += cost
                pending = None
            elif line.startswith("fn="):
                names(line[3:].rstrip("\n"))
            elif line.startswith("cfn="):
                callee = names(line[4:].rstrip("\n"))
            elif line.startswith("calls="):
                pending = int(line[6:].split()[0])
            elif line.startswith("positions:"):
                positions = len(line.split()) - 1
            elif line.startswith("events:"):
                events = line.split()[1:]
                ir = events.index("Ir") if "Ir" in events else None
    return _Edges(calls, inclusive)


def _address(name: str) -> int | None:
    if not name.startswith("0x"):
        return None
    try:
        return int(name, 16)
    except ValueError:
        return None


def attribute(dump: Path, perf_map: dict[int, tuple[str, str]], calls: int) -> list[FunctionCount]:
    """Instructions per Python function in ``dump``, per call of ``calls`` counted calls.

    The :data:`KEPT` functions with the most inclusive instructions, most first.
    """
    edges = _read_calls(dump)
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # calls, incl, children
    for context, count in edges.calls.items():
        parts = context.split("'")
        address = _address(parts[0])
        if address not in perf_map:
            continue
        assert address is not None
        chain = [p for p in parts[1:] if not p.isdigit()]
        recursive = len(parts) > 1 and parts[1].isdigit()
        above = [a for a in map(_address, chain) if a in perf_map]
        recursive = recursive or address in above
        totals[address][0] += count
        if recursive:
            continue  # inside an outer call of the same function, which holds it already
        cost = edges.inclusive[context]
        totals[address][1] += cost
        if above:
            totals[above[0]][2] += cost  # the Python function that called this one
    found = []
    for address, (count, inclusive, children) in totals.items():
        name, file = perf_map[address]
        if file.startswith(_OWN) or inclusive == 0:
            continue
        found.append(
            FunctionCount(
                file,
                name,
                count / calls,
                max(0.0, inclusive - children) / calls,
                inclusive / calls,
            )
        )
    found.sort(key=lambda f: f.inclusive, reverse=True)
    return found[:KEPT]


def name_functions(dump: Path, perf_map: dict[int, tuple[str, str]]) -> None:
    """Rewrite ``dump`` so each trampoline is named ``py::function:file`` (KCachegrind shows it)."""

    def named(text: str) -> str:
        parts = text.split("'")
        for i, part in enumerate(parts):
            address = _address(part)
            if address in perf_map:
                function, file = perf_map[address]  # type: ignore[index]
                parts[i] = f"py::{function}:{file}"
        return "'".join(parts)

    out = dump.with_name(dump.name + ".named")
    with dump.open(encoding="utf-8", errors="replace") as lines, out.open("w") as written:
        for line in lines:
            key, equals, rest = line.partition("=")
            if equals and key in ("fn", "cfn") and ") " in rest:
                number, _, name = rest.rstrip("\n").partition(") ")
                line = f"{key}={number}) {named(name)}\n"
            written.write(line)
    out.replace(dump)


def count_differential_lines(
    name: str,
    old: list[FunctionCount],
    new: list[FunctionCount],
    old_total: float,
    new_total: float,
    reference: str,
    n: int = 5,
) -> list[str]:
    """Which functions account for a count's change from ``old`` to ``new``, by own instructions.

    Exact: both sides are counts, so every figure is the change itself, with
    no noise to see through.
    """
    before = {f.key: f for f in old}
    after = {f.key: f for f in new}
    direction = 1.0 if new_total >= old_total else -1.0
    rows = []
    for key in before.keys() | after.keys():
        was, now = before.get(key), after.get(key)
        change = (now.own if now else 0.0) - (was.own if was else 0.0)
        if change * direction > _SHOWN * abs(new_total - old_total):
            rows.append((change, was, now))
    rows.sort(key=lambda row: row[0] * direction, reverse=True)
    total = new_total - old_total
    sign = "+" if total >= 0 else "-"
    overall = relative_change(old_total, new_total)
    lines = [
        f"differential profile of {name} by instructions against {reference}: "
        f"{sign}{format_count(abs(total), 'instr')}/call in all ({overall}), most of it in:"
    ]
    for change, was, now in rows[:n]:
        function = now or was
        assert function is not None
        sign = "+" if change >= 0 else "-"
        detail = f"own; {relative_change(was.own if was else 0.0, now.own if now else 0.0)}"
        old_calls, new_calls = (was.calls if was else 0.0), (now.calls if now else 0.0)
        if abs(new_calls - old_calls) >= 0.5:
            detail += f"; calls per call {old_calls:.3g} -> {new_calls:.3g}"
        lines.append(
            f"  {sign}{format_count(abs(change), 'instr')}/call in {function.where} ({detail})"
        )
    return lines
