"""How many requests per second the load driver sustains, against a raw hand-written loop.

For a no-op target, in each mode, ``aide_load``'s driver (latency recorded per
request, errors counted, bounded concurrency) runs beside the plainest code
that sends the same requests through the same kind of pool:

- thread: ``ThreadPoolExecutor(concurrency).map``
- async: ``asyncio.gather`` over coroutines, bounded by a semaphore
- process: ``ProcessPoolExecutor(concurrency).map`` (workers started first)

Driver and raw runs alternate, ``--repeats`` times each; the medians and their
ratio (driver / raw req/s; 1.0 = as fast as raw) are printed.

    python benchmarks/load_ceiling.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import multiprocessing  # noqa: E402

from benchmarks.workloads import anoop, noop  # noqa: E402
from pytest_aide.measure.load import (  # noqa: E402
    LoadPlan,
    run_load,
    run_load_async,
    run_load_process,
)

CASES = {"thread": (8, 20_000), "async": (50, 50_000), "process": (2, 4_000)}
"""Mode -> (concurrency, requests)."""


def driver_thread(concurrency: int, requests: int) -> float:
    plan = LoadPlan(concurrency=concurrency, requests=requests)
    return run_load(noop, (), {}, name="noop", plan=plan).throughput


def raw_thread(concurrency: int, requests: int) -> float:
    with ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        for _ in pool.map(lambda _: noop(), range(requests)):
            pass
        return requests / (time.perf_counter() - start)


def driver_async(concurrency: int, requests: int) -> float:
    plan = LoadPlan(concurrency=concurrency, requests=requests)
    return asyncio.run(run_load_async(anoop, (), {}, name="anoop", plan=plan)).throughput


def raw_async(concurrency: int, requests: int) -> float:
    async def main() -> float:
        limit = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with limit:
                await anoop()

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - start)

    return asyncio.run(main())


def driver_process(concurrency: int, requests: int) -> float:
    plan = LoadPlan(concurrency=concurrency, requests=requests)
    spec = "benchmarks.workloads:noop"
    return run_load_process(spec, str(ROOT), (), {}, name="noop", plan=plan).throughput


def raw_process(concurrency: int, requests: int) -> float:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(concurrency, mp_context=context) as pool:
        wait([pool.submit(time.sleep, 0) for _ in range(concurrency)])
        start = time.perf_counter()
        for _ in pool.map(noop_by_index, range(requests)):
            pass
        return requests / (time.perf_counter() - start)


def noop_by_index(_: int) -> None:
    """``noop`` with the one argument ``map`` passes."""
    noop()


RUNNERS: dict[str, tuple[Callable[[int, int], float], Callable[[int, int], float]]] = {
    "thread": (driver_thread, raw_thread),
    "async": (driver_async, raw_async),
    "process": (driver_process, raw_process),
}


def main() -> None:
    """Measure each mode and print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    print(
        f"{'mode':8} {'concurrency':>11} {'requests':>9} {'driver req/s':>13} "
        f"{'raw req/s':>11} {'ratio':>6}"
    )
    for mode, (concurrency, requests) in CASES.items():
        driver, raw = RUNNERS[mode]
        ours, theirs = [], []
        for _ in range(options.repeats):
            ours.append(driver(concurrency, requests))
            theirs.append(raw(concurrency, requests))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{mode:8} {concurrency:>11} {requests:>9} {a:>13,.0f} {b:>11,.0f} {a / b:>5.2f}x")
    print(f"(medians of {options.repeats} alternating runs; ratio = driver / raw, target >= 0.8x)")


if __name__ == "__main__":
    main()
