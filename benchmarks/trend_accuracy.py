"""Change points found at the right run: pytest-aide's detector beside ruptures and Otava.

    python benchmarks/trend_accuracy.py [--runs 40] [--stress 2] [--series 200] [--noise-sd PCT]

First the noise: ``--runs`` fresh processes each time one workload
(``benchmarks/workloads.py``'s ``work``) with pytest-aide's timer on solo
time, as one run of a suite would, beside ``--stress`` busy loops; each
process's median is one run's figure. Their spread around the median of all
is the machine's run-to-run noise, and synthetic series are drawn from it
(resampled, so the noise keeps its real shape: skew, wild runs). With
``--noise-sd`` the noise is normal instead, of that many percent per run:
the spread of instruction counts, which no busy machine moves.

Then, for each detector, on the same series:

- steps of 2, 5, 10 and 20 %: ``--series`` series of 60 runs, the step at
  run 40; counted: the step found at exactly run 40, within one run, and
  change points elsewhere;
- flat series: ``--series`` series of 200 runs; change points found there are
  false (target: at most 1 per 200 runs);
- the seconds to search 500 series of 1,000 runs (the history of a large
  suite); a detector that has not finished after a minute is timed on the
  series it searched and its time for 500 extrapolated.

Detectors: ``aide`` (:mod:`pytest_aide.changes`), ``ruptures`` (PELT on the
log figures, least squares, penalty 3 log(n) times the noise variance
estimated as aide does, at least 5 runs a segment) and ``otava`` (Apache
Otava's ``compute_change_points``, E-Divisive means in windows of 50 runs,
p ≤ 0.001). The last two are used when importable; install them beside
pytest-aide in a venv of their own (Otava pins NumPy), e.g.
``python -m venv PATH/TO/venv && PATH/TO/venv/bin/pip install -e . ruptures
apache-otava``, and run this script with that venv's python.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stress import spin
from pytest_aide.changes import change_points

_MAD = 1.4826
"""A normal distribution's standard deviation per median absolute deviation."""

Detector = Callable[[Sequence[float]], list[int]]

SPEED_BUDGET = 60.0
"""Seconds a detector's speed is measured for; a slower one's time for 500 is extrapolated."""

ONE_RUN = """
import statistics, sys
sys.path.insert(0, {root!r})
from benchmarks.workloads import work
from pytest_aide.measure.timer import TimingPlan, measure
result = measure(work, name="work", plan=TimingPlan(iterations=20, warmup=2, measure="solo"))
print(result.median)
"""


def measured_noise(runs: int, stress: int) -> list[float]:
    """Log residuals of ``runs`` fresh processes' medians around their median."""
    loops = [multiprocessing.Process(target=spin, daemon=True) for _ in range(stress)]
    for loop in loops:
        loop.start()
    root = str(Path(__file__).resolve().parent.parent)
    try:
        medians = [
            float(
                subprocess.run(
                    [sys.executable, "-c", ONE_RUN.format(root=root)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for _ in range(runs)
        ]
    finally:
        for loop in loops:
            loop.kill()
    logs = sorted(math.log(m) for m in medians)
    middle = logs[len(logs) // 2]
    return [x - middle for x in logs]


def aide(values: Sequence[float]) -> list[int]:
    """pytest-aide's detector."""
    return [c.index for c in change_points(values)]


def _ruptures() -> Detector | None:
    try:
        import numpy as np
        import ruptures
    except ImportError:
        return None

    def detect(values: Sequence[float]) -> list[int]:
        logs = np.log(np.asarray(values, dtype=float))
        steps = np.abs(np.diff(logs))
        sigma = _MAD * float(np.median(steps)) / math.sqrt(2) if len(steps) else 0.0
        penalty = 3 * math.log(len(logs)) * max(sigma, 1e-12) ** 2
        found = ruptures.Pelt(model="l2", min_size=5, jump=1).fit(logs).predict(pen=penalty)
        return [int(i) for i in found[:-1]]  # the last "change point" is the series' end

    return detect


def _otava() -> Detector | None:
    try:
        from otava.analysis import compute_change_points
    except ImportError:
        return None

    def detect(values: Sequence[float]) -> list[int]:
        found, _ = compute_change_points(list(values), window_len=50, max_pvalue=0.001)
        return [int(c.index) for c in found]

    return detect


def _series(noise: list[float], rng: random.Random, runs: int, step_at: int, step: float):
    return [math.exp(rng.choice(noise)) * (1 + step if i >= step_at else 1.0) for i in range(runs)]


def evaluate(name: str, detect: Detector, noise: list[float], count: int) -> None:
    """Print one detector's row for each step size, the flat series and the speed."""
    for step in (0.02, 0.05, 0.10, 0.20):
        rng = random.Random(7)
        exact = near = elsewhere = 0
        for _ in range(count):
            found = detect(_series(noise, rng, 60, 40, step))
            exact += 40 in found
            near += any(abs(i - 40) <= 1 for i in found)
            elsewhere += sum(abs(i - 40) > 1 for i in found)
        print(
            f"{name:<9} step +{step:>4.0%}: at run 40 {exact:>4}/{count}  within 1 "
            f"{near:>4}/{count}  elsewhere {elsewhere}"
        )
    rng = random.Random(8)
    false = sum(len(detect(_series(noise, rng, 200, 10**9, 0.0))) for _ in range(count))
    print(f"{name:<9} flat: {false} change points in {count} series of 200 runs")
    rng = random.Random(9)
    many = [_series(noise, rng, 1000, 500, 0.05) for _ in range(500)]
    started = time.perf_counter()
    done = 0
    for values in many:
        detect(values)
        done += 1
        if time.perf_counter() - started > SPEED_BUDGET:
            break
    spent = time.perf_counter() - started
    if done == len(many):
        print(f"{name:<9} 500 series of 1,000 runs searched in {spent:.2f} s")
    else:  # a slow detector: timed on the series it searched within the budget
        print(
            f"{name:<9} {done} series of 1,000 runs searched in {spent:.1f} s: about "
            f"{spent / done * len(many):,.0f} s for 500"
        )


def main() -> None:
    """Measure the noise, then every detector's accuracy and speed on the same series."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="fresh processes for the noise")
    parser.add_argument("--stress", type=int, default=2, help="busy loops beside them")
    parser.add_argument("--series", type=int, default=200, help="series per case")
    parser.add_argument(
        "--noise-sd",
        type=float,
        help="instead of measuring: normal noise of this many percent per run (instruction "
        "counts spread 0.006-1.75 %% across fresh processes: results/count-determinism.md)",
    )
    args = parser.parse_args()
    if args.noise_sd is not None:
        rng = random.Random(6)
        noise = sorted(rng.gauss(0.0, args.noise_sd / 100) for _ in range(1000))
        args.runs = 0
    else:
        noise = measured_noise(args.runs, args.stress)
    spread = (math.exp(noise[-1]) - math.exp(noise[0])) * 100
    sd = _MAD * sorted(abs(x) for x in noise)[len(noise) // 2]
    source = (
        f"normal, sd {args.noise_sd} % (--noise-sd)"
        if args.noise_sd is not None
        else f"{args.runs} fresh processes beside {args.stress} busy loops"
    )
    print(f"noise: {source}: run figures span {spread:.1f} % (robust sd {sd * 100:.1f} %)")
    detectors: list[tuple[str, Detector | None]] = [
        ("aide", aide),
        ("ruptures", _ruptures()),
        ("otava", _otava()),
    ]
    for name, detect in detectors:
        if detect is None:
            print(f"{name:<9} not installed here (see this script's docstring)")
            continue
        evaluate(name, detect, noise, args.series)


if __name__ == "__main__":
    main()
