"""Instruction counts: the measured calls of pytest items, counted by valgrind.

One worker pytest session of this tree (see :mod:`pytest_aide.pairworker`)
runs under ``valgrind --tool=callgrind --instr-atstart=no``, so nothing is
counted until asked. At each measured call the worker warms the call up
uncounted, then counts a batch of calls with counting switched on only around
them (pytest-codspeed's compiled module issues callgrind's client requests),
dumps what it counted, and counts a batch of a no-op called the same way: the
difference, per call, is the call's own cost. Interpreter start-up, imports,
pytest, the warm-up and the loop are never counted.

A count depends on the code and its inputs, and on where earlier work left
the heap. The worker pins ``PYTHONHASHSEED``, runs with address randomisation
off (``setarch -R``, where it works), collects garbage before each count and
uses the C allocator (``PYTHONMALLOC=malloc``, as CodSpeed does). Under
pymalloc an int loop read 2.5 % more in one session than in another: a pool
left with one free block by earlier tests makes every allocation of the loop
take the slow path. Under malloc the same loop's count agrees to 0.01 %
across sessions and test orders; calls that grow lists and strings still move
by up to ~1.4 % with where glibc can grow them in place (measured in
``benchmarks/count_determinism.py``), hence the gate's 3 % tolerance.

With ``cycles``, valgrind also simulates the caches, and the estimate is
``L1 hits + 5 × LL hits + 35 × RAM accesses`` (the weights of iai and
iai-callgrind; KCachegrind's own estimate uses 10 and 100).

This module knows nothing of pytest: it starts a process and reads pipes and files.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.measure import attribution
from pytest_aide.measure.attribution import FunctionCount
from pytest_aide.measure.pair import Tree, WorkerError, _CallFailed, _Worker

__all__ = [
    "CYCLE_WEIGHTS",
    "MEASURES",
    "Count",
    "CountError",
    "CountRun",
    "Valgrind",
    "count_items",
    "estimate_cycles",
    "find_valgrind",
    "measure_name",
    "read_dump",
]

MEASURES = ("time", "wall", "solo", "cpu", "instructions", "cycles")
"""What a check's gate measures: wall time (``time`` is its old name), solo time (wall time
minus the thread's run-queue wait), the thread's CPU time, or a count valgrind makes."""
CYCLE_WEIGHTS = {"l1": 1, "ll": 5, "ram": 35}
"""Cycles per access that hits L1, hits the last-level cache, or goes to RAM."""
BINDING = "pytest_codspeed.instruments.hooks.dist_instrument_hooks"
"""The compiled module that switches callgrind's counting on and off."""
MIN_VERSION = (3, 13)
"""Oldest valgrind whose callgrind client requests and dump names this relies on."""
BUDGET = 4_000_000
"""Instructions a count aims at: a batch of calls is sized from one counted call."""
MAX_CALLS = 1024
WARM_CALLS = 16
"""Most uncounted calls before counting (Python specialises a function after a few calls)."""
WARM_BUDGET = 20_000_000
"""Instructions the uncounted warm-up calls aim at (at least one call)."""


def _power_of_two(wanted: float, most: int) -> int:
    """The largest power of two not above ``wanted``, from 1 to ``most``."""
    return min(most, 2 ** int(math.log2(max(1.0, wanted))))


COUNT_ENV = {"PYTHONHASHSEED": "0"}
ALLOCATORS = ("malloc", "pymalloc")
"""``PYTHONMALLOC`` of a counting session: the C allocator (the default) or CPython's own."""
"""The counting worker's environment: what would make a count move between sessions."""


@functools.cache
def fixed_addresses() -> list[str]:
    """A command prefix that turns off address randomisation (``setarch ARCH -R``), or []."""
    setarch = shutil.which("setarch")
    if setarch is None:
        return []
    command = [setarch, platform.machine(), "-R"]
    try:
        done = subprocess.run([*command, "true"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return command if done.returncode == 0 else []


class CountError(Exception):
    """Counting cannot be done here; the message says why and what to do."""


def measure_name(value: object) -> str:
    """``value`` if it names a measure; ValueError (one line) if not."""
    if not isinstance(value, str) or value not in MEASURES:
        raise ValueError(f"unknown measure {value!r} (known: {', '.join(MEASURES)})")
    return value


@dataclass(frozen=True)
class Valgrind:
    """A valgrind that can count: its path and version."""

    path: str
    version: str

    @property
    def major(self) -> str:
        """``valgrind-3``: counts compare across machines of one valgrind major version."""
        return f"valgrind-{self.version.split('.')[0]}"


def find_valgrind(name: str = "valgrind") -> Valgrind:
    """The valgrind named ``name`` (a path or a command), checked; CountError if unusable."""
    path = shutil.which(name)
    if path is None:
        raise CountError(
            f"valgrind not found ({name}): install it (apt-get install valgrind) "
            "or measure time (--aide-measure time)"
        )
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CountError(f"valgrind at {path} does not run: {exc}") from None
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", done.stdout)
    if done.returncode != 0 or found is None:
        raise CountError(f"valgrind at {path} does not run: {done.stderr.strip()[:200]}")
    version = found.group(0)
    if (int(found.group(1)), int(found.group(2))) < MIN_VERSION:
        raise CountError(
            f"valgrind {version} at {path} is too old: {'.'.join(map(str, MIN_VERSION))} "
            "or newer counts"
        )
    if not _importable(BINDING.rpartition(".")[0]):
        raise CountError(
            "counting needs pytest-codspeed's compiled hooks: "
            "pip install 'pytest-aide[instructions]'"
        )
    return Valgrind(path, version)


def _importable(module: str) -> bool:
    """Whether ``module`` can be found (a missing parent package is not an error here)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def read_dump(path: Path) -> tuple[str, dict[str, int]]:
    """A callgrind dump's tag (the client request's text) and its event totals."""
    tag, events, totals = "", [], []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("desc: Trigger: Client Request: "):
                tag = line.split(": ", 3)[3].strip()
            elif line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith(("totals:", "summary:")):
                totals = [int(v) for v in line.split()[1:]]
                if line.startswith("totals:"):
                    break
    return tag, dict(zip(events, totals + [0] * (len(events) - len(totals)), strict=True))


def estimate_cycles(events: dict[str, float]) -> float:
    """Estimated cycles from callgrind's cache simulation (see :data:`CYCLE_WEIGHTS`)."""
    accesses = events.get("Ir", 0) + events.get("Dr", 0) + events.get("Dw", 0)
    ram = events.get("ILmr", 0) + events.get("DLmr", 0) + events.get("DLmw", 0)
    l1_misses = events.get("I1mr", 0) + events.get("D1mr", 0) + events.get("D1mw", 0)
    ll_hits = max(0.0, l1_misses - ram)
    l1_hits = max(0.0, accesses - l1_misses)
    return (
        CYCLE_WEIGHTS["l1"] * l1_hits + CYCLE_WEIGHTS["ll"] * ll_hits + CYCLE_WEIGHTS["ram"] * ram
    )


@dataclass
class Count:
    """One measured call of one item, counted."""

    nodeid: str
    label: str
    calls: int = 0
    """Calls counted (the no-op was counted as often)."""
    events: dict[str, float] = field(default_factory=dict)
    """Per call, the no-op's cost taken off: ``Ir`` (instructions) and, with the cache
    simulation, reads, writes and misses."""
    trace: str | None = None
    """The callgrind dump of the counted calls."""
    functions: list[FunctionCount] = field(default_factory=list)
    """Instructions per Python function and call (Python 3.12+, see :mod:`.attribution`)."""
    problem: str | None = None

    @property
    def instructions(self) -> float:
        """Instructions per call."""
        return self.events.get("Ir", 0.0)

    @property
    def cycles(self) -> float | None:
        """Estimated cycles per call, when the caches were simulated."""
        return estimate_cycles(self.events) if "D1mr" in self.events else None


@dataclass
class CountRun:
    """Every counted call of one session."""

    counts: dict[tuple[str, str], Count] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    """Items that were not counted, and why."""
    elapsed: float = 0.0

    def for_item(self, nodeid: str) -> list[Count]:
        """The counted calls of one item, in the order the test made them."""
        return [c for (n, _), c in self.counts.items() if n == nodeid]


class _Counter:
    """The controller's side of one counting worker."""

    def __init__(self, worker: _Worker, out_dir: Path) -> None:
        self.worker, self.out_dir = worker, out_dir
        self.dumps = 0

    def count(self, calls: int, noop: bool, tag: str) -> tuple[Path, dict[str, int]]:
        self.worker.send({"op": "count", "calls": calls, "noop": noop, "tag": tag})
        reply = self.worker.receive()
        if reply["op"] == "error":
            raise _CallFailed(reply["message"])
        self.dumps += 1
        path = self.out_dir / f"callgrind.out.{self.worker.process.pid}.{self.dumps}"
        if not path.exists():
            raise WorkerError(f"valgrind wrote no count to {path} (is the worker under callgrind?)")
        found, events = read_dump(path)
        if found != tag:
            raise WorkerError(f"{path}: expected the count {tag!r}, found {found!r}")
        return path, events

    def measure(self, count: Count, index: int) -> None:
        # The first call does one-off work; one counted call sizes the rest. How many
        # calls warm up and how many are counted follow from that count, never from
        # the clock: on a busy machine fewer warm-up calls left a call less warmed,
        # and its count moved by 3 %.
        self.worker.run(1)
        path, one = self.count(1, False, f"aide-{index}-probe")
        path.unlink()
        instructions = max(one.get("Ir", 1), 1)
        self.worker.run(_power_of_two(WARM_BUDGET / instructions, WARM_CALLS))
        calls = _power_of_two(BUDGET / instructions, MAX_CALLS)
        path, noop = self.count(calls, True, f"aide-{index}-noop")
        path.unlink()
        path, full = self.count(calls, False, f"aide-{index}")
        count.calls = calls
        count.events = {e: max(0.0, (full[e] - noop.get(e, 0)) / calls) for e in full}
        count.trace = str(path)


Progress = Callable[[str], None]


def count_items(
    tree: Tree,
    nodeids: Sequence[str],
    args: Sequence[str],
    *,
    valgrind: Valgrind,
    out_dir: Path,
    cycles: bool = False,
    allocator: str = "malloc",
    progress: Progress | None = None,
    by_function: bool = False,
) -> CountRun:
    """Run ``nodeids`` in one worker session under callgrind; count every measured call.

    ``args`` are the worker's pytest arguments (paths, options). Dumps of the
    counted calls are left in ``out_dir`` (the caller keeps or removes them).
    ``by_function`` (CPython 3.12+) attributes each count to Python functions
    through the perf trampoline, which makes every Python call cost more: such
    counts are for explaining, not for gating.
    """
    started = time.perf_counter()
    run = CountRun()
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = [
        *fixed_addresses(),
        valgrind.path,
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir / 'callgrind.out.%p'}",
        f"--cache-sim={'yes' if cycles else 'no'}",
    ]
    by_function = by_function and attribution.supported()
    if by_function:
        prefix.append(f"--separate-callers{attribution.CALLER_DEPTH}=0x*")
    try:
        env = {**COUNT_ENV, "PYTHONMALLOC": allocator}
        worker = _Worker(tree, args, None, (), (), prefix=prefix, env=env, perf_map=by_function)
    except OSError as exc:
        for nodeid in nodeids:
            run.missing[nodeid] = f"the counting worker did not start: {exc}"
        return run
    counter = _Counter(worker, out_dir)
    try:
        _play(run, counter, list(nodeids), progress)
    except WorkerError as exc:
        for nodeid in nodeids:
            if not run.for_item(nodeid):
                run.missing.setdefault(nodeid, str(exc))
    finally:
        worker.close()
        if by_function:
            _attribute(run, attribution.perf_map_path(worker.process.pid))
        if progress is not None:
            progress("")
    run.elapsed = time.perf_counter() - started
    return run


def _attribute(run: CountRun, perf_map: Path) -> None:
    """Give each count its instructions per Python function; remove the worker's perf map."""
    try:
        functions = attribution.read_perf_map(perf_map)
    except OSError:
        return
    finally:
        perf_map.unlink(missing_ok=True)
    for count in run.counts.values():
        if count.trace is not None and count.calls:
            count.functions = attribution.attribute(Path(count.trace), functions, count.calls)
            attribution.name_functions(Path(count.trace), functions)


def _play(run: CountRun, counter: _Counter, nodeids: list[str], progress: Progress | None) -> None:
    worker = counter.worker
    have = set(worker.receive()["items"])
    keep = [n for n in nodeids if n in have]
    for nodeid in nodeids:
        if nodeid not in have:
            run.missing[nodeid] = "not collected in the counting session"
    worker.send({"op": "keep", "items": keep})
    message: dict[str, Any] = worker.receive()
    while message["op"] != "finish":
        if message["op"] == "measure":
            key = (message["item"], message["label"])
            count = run.counts.setdefault(key, Count(*key))
            if progress is not None:
                progress(f"aide: counting {message['label']} under valgrind ({len(run.counts)})")
            try:
                counter.measure(count, len(run.counts))
            except _CallFailed as exc:
                count.problem = f"raised while counted: {exc}"
                message = worker.receive()
                continue
            worker.send({"op": "done"})
        message = worker.receive()
    for nodeid in keep:
        if not run.for_item(nodeid):
            run.missing.setdefault(nodeid, "made no measured call in the counting session")
