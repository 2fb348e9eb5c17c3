"""Interleaved measurement of two implementations of one target, in worker processes.

Each side (say, this tree and a git revision) runs in its own process that
imports ``module:callable`` from its own root. Three effects are handled:

- Slow spells of the machine: the controller asks each side for one batch in
  turn (ABBA order), so a spell lands on both sides of a pair and the pair's
  ratio cancels it.
- A slow core: both workers are pinned to the same CPU. They never run at the
  same time, so this costs nothing (measured: unpinned identical workers read
  up to +35 % apart).
- A process's own speed (memory layout): a fresh pair of workers is started
  for every round, and the interval is built from the rounds' paired ratios,
  so that this bias shows up as variance instead of hiding inside all samples.

Sampling stops once the interval is narrow enough, or at the time limit.
Timing happens inside the workers; the pipe is never inside a measured interval.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.measure.timer import _MAX_CALLS_PER_SAMPLE, _target_sample_ns, grow_batch
from pytest_aide.results import TimingResult
from pytest_aide.stats import RatioEstimate, paired_ratio_estimate

__all__ = ["PairPlan", "PairResult", "Side", "WorkerError", "measure_pair"]


class WorkerError(Exception):
    """A worker process that could not import or run its target; the message says why."""


@dataclass(frozen=True)
class Side:
    """One implementation: a target imported with ``root`` first on ``sys.path``."""

    label: str
    root: Path
    target: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairPlan:
    """How long to sample and when the interval is narrow enough."""

    min_rounds: int = 8
    """Fresh worker pairs at least; the interval is built from one paired ratio per round."""
    max_rounds: int = 40
    round_time: float = 0.05
    """Seconds of samples per side per round (at least 3 and at most 25 pairs)."""
    max_time: float = 10.0
    """Seconds of the whole measurement: no round starts that would end past it on average
    (the first ``min_rounds`` always run)."""
    precision: float = 0.02
    """Stop when the interval's half-width, in log-ratio, is at most this (about ±2 %)."""
    pin: bool = True
    """Run both workers on one CPU, so neither sits on a core slowed by a neighbour."""
    warmup_time: float = 0.05
    """Seconds of warmup calls per worker and round."""
    confidence: float = 0.95


@dataclass
class PairResult:
    """Both sides' per-call samples, measured in pairs, and their paired ratio."""

    a: TimingResult
    b: TimingResult
    estimate: RatioEstimate
    """Paired ratio over rounds: each round's median on each side is one pair."""
    elapsed: float
    """Wall seconds the whole measurement took."""
    a_rounds: list[float] = field(default_factory=list)
    b_rounds: list[float] = field(default_factory=list)
    """Median per-call seconds of each round, side A and B."""


_WORKER = r"""
import json, os, sys, time
proto = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
root, spec = sys.argv[1], sys.argv[2]
args, kwargs = json.loads(sys.argv[3]), json.loads(sys.argv[4])
if sys.argv[5] != "-" and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(sys.argv[5])})
# `python -c` puts the working directory first; only this side's root may supply modules.
sys.path[:] = [root] + [p for p in sys.path if p not in ("", ".")]
def say(*parts):
    proto.write(" ".join(str(p) for p in parts) + "\n")
try:
    import importlib
    module_name, _, attr = spec.partition(":")
    fn = importlib.import_module(module_name)
    for part in attr.split("."):
        fn = getattr(fn, part)
    if not callable(fn):
        raise TypeError(f"{spec!r} is not callable")
except BaseException as exc:
    say("err", json.dumps(f"cannot import {spec!r} from {root}: {type(exc).__name__}: {exc}"))
    sys.exit(0)
def _is_coroutine_function(f):
    code = getattr(getattr(f, "__func__", f), "__code__", None)
    return bool(code is not None and code.co_flags & 0x80)  # CO_COROUTINE
is_async = _is_coroutine_function(fn) or _is_coroutine_function(getattr(fn, "__call__", None))
if is_async:
    import asyncio
loop = asyncio.new_event_loop() if is_async else None
perf = time.perf_counter_ns
async def abatch(calls):
    start = perf()
    for _ in range(calls):
        await fn(*args, **kwargs)
    return perf() - start
def batch(calls):
    if loop is not None:
        return loop.run_until_complete(abatch(calls))
    start = perf()
    for _ in range(calls):
        fn(*args, **kwargs)
    return perf() - start
say("ready")
for line in sys.stdin:
    calls = int(line)
    if calls <= 0:
        break
    try:
        say("ok", batch(calls))
    except BaseException as exc:
        say("err", json.dumps(f"{spec!r} raised {type(exc).__name__}: {exc}"))
"""


class _Worker:
    def __init__(self, side: Side, cpu: int | None) -> None:
        self.side = side
        try:
            payload = (json.dumps(list(side.args)), json.dumps(side.kwargs))
        except TypeError as exc:
            raise WorkerError(f"{side.label}: arguments must be JSON values: {exc}") from None
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                str(side.root),
                side.target,
                *payload,
                "-" if cpu is None else str(cpu),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            cwd=side.root,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        self._expect("ready")

    def _expect(self, word: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError(f"{self.side.label}: worker process exited unexpectedly")
        kind, _, rest = line.strip().partition(" ")
        if kind == "err":
            raise WorkerError(f"{self.side.label}: {json.loads(rest)}")
        if kind != word:
            raise WorkerError(f"{self.side.label}: unexpected worker reply {line.strip()!r}")
        return rest

    def run(self, calls: int) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{calls}\n")
        return int(self._expect("ok"))

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write("0\n")
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def _shared_cpu() -> int | None:
    """One CPU this process may run on, for both workers (None where affinity is unknown)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[0] if allowed else None


def _calibrate(worker: _Worker) -> int:
    target, calls = _target_sample_ns(), 1
    while True:
        elapsed = worker.run(calls)
        if elapsed >= target or calls >= _MAX_CALLS_PER_SAMPLE:
            return calls
        calls = grow_batch(calls, elapsed, target)


def _round(a: Side, b: Side, cpu: int | None, calls: int | None, plan: PairPlan, flip: bool):
    """One round with fresh workers: returns calls per sample and both sides' samples."""
    workers: list[_Worker] = []
    try:
        for side in (b, a) if flip else (a, b):
            workers.append(_Worker(side, cpu))
        first, second = (workers[1], workers[0]) if flip else (workers[0], workers[1])
        if calls is None:
            calls = max(_calibrate(first), _calibrate(second))
        last = 1
        for worker in workers:
            warmed = 0
            while warmed < plan.warmup_time * 1e9:
                last = worker.run(calls)
                warmed += last
        pairs = int(min(25, max(3, plan.round_time * 1e9 / max(last, 1))))
        a_samples: list[float] = []
        b_samples: list[float] = []
        for index in range(pairs):
            order = (first, second) if (index % 2 == 0) != flip else (second, first)
            elapsed = {id(w): w.run(calls) for w in order}
            a_samples.append(elapsed[id(first)] / calls / 1e9)
            b_samples.append(elapsed[id(second)] / calls / 1e9)
        return calls, a_samples, b_samples
    finally:
        for worker in workers:
            worker.close()


def measure_pair(a: Side, b: Side, plan: PairPlan | None = None) -> PairResult:
    """Measure ``a`` and ``b`` interleaved, round after round, until the ratio is known."""
    plan = plan or PairPlan()
    started = time.perf_counter()
    cpu = _shared_cpu() if plan.pin else None
    calls: int | None = None
    a_all: list[float] = []
    b_all: list[float] = []
    a_rounds: list[float] = []
    b_rounds: list[float] = []
    while len(a_rounds) < plan.max_rounds:
        spent = time.perf_counter() - started
        if len(a_rounds) >= plan.min_rounds and spent * (1 + 1 / len(a_rounds)) > plan.max_time:
            break  # one more round of the average length would pass the time limit
        calls, a_samples, b_samples = _round(a, b, cpu, calls, plan, len(a_rounds) % 2 == 1)
        a_all += a_samples
        b_all += b_samples
        a_rounds.append(statistics.median(a_samples))
        b_rounds.append(statistics.median(b_samples))
        if len(a_rounds) < plan.min_rounds:
            continue
        estimate = paired_ratio_estimate(a_rounds, b_rounds, plan.confidence)
        if (math.log(estimate.high) - math.log(estimate.low)) / 2 <= plan.precision:
            break
    assert calls is not None
    return PairResult(
        TimingResult(a.label, a_all, calls_per_sample=calls),
        TimingResult(b.label, b_all, calls_per_sample=calls),
        paired_ratio_estimate(a_rounds, b_rounds, plan.confidence),
        time.perf_counter() - started,
        a_rounds,
        b_rounds,
    )
