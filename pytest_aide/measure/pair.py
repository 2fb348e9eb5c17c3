"""Same-job comparison: run the same pytest items in two trees, interleaved, in worker processes.

Each side (a git revision's worktree, and this tree) runs as a pytest session
of its own in a worker process (see :mod:`pytest_aide.pairworker`). Both
workers run the same items in the same order; when a test reaches a measured
call (``benchmark(...)``, ``aide_timer(...)``, a scenario's target) it stops
there and this controller asks each side for batches of calls in turn. So
closures, fixtures and pytest-benchmark tests compare as well as module-level
functions. Four effects of a shared machine are handled:

- Slow spells: the sides take turns, one batch each (ABBA order), so a spell
  lands on both sides of a pair and the pair's ratio cancels it.
- A slow core: both workers are pinned to one CPU, the least busy one. They
  never run at once, so this costs nothing (measured: unpinned identical
  workers read up to +35 % apart).
- Waiting for the CPU: a call whose batches run on the CPU nearly all their
  wall time is timed by its thread's CPU time, so the time a busy machine
  makes it wait, which differs from batch to batch, is not counted.
- A process's own speed (memory layout): fresh workers are started for every
  round and the interval is built from the rounds' paired ratios, so that
  bias shows up as variance instead of hiding inside all the samples.

Each worker warms a measured call up before sizing its batches, and sizes them
as the in-process timer does, so a call of 1 µs is timed over thousands of
calls, not one cold call. Each side reports the file every module of the
project was imported from; a module both sides imported from the same file
means REV's code was never measured, and that is reported, not compared.

This module knows nothing of pytest: it starts processes and reads pipes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.measure.timer import _MAX_CALLS_PER_SAMPLE, _target_sample_ns
from pytest_aide.stats import RatioEstimate, paired_ratio_estimate

__all__ = ["WORKER_ENV", "PairPlan", "PairRun", "Point", "Tree", "WorkerError", "pair_items"]

WORKER_ENV = "AIDE_PAIR_WORKER"
"""Environment variable that makes a pytest session a pair worker (JSON: pipes, redirects)."""


class WorkerError(Exception):
    """A worker process that failed as a whole; the message says why."""


@dataclass(frozen=True)
class Tree:
    """One side: a checkout whose items run in worker pytest sessions."""

    label: str
    rootdir: Path
    """The pytest rootdir in this checkout (the worker's working directory)."""
    inifile: Path | None = None
    redirects: dict[str, list[str]] = field(default_factory=dict)
    """Top-level modules of the project and where this side imports them from."""
    path_map: tuple[str, str] | None = None
    """(this checkout's top, this side's top): ``sys.path`` entries under the first move."""


@dataclass(frozen=True)
class PairPlan:
    """How long to sample and when the interval is narrow enough."""

    min_rounds: int = 10
    """Fresh worker pairs at least; the interval is built from one paired ratio per round."""
    max_rounds: int = 20
    round_time: float = 0.1
    """Seconds of samples per measured call and round, both sides together."""
    warmup_time: float = 0.05
    """Seconds of calls each worker runs before sizing its batches, per round."""
    time_per_check: float = 4.0
    """After ``min_rounds``, no round starts that would take the time spent measuring
    (worker start-up not counted) past this many seconds per item, on average."""
    precision: float = 0.02
    """A call stops being measured once its interval's half-width, in log-ratio, is this."""
    tolerance: float = 0.05
    """The gate's tolerance: a call whose estimate lies beyond it while its interval still
    holds no change is undecided when the rounds or the time run out (see ``extra_rounds``)."""
    extra_rounds: int = 20
    """Rounds, and ``time_per_check`` seconds each, that undecided calls get beyond the
    limits, once: a real change measured on a noisy spell is not waved through."""
    decide_at: int = 0
    """When set, from this many rounds on a call is done as soon as its interval lies wholly
    on one side of ``1 + tolerance``: the question is only whether it regressed beyond it
    (confirming a suspicion, ``--aide-confirm``). 0 measures to ``precision`` instead."""
    pin: bool = True
    """Run both workers on one CPU, so neither sits on a core slowed by a neighbour."""
    confidence: float = 0.95


@dataclass
class Point:
    """One measured call of one item, compared across the two trees."""

    nodeid: str
    label: str
    """The result name the call records (``benchmark``'s check name, ``aide_timer``'s name)."""
    rounds: dict[str, tuple[list[float], list[float]]] = field(
        default_factory=lambda: {"wall": ([], []), "cpu": ([], []), "solo": ([], [])}
    )
    """By clock, the median per-call seconds of each round, side A (REV) and side B."""
    solo: bool = True
    """Both workers read solo time in every round so far (the kernel reports run-queue
    waits): a call that is not CPU-bound is judged on it rather than on wall time."""
    cpu_bound: bool = False
    """True once a round showed the call on the CPU for nearly all its wall time on both
    sides (:data:`CPU_BOUND`): then every round is judged on CPU time."""
    calls: int = 0
    """Calls per sample in the last round."""
    files: dict[str, str] = field(default_factory=dict)
    """The file each side's measured callable came from (``a``, ``b``)."""
    problem: str | None = None
    """Why this call cannot be compared (reported instead of an estimate)."""
    one_sided: bool = False
    """The call is made on one side only (the test differs): a new call, not a failure."""

    @property
    def clock(self) -> str:
        """What the estimate is built on: ``cpu`` (thread CPU time), ``solo`` or ``wall``."""
        if self.cpu_bound:
            return "cpu"
        return "solo" if self.solo and self.rounds["solo"][0] else "wall"

    @property
    def a_rounds(self) -> list[float]:
        """Per-round medians of side A, on :attr:`clock`."""
        return self.rounds[self.clock][0]

    @property
    def b_rounds(self) -> list[float]:
        """Per-round medians of side B, on :attr:`clock`."""
        return self.rounds[self.clock][1]

    @property
    def estimate(self) -> RatioEstimate | None:
        """Paired ratio B/A over the rounds, once there are two or more."""
        if self.problem is not None or len(self.a_rounds) < 2:
            return None
        return paired_ratio_estimate(self.a_rounds, self.b_rounds)

    def precise(self, plan: PairPlan) -> bool:
        """True once the interval is narrow enough (or the call cannot be compared)."""
        if self.problem is not None:
            return True
        estimate = self.estimate
        if estimate is None:
            return False
        if plan.decide_at and len(self.a_rounds) >= plan.decide_at:
            bound = 1 + plan.tolerance
            if estimate.high <= bound or estimate.low > bound:
                return True
        if len(self.a_rounds) < plan.min_rounds:
            return False
        return (math.log(estimate.high) - math.log(estimate.low)) / 2 <= plan.precision

    def undecided(self, plan: PairPlan) -> bool:
        """The estimate lies beyond the tolerance, but the interval still holds no change."""
        estimate = self.estimate
        if self.problem is not None or estimate is None:
            return False
        up = estimate.ratio > 1 + plan.tolerance and estimate.low <= 1
        down = estimate.ratio < 1 / (1 + plan.tolerance) and estimate.high >= 1
        return up or down


@dataclass
class PairRun:
    """Every paired call of one same-job comparison."""

    points: dict[tuple[str, str], Point] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    """Items that could not be paired, and why (e.g. not found at REV)."""
    absent: set[str] = field(default_factory=set)
    """Items of :attr:`missing` that REV does not have: new checks, with nothing to compare."""
    rounds: int = 0
    elapsed: float = 0.0
    measuring: float = 0.0
    """Seconds spent timing calls (worker start-up and collection not counted)."""

    def for_item(self, nodeid: str) -> list[Point]:
        """The paired calls of one item, in the order the test made them."""
        return [p for (n, _), p in self.points.items() if n == nodeid]

    def merge(self, run: PairRun) -> None:
        """Keep ``run``'s pairs beside these (one session pairs items in several runs)."""
        self.points.update(run.points)
        self.missing.update(run.missing)
        self.absent.update(run.absent)
        self.rounds = max(self.rounds, run.rounds)
        self.elapsed += run.elapsed


Progress = Callable[[str], None]


class _Worker:
    """A pytest session in one tree, driven over two pipes."""

    def __init__(
        self,
        tree: Tree,
        args: Sequence[str],
        cpu: int | None,
        watch: Sequence[str],
        changed: Sequence[str],
        prefix: Sequence[str] = (),
        env: dict[str, str] | None = None,
        perf_map: bool = False,
    ) -> None:
        self.tree = tree
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        spec = {
            "fds": [to_child, from_child],
            "redirects": tree.redirects,
            "path_map": tree.path_map,
            "watch": list(watch),
            "changed": list(changed),
            "cpu": cpu,
            "perf_map": perf_map,
        }
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        command = [*prefix, sys.executable, "-m", "pytest", "-p", "pytest_aide.pairworker"]
        command += ["-q", "-p", "no:cacheprovider", "--rootdir", str(tree.rootdir)]
        if tree.inifile is not None:
            command += ["-c", str(tree.inifile)]
        # The user's environment as it is, bytecode settings included: a worker reads
        # the compiled modules Python and the packages already have (a private
        # PYTHONPYCACHEPREFIX made each session compile them all again: 9 s of a
        # 14 s counting worker under valgrind).
        try:
            self.process = subprocess.Popen(
                [*command, *args],
                cwd=tree.rootdir,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                pass_fds=(to_child, from_child),
                env={**os.environ, WORKER_ENV: json.dumps(spec), **(env or {})},
            )
        finally:
            os.close(to_child)
            os.close(from_child)
        self._out = os.fdopen(from_parent, "w", buffering=1)
        self._in = os.fdopen(to_parent, "r")

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._out.write(json.dumps(message) + "\n")
        except (BrokenPipeError, OSError):
            raise WorkerError(self._died()) from None

    def receive(self) -> dict[str, Any]:
        line = self._in.readline()
        if not line:
            raise WorkerError(self._died())
        return json.loads(line)

    def _died(self) -> str:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.seek(0)
        lines = [line.rstrip() for line in self.log.read().splitlines() if line.strip()]
        useful = [line for line in lines if line.startswith(("E ", "ERROR", "ImportError"))]
        tail = (useful or lines or ["(no output)"])[-1].removeprefix("E ").strip()
        return f"{self.tree.label}: worker pytest session exited ({tail})"

    def run(self, calls: int) -> tuple[int, int, int | None]:
        """Wall, CPU and solo ns (None if unread) of ``calls`` calls; _CallFailed on error."""
        self.send({"op": "run", "calls": calls})
        reply = self.receive()
        if reply["op"] == "error":
            raise _CallFailed(f"{self.tree.label}: {reply['message']}")
        solo = reply.get("solo")
        return int(reply["ns"]), int(reply.get("cpu", 0)), None if solo is None else int(solo)

    def close(self) -> None:
        for stream in (self._out, self._in):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class _CallFailed(Exception):
    """The measured call raised in one worker; that worker's test goes on failing."""


def _quiet_cpu() -> int | None:
    """The least busy CPU this process may run on, for both workers of a round.

    Pinning both workers to one CPU keeps them off a core slowed by a
    neighbour; choosing the least busy one keeps them off a core another
    pinned job (another aide run, say) has taken. None where affinity is unknown.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if not allowed:
        return None
    try:
        import psutil

        busy = psutil.cpu_percent(interval=0.05, percpu=True)
    except (ImportError, OSError):
        return allowed[0]
    return min(allowed, key=lambda cpu: (busy[cpu] if cpu < len(busy) else 100.0, cpu))


CPU_BOUND = 0.9
"""A call whose least disturbed batch, on each side of some round, spent this share of
its wall time on the CPU is judged by its thread's CPU time in every round: time spent
waiting for a busy machine's CPU is not the code's, and differs between the two sides.
A call that sleeps or waits never gets there, and stays on wall time."""


def _warm(worker: _Worker, plan: PairPlan) -> tuple[float, float]:
    """Run growing batches for ``warmup_time``: the per-call ns and the best CPU share.

    The first call may do one-off work (imports, caches, generated code) that
    takes longer than the whole warm-up: it is run, but not counted. The
    per-call time is the least disturbed batch's, so a collector's pause or a
    busy spell during the warm-up does not shrink the batches to one call.
    """
    target, calls, spent, share, best = _target_sample_ns(), 1, 0, 0.0, math.inf
    worker.run(1)
    while True:
        elapsed, cpu, _ = worker.run(calls)
        spent += elapsed
        per_call = elapsed / calls
        if elapsed >= target:
            share = max(share, cpu / max(elapsed, 1))
            best = min(best, per_call)
        if spent >= plan.warmup_time * 1e9 and elapsed >= target:
            return best, share
        if elapsed < target:
            calls = min(_MAX_CALLS_PER_SAMPLE, max(calls * 2, math.ceil(target / max(per_call, 1))))
        if calls >= _MAX_CALLS_PER_SAMPLE:
            return min(best, per_call), share


def _measure_point(
    point: Point, first: _Worker, second: _Worker, plan: PairPlan, flip: bool
) -> None:
    """Warm both sides, then time the same batches on each in turn; one round's medians."""
    (per_a, share_a), (per_b, share_b) = _warm(first, plan), _warm(second, plan)
    per_call = max(per_a, per_b)
    pairs = 10
    sample_ns = max(_target_sample_ns(), plan.round_time * 1e9 / (2 * pairs))
    calls = min(_MAX_CALLS_PER_SAMPLE, max(1, math.ceil(sample_ns / max(per_call, 1e-3))))
    pairs = int(min(pairs, max(3, plan.round_time * 1e9 / (2 * calls * per_call))))
    a_batches: list[tuple[int, int, int | None]] = []
    b_batches: list[tuple[int, int, int | None]] = []
    for index in range(pairs):
        order = (first, second) if (index % 2 == 0) != flip else (second, first)
        timed = {id(w): w.run(calls) for w in order}
        a_batches.append(timed[id(first)])
        b_batches.append(timed[id(second)])
    # The best batch of a side shows what the call does when nothing disturbs it.
    share_a = max(share_a, *(cpu / max(wall, 1) for wall, cpu, _ in a_batches))
    share_b = max(share_b, *(cpu / max(wall, 1) for wall, cpu, _ in b_batches))
    point.cpu_bound = point.cpu_bound or min(share_a, share_b) >= CPU_BOUND
    point.solo = point.solo and all(b[2] is not None for b in (*a_batches, *b_batches))
    for index, clock in enumerate(("wall", "cpu", "solo") if point.solo else ("wall", "cpu")):
        a_rounds, b_rounds = point.rounds[clock]
        a_rounds.append(statistics.median(b[index] for b in a_batches) / calls / 1e9)
        b_rounds.append(statistics.median(b[index] for b in b_batches) / calls / 1e9)
    point.calls = calls


def _same_files(a: dict[str, str], b: dict[str, str], top: str | None) -> str | None:
    """A module both sides imported from one file: REV's code was not measured."""
    for name in sorted(set(a) & set(b)):
        if a[name] != b[name]:
            continue
        where = Path(a[name])
        if top is not None and where.is_relative_to(top):
            return (
                f"both sides imported {name} from {a[name]}: the revision's worker ran this "
                "tree's code, so nothing would be compared"
            )
        return (
            f"both sides imported {name} from {a[name]}, outside both checkouts (installed "
            "without -e?): neither tree's code would be measured"
        )
    return None


class _Round:
    """One round: a fresh worker per side, the kept items run in lockstep."""

    def __init__(
        self, run: PairRun, a: Tree, b: Tree, plan: PairPlan, flip: bool, top: str | None
    ) -> None:
        self.run, self.plan, self.flip, self.top = run, plan, flip, top
        self.a, self.b = a, b

    def play(self, workers: tuple[_Worker, _Worker], nodeids: list[str], first_round: bool) -> None:
        wa, wb = workers
        have_a, have_b = (set(w.receive()["items"]) for w in workers)
        keep = [n for n in nodeids if n in have_a and n in have_b]
        if first_round:
            for nodeid in nodeids:
                if nodeid not in have_a:
                    self.run.missing[nodeid] = f"not found at {self.a.label}"
                    self.run.absent.add(nodeid)
                elif nodeid not in have_b:
                    self.run.missing[nodeid] = f"not collected in a fresh session of {self.b.label}"
        for worker in workers:
            worker.send({"op": "keep", "items": keep})
        ma, mb = wa.receive(), wb.receive()
        while not (ma["op"] == "finish" and mb["op"] == "finish"):
            if ma["op"] == "measure" and mb["op"] == "measure" and _key(ma) == _key(mb):
                self._point(ma, mb, wa, wb)
                ma, mb = wa.receive(), wb.receive()
            elif ma["op"] == "measure":
                ma = self._one_sided(wa, ma, self.a.label)
            elif mb["op"] == "measure":
                mb = self._one_sided(wb, mb, self.b.label)
            else:  # both ended an item, or finished out of step
                if ma["op"] != "finish":
                    ma = wa.receive()
                if mb["op"] != "finish":
                    mb = wb.receive()

    def _one_sided(self, worker: _Worker, message: dict[str, Any], label: str) -> dict[str, Any]:
        point = self._get(message)
        if point.problem is None:
            point.problem = f"measured only in {label}: the tests differ"
            point.one_sided = True
        worker.send({"op": "skip"})
        return worker.receive()

    def _get(self, message: dict[str, Any]) -> Point:
        key = _key(message)
        if key not in self.run.points:
            self.run.points[key] = Point(message["item"], message["label"])
        return self.run.points[key]

    def _point(self, ma: dict[str, Any], mb: dict[str, Any], wa: _Worker, wb: _Worker) -> None:
        point = self._get(ma)
        point.files = {"a": ma.get("file", ""), "b": mb.get("file", "")}
        same = _same_files(ma.get("modules", {}), mb.get("modules", {}), self.top)
        if same and point.problem is None:
            point.problem = same
        if point.problem is not None or point.precise(self.plan):
            for worker in (wa, wb):
                worker.send({"op": "skip"})
            return
        started = time.perf_counter()
        try:
            _measure_point(point, wa, wb, self.plan, self.flip)
        except _CallFailed as exc:
            point.problem = f"raised while measured: {exc}"
            failed = str(exc).startswith(f"{wa.tree.label}:")
            (wb if failed else wa).send({"op": "done"})
            return
        finally:
            self.run.measuring += time.perf_counter() - started
        for worker in (wa, wb):
            worker.send({"op": "done"})


def _key(message: dict[str, Any]) -> tuple[str, str]:
    return message["item"], message["label"]


def _play_round(
    run: PairRun,
    trees: tuple[Tree, Tree],
    plan: PairPlan,
    top: str | None,
    pending: list[str],
    workers_of: tuple[Callable[[Tree], list[str]], Sequence[str], Sequence[str]],
) -> None:
    """One round: a fresh worker per tree (which starts first alternates), every item paired."""
    a, b = trees
    args_for, watch, changed = workers_of
    flip = run.rounds % 2 == 1
    cpu = _quiet_cpu() if plan.pin else None
    workers: list[_Worker] = []
    try:
        for tree in (b, a) if flip else (a, b):
            workers.append(_Worker(tree, args_for(tree), cpu, watch, changed))
        ordered = (workers[1], workers[0]) if flip else (workers[0], workers[1])
        _Round(run, a, b, plan, flip, top).play(ordered, pending, run.rounds == 0)
    finally:
        for worker in workers:
            worker.close()


def pair_items(
    a: Tree,
    b: Tree,
    nodeids: Sequence[str],
    args_for: Callable[[Tree], list[str]],
    *,
    watch: Sequence[str] = (),
    changed: Sequence[str] = (),
    plan: PairPlan | None = None,
    progress: Progress | None = None,
) -> PairRun:
    """Run ``nodeids`` in both trees, round after round, until each call's ratio is known.

    ``args_for(tree)`` gives the pytest arguments (paths) of a side's worker.
    Each side reports the file of every module of the project's top-level
    modules ``watch``, and of every module whose path ends like a file in
    ``changed`` (the files that differ between the trees); one file on both
    sides is a problem of that call.
    """
    plan = plan or PairPlan()
    started = time.perf_counter()
    run = PairRun()
    top = b.path_map[0] if b.path_map else None
    pending = list(nodeids)
    budget = plan.time_per_check * max(1, len(pending))
    limit, needed, since, extended = plan.max_rounds, max(1, plan.min_rounds), (0, 0.0), False
    while pending:
        rounds, spent = run.rounds - since[0], run.measuring - since[1]
        if run.rounds >= limit or (rounds >= needed and spent * (1 + 1 / rounds) > budget):
            undecided = {n for (n, _), p in run.points.items() if p.undecided(plan)}
            pending = [] if extended else [n for n in pending if n in undecided]
            if not pending:
                break
            limit, needed, extended = run.rounds + plan.extra_rounds, 1, True
            since, budget = (run.rounds, run.measuring), plan.time_per_check * len(pending)
            continue
        if progress is not None:
            progress(
                f"aide: pairing {len(pending)} item(s) against {a.label}: round {run.rounds + 1}"
            )
        try:
            _play_round(run, (a, b), plan, top, pending, (args_for, watch, changed))
        except WorkerError as exc:
            for nodeid in pending:
                run.missing.setdefault(nodeid, str(exc))
            break
        run.rounds += 1
        measured = {n for n, _ in run.points}
        for nodeid in pending:
            if nodeid not in measured:
                run.missing.setdefault(nodeid, "made no measured call in the worker session")
        unfinished = {n for (n, _), p in run.points.items() if not p.precise(plan)}
        pending = [n for n in pending if n in unfinished]
    if progress is not None:
        progress("")
    run.elapsed = time.perf_counter() - started
    return run
