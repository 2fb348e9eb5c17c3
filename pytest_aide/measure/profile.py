"""Why a check is slow: a deterministic profile of its calls, and what changed between two.

The profiler is the standard library's :mod:`cProfile`: it counts every call
exactly and splits each function's time into its own and its callees', which
is what attributing a change to a function needs; a sampling profiler
(pyinstrument, py-spy) misses functions shorter than its interval and makes
two profiles of the same code differ by its sampling alone. Its overhead is
paid only by the calls profiled to explain a check, never by the measured ones.

A profile is written as a callgrind file (KCachegrind, QCachegrind and
``gprof2dot`` open it) and as a ``pstats`` dump (``snakeviz``, ``python -m
pstats``). Figures are per call of the check's target, so two profiles with
different numbers of calls compare.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FunctionCost",
    "FunctionDelta",
    "Profile",
    "diff_profiles",
    "differential_lines",
    "profile_calls",
    "profile_calls_async",
    "relative_change",
    "short_file",
]

_OWN = str(Path(__file__).parent.parent) + "/"
"""pytest-aide's own frames (the calling wrapper, this module) are left out of profiles."""
_PROFILER_NOISE = ("cProfile", "_lsprof", "<built-in method builtins.exec>")


@dataclass(frozen=True)
class FunctionCost:
    """One function's share of a profile, per call of the profiled target."""

    file: str
    line: int
    function: str
    calls: float
    """Calls of this function per call of the target."""
    own: float
    """Seconds per target call spent in the function itself."""
    cumulative: float
    """Seconds per target call spent in it and what it called."""

    @property
    def key(self) -> str:
        """``file:line(function)``: the same in both profiles of one function."""
        return f"{self.file}:{self.line}({self.function})"

    @property
    def where(self) -> str:
        """``module/file.py:123 function``, the file shortened to its last two parts."""
        if self.line == 0:
            return self.function
        return f"{short_file(self.file)}:{self.line} {self.function}"


@dataclass
class Profile:
    """A profile of ``calls`` calls of a target, per call."""

    name: str
    calls: int
    seconds: float
    """Wall seconds per call while profiled (the profiler's overhead included)."""
    functions: list[FunctionCost] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    """Written files by format (``callgrind``, ``pstats``), once :meth:`write` ran."""

    @property
    def total(self) -> float:
        """Own seconds per call summed over every function: what the profile accounts for."""
        return sum(f.own for f in self.functions)

    def top(self, n: int = 10, by: str = "own") -> list[FunctionCost]:
        """The ``n`` functions that cost most, by ``own`` or ``cumulative`` time."""
        return sorted(self.functions, key=lambda f: getattr(f, by), reverse=True)[:n]

    def lines(self, n: int = 8) -> list[str]:
        """The top functions by own time, with their cumulative time and calls."""
        total = self.total or 1.0
        rows = [
            f"{f.own / total:6.1%} own {_seconds(f.own):>9}  cumulative {_seconds(f.cumulative):>9}"
            f"  {_calls(f.calls):>9} calls  {f.where}"
            for f in self.top(n)
        ]
        header = (
            f"profile of {self.name}: {self.calls:,} call(s), {_seconds(self.seconds)} per call "
            "profiled; top functions by own time (per call):"
        )
        return [header, *rows]

    def write(self, directory: Path, stem: str, stats: pstats.Stats) -> None:
        """Write ``stem.callgrind`` and ``stem.pstats`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        dump = directory / f"{stem}.pstats"
        stats.dump_stats(dump)
        grind = directory / f"{stem}.callgrind"
        grind.write_text(_callgrind(stats, self.calls))
        self.files = {"callgrind": str(grind), "pstats": str(dump)}

    def to_dict(self) -> dict[str, Any]:
        """Plain form for reports and baselines (the top functions only)."""
        return {
            "name": self.name,
            "calls": self.calls,
            "seconds": self.seconds,
            "functions": [
                {
                    "file": f.file,
                    "line": f.line,
                    "function": f.function,
                    "calls": f.calls,
                    "own": f.own,
                    "cumulative": f.cumulative,
                }
                for f in self.top(_KEPT)
            ],
            "files": dict(self.files),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(data["name"]),
            int(data["calls"]),
            float(data["seconds"]),
            [
                FunctionCost(
                    str(f["file"]),
                    int(f["line"]),
                    str(f["function"]),
                    float(f["calls"]),
                    float(f["own"]),
                    float(f["cumulative"]),
                )
                for f in data.get("functions", [])
            ],
            {str(k): str(v) for k, v in data.get("files", {}).items()},
        )


def relative_change(old: float, new: float) -> str:
    """``+62 %`` from ``old`` to ``new``; ``new`` when there was nothing before."""
    return f"{(new - old) / old:+.0%}".replace("%", " %") if old > 0 else "new"


def short_file(file: str) -> str:
    """``package/module.py``: a file's last two parts, enough to tell it in a profile."""
    parts = Path(file).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else file


_KEPT = 200
"""Functions kept in a profile's plain form: enough to attribute a change."""


class _Rounds:
    """Profiled calls until ``min_time`` has passed (one call at least) or ``max_calls``."""

    def __init__(self, min_time: float, max_calls: int) -> None:
        self.profiler = cProfile.Profile()
        self.min_time, self.max_calls = min_time, max_calls
        self.calls = 0
        self.began = time.perf_counter()
        self.entered = self.began
        self.spent = 0.0
        """Seconds inside the profiled calls (set-up between them left out)."""

    def __enter__(self) -> None:
        self.entered = time.perf_counter()
        self.profiler.enable()

    def __exit__(self, *exc: object) -> None:
        self.profiler.disable()
        self.spent += time.perf_counter() - self.entered
        self.calls += 1

    @property
    def more(self) -> bool:
        elapsed = time.perf_counter() - self.began
        return elapsed < self.min_time and self.calls < self.max_calls

    def profile(self, name: str, directory: Path | None, stem: str | None) -> Profile:
        stats = pstats.Stats(self.profiler)
        profile = Profile(name, self.calls, self.spent / self.calls, _functions(stats, self.calls))
        if directory is not None:
            profile.write(directory, stem or _file_stem(name), stats)
        return profile


def profile_calls(
    name: str,
    call: Callable[[], Any],
    *,
    min_time: float = 0.2,
    max_calls: int = 100_000,
    directory: Path | None = None,
    stem: str | None = None,
    prepare: Callable[[], Callable[[], Any]] | None = None,
) -> Profile:
    """Profile ``call()`` repeated until ``min_time`` seconds have passed (one call at least).

    A single call of a fast target says little; repeating it gives every
    function's share a stable figure. With ``directory``, the profile is
    written there as ``stem.callgrind`` and ``stem.pstats``. With ``prepare``,
    each round first calls it, unprofiled, for the callable to profile (a
    pytest-benchmark ``pedantic`` set-up).
    """
    rounds = _Rounds(min_time, max_calls)
    while rounds.calls == 0 or rounds.more:
        fn = call if prepare is None else prepare()
        with rounds:
            fn()
    return rounds.profile(name, directory, stem)


async def profile_calls_async(
    name: str,
    call: Callable[[], Awaitable[Any]],
    *,
    min_time: float = 0.2,
    max_calls: int = 100_000,
    directory: Path | None = None,
    stem: str | None = None,
) -> Profile:
    """:func:`profile_calls` for a coroutine function, awaited on the running loop."""
    rounds = _Rounds(min_time, max_calls)
    while rounds.calls == 0 or rounds.more:
        with rounds:
            await call()
    return rounds.profile(name, directory, stem)


def _functions(stats: pstats.Stats, calls: int) -> list[FunctionCost]:
    found = []
    for (file, line, function), (_, ncalls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if file.startswith(_OWN) or any(
            noise in function or noise in file for noise in _PROFILER_NOISE
        ):
            continue
        if function == "<method 'disable' of '_lsprof.Profiler' objects>":
            continue
        found.append(
            FunctionCost(file, line, function, ncalls / calls, own / calls, cumulative / calls)
        )
    return found


@dataclass(frozen=True)
class FunctionDelta:
    """How one function's own time per call changed between two profiles."""

    function: FunctionCost
    """The function as the new profile has it (or the old one, if it is gone)."""
    old: float
    new: float
    old_calls: float = 0.0
    """Calls of the function per target call in the old profile (exact, unlike times)."""
    new_calls: float = 0.0

    @property
    def change(self) -> float:
        """Seconds per call, new minus old."""
        return self.new - self.old

    def line(self) -> str:
        """``+1.80 ms/call in json/encoder.py:199 iterencode (+62 %)``, calls if they changed."""
        relative = relative_change(self.old, self.new)
        if abs(self.new_calls - self.old_calls) >= 0.5:  # not a once-per-profile call
            relative += f"; calls per call {self.old_calls:.3g} -> {self.new_calls:.3g}"
        sign = "+" if self.change >= 0 else "-"
        return f"{sign}{_seconds(abs(self.change))}/call in {self.function.where} ({relative})"


def diff_profiles(old: Profile, new: Profile, n: int = 5) -> tuple[float, list[FunctionDelta]]:
    """The functions whose own time per call changed most between ``old`` and ``new``.

    Returns the change of the whole profile's own time per call and the ``n``
    functions that account for most of it, in the direction of the change
    first (a slowdown is explained by what got slower).
    """
    before = {f.key: f for f in old.functions}
    after = {f.key: f for f in new.functions}
    deltas = [
        FunctionDelta(
            after.get(key) or before[key],
            before[key].own if key in before else 0.0,
            after[key].own if key in after else 0.0,
            before[key].calls if key in before else 0.0,
            after[key].calls if key in after else 0.0,
        )
        for key in before.keys() | after.keys()
    ]
    change = new.total - old.total
    direction = 1.0 if change >= 0 else -1.0
    deltas.sort(key=lambda d: d.change * direction, reverse=True)
    return change, [d for d in deltas[:n] if d.change * direction > 0]


def differential_lines(old: Profile, new: Profile, reference: str) -> list[str]:
    """What accounts for the change from ``old`` to ``new``, one function per line."""
    change, deltas = diff_profiles(old, new)
    sign = "+" if change >= 0 else "-"
    header = (
        f"differential profile of {new.name} against {reference}: "
        f"{sign}{_seconds(abs(change))}/call of own time in all, most of it in:"
    )
    return [header, *(f"  {delta.line()}" for delta in deltas)]


def _callgrind(stats: pstats.Stats, calls: int) -> str:
    """``stats`` in callgrind's format: costs in microseconds over all profiled calls."""
    table = stats.stats  # type: ignore[attr-defined]
    callees: dict[tuple, list[tuple[tuple, int, float]]] = {}
    for callee, (*_, callers) in table.items():
        for caller, edge in callers.items():
            callees.setdefault(caller, []).append((callee, edge[1], edge[3]))
    lines = ["# callgrind format", "version: 1", "creator: pytest-aide (cProfile)"]
    lines += [f"cmd: {calls} profiled call(s)", "events: Microseconds", ""]
    for (file, line, function), (_, _, own, _, _) in table.items():
        lines += [f"fl={file}", f"fn={function}", f"{line} {round(own * 1e6)}"]
        for (cfile, cline, cfunction), ncalls, cumulative in callees.get(
            (file, line, function), []
        ):
            lines += [f"cfl={cfile}", f"cfn={cfunction}", f"calls={ncalls} {cline}"]
            lines.append(f"{line} {round(cumulative * 1e6)}")
        lines.append("")
    return "\n".join(lines)


def _file_stem(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return safe.strip("._") or "check"


def _seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


def _calls(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"
