"""Interleaved measurement of two implementations of one target, in two worker processes.

Each side (say, this tree and a git revision) runs in its own fresh process
that imports ``module:callable`` from its own root. The controller asks for one
batch from each side in turn, in ABBA order, so that a slow spell of the
machine lands on both sides of a pair; the pair's log-ratio cancels it.
Sampling stops once the interval of the paired ratio is narrow enough, or at
the time or pair limit. Timing happens inside the workers; the pipe between
processes is never inside a measured interval.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.measure.timer import WARMUP_TIME, _target_sample_ns
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

    min_pairs: int = 20
    max_pairs: int = 400
    max_time: float = 10.0
    """Seconds of sampling at most, warmup included."""
    precision: float = 0.02
    """Stop when the interval's half-width, in log-ratio, is at most this (about ±2 %)."""
    pin: bool = True
    """Run both workers on one CPU, so neither sits on a core slowed by a neighbour."""
    warmup_time: float = WARMUP_TIME
    confidence: float = 0.95


@dataclass
class PairResult:
    """Both sides' per-call samples, measured in pairs, and their paired ratio."""

    a: TimingResult
    b: TimingResult
    estimate: RatioEstimate
    elapsed: float
    """Wall seconds the whole measurement took."""


_WORKER = r"""
import asyncio, inspect, json, os, sys, time
proto = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
root, spec = sys.argv[1], sys.argv[2]
args, kwargs = json.loads(sys.argv[3]), json.loads(sys.argv[4])
if sys.argv[5] != "-" and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(sys.argv[5])})
sys.path.insert(0, root)
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
call = getattr(fn, "__call__", None)
is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)
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
        if elapsed >= target or calls >= 10_000_000:
            return calls
        calls = min(10_000_000, max(calls * 2, math.ceil(calls * target * 1.25 / max(elapsed, 1))))


def measure_pair(a: Side, b: Side, plan: PairPlan | None = None) -> PairResult:
    """Measure ``a`` and ``b`` interleaved until the paired ratio is known well enough."""
    plan = plan or PairPlan()
    started = time.perf_counter()
    workers: list[_Worker] = []
    try:
        cpu = _shared_cpu() if plan.pin else None
        workers.append(_Worker(a, cpu))
        workers.append(_Worker(b, cpu))
        first, second = workers
        calls = max(_calibrate(first), _calibrate(second))
        warmed = 0.0
        while warmed < plan.warmup_time * 1e9:
            warmed += min(first.run(calls), second.run(calls))
        a_samples: list[float] = []
        b_samples: list[float] = []
        estimate = None
        while len(a_samples) < plan.max_pairs:
            order = (first, second) if len(a_samples) % 2 == 0 else (second, first)
            elapsed = {id(w): w.run(calls) for w in order}
            a_samples.append(elapsed[id(first)] / calls / 1e9)
            b_samples.append(elapsed[id(second)] / calls / 1e9)
            pairs = len(a_samples)
            if pairs >= plan.min_pairs and pairs % 10 == 0:
                estimate = paired_ratio_estimate(a_samples, b_samples, plan.confidence)
                half_width = (math.log(estimate.high) - math.log(estimate.low)) / 2
                if half_width <= plan.precision:
                    break
            if pairs >= plan.min_pairs and time.perf_counter() - started > plan.max_time:
                break
        estimate = paired_ratio_estimate(a_samples, b_samples, plan.confidence)
    finally:
        for worker in workers:
            worker.close()
    return PairResult(
        TimingResult(a.label, a_samples, calls_per_sample=calls),
        TimingResult(b.label, b_samples, calls_per_sample=calls),
        estimate,
        time.perf_counter() - started,
    )
