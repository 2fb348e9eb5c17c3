"""What CPU sampling costs a CPU-bound loop, and which interval it really achieves.

A fixed CPU-bound loop runs with no sampler, with ``aide_cpu``'s helper-process
sampler, and with a psutil sampler thread inside the process (the seed's way),
in turns. Prints the loop's median time, its slowdown, the samples taken per
second and the achieved interval, for a requested 50 ms.

    python benchmarks/cpu_sampler.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_aide.measure.cpu import CpuTrace

INTERVAL = 0.05


def loop() -> int:
    """About a quarter of a second of pure-Python CPU work (on this project's VM)."""
    return sum(i * i for i in range(6_000_000))


def no_sampler() -> tuple[float, float | None]:
    start = time.perf_counter()
    loop()
    return time.perf_counter() - start, None


def helper_process() -> tuple[float, float | None]:
    with CpuTrace("bench", interval=INTERVAL) as cpu:
        start = time.perf_counter()
        loop()
        elapsed = time.perf_counter() - start
    return elapsed, cpu.achieved_interval


def thread_in_process() -> tuple[float, float | None]:
    stamps: list[float] = []
    stop = threading.Event()
    process = psutil.Process()

    def sample() -> None:
        while not stop.wait(INTERVAL):
            process.cpu_percent(None)
            stamps.append(time.perf_counter())

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    loop()
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    steps = [b - a for a, b in pairwise(stamps)]
    return elapsed, statistics.mean(steps) if steps else elapsed


MODES = {
    "no sampler": no_sampler,
    "aide_cpu (helper process)": helper_process,
    "thread in the process": thread_in_process,
}


def main() -> None:
    """Run the modes in turns and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    intervals: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.repeats):
        for mode, run in MODES.items():
            elapsed, interval = run()
            times[mode].append(elapsed)
            if interval is not None:
                intervals[mode].append(interval)
    base = statistics.median(times["no sampler"])
    print(f"{'sampler':<28} {'loop':>8} {'slowdown':>9} {'samples/s':>10} {'interval':>9}")
    for mode in MODES:
        middle = statistics.median(times[mode])
        if intervals[mode]:
            achieved = statistics.median(intervals[mode])
            rate, shown = f"{1 / achieved:.1f}", f"{achieved * 1e3:.1f} ms"
        else:
            rate, shown = "-", "-"
        print(f"{mode:<28} {middle:>6.2f} s {middle / base:>8.3f}x {rate:>10} {shown:>9}")
    print(
        f"({args.repeats} repeats in turns; {INTERVAL * 1e3:.0f} ms asked for, i.e. 20 samples/s)"
    )


if __name__ == "__main__":
    main()
