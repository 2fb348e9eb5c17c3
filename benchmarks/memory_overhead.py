"""What memory tracing costs, and what peak each tracer reports, side by side in one run.

An allocation-heavy workload (a dict of 200 000 short strings) runs untraced,
under tracemalloc (the seed's tool), and under each memray mode through
``aide_memory``'s own tracer; modes take turns, repeat after repeat. Prints the
median time, the slowdown against untraced, and the peak each one reports.

    python benchmarks/memory_overhead.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_aide.measure.memory import MemoryTrace


def workload() -> int:
    """Allocation-heavy: 200 000 small strings in a dict."""
    data = {i: f"value-{i}" for i in range(200_000)}
    return len(data)


def untraced() -> tuple[float, int | None]:
    start = time.perf_counter()
    workload()
    return time.perf_counter() - start, None


def under_tracemalloc() -> tuple[float, int | None]:
    tracemalloc.start()
    start = time.perf_counter()
    workload()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak


def under_memray(python_allocators: bool) -> tuple[float, int | None]:
    trace = MemoryTrace("bench", python_allocators=python_allocators)
    with trace:
        start = time.perf_counter()
        workload()
        elapsed = time.perf_counter() - start
    return elapsed, trace.peak_bytes


MODES = {
    "untraced": untraced,
    "tracemalloc": under_tracemalloc,
    "memray (pymalloc arenas)": lambda: under_memray(False),
    "memray (python allocators)": lambda: under_memray(True),
}


def main() -> None:
    """Run the modes in turns and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    peaks: dict[str, list[int]] = {mode: [] for mode in MODES}
    workload()
    for _ in range(args.repeats):
        for mode, run in MODES.items():
            elapsed, peak = run()
            times[mode].append(elapsed)
            if peak is not None:
                peaks[mode].append(peak)
    base = statistics.median(times["untraced"])
    print(f"{'mode':<28} {'median':>10} {'slowdown':>9} {'peak reported':>14}")
    for mode in MODES:
        middle = statistics.median(times[mode])
        peak = f"{statistics.median(peaks[mode]) / 2**20:.1f} MiB" if peaks[mode] else "-"
        print(f"{mode:<28} {middle * 1e3:>7.1f} ms {middle / base:>8.2f}x {peak:>14}")
    print(f"({args.repeats} repeats, modes in turns; workload: dict of 200 000 short strings)")


if __name__ == "__main__":
    main()
