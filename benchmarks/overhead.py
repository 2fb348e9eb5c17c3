"""What each timer reports for a no-op and a ~1 µs function, side by side in one run.

Compares ``aide_timer``, pytest-benchmark's ``benchmark`` fixture and a raw
loop that times every call with ``perf_counter_ns``. Each repeat is one fresh
pytest session running all three on both functions in shuffled order; per tool
and function it prints the median per-call time, the spread inside one
measurement (coefficient of variation of its samples) and across repeats (CV of
the per-repeat medians), and the ratio to pytest-benchmark.

    python benchmarks/overhead.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent

_TESTS = """
import json, os, random, time
import pytest
from workloads import noop, one_microsecond

FUNCTIONS = {"noop": noop, "1us": one_microsecond}
OUT = os.environ["AIDE_OVERHEAD_OUT"]

def _save(tool, name, samples):
    with open(OUT, "a") as fh:
        fh.write(json.dumps({"tool": tool, "fn": name, "samples": samples}) + "\\n")

@pytest.mark.parametrize("name", FUNCTIONS)
def test_pytest_benchmark(benchmark, name):
    benchmark(FUNCTIONS[name])

@pytest.mark.parametrize("name", FUNCTIONS)
def test_aide(aide_timer, name):
    result = aide_timer(FUNCTIONS[name], iterations=200)
    _save("aide_timer", name, result.samples)

@pytest.mark.parametrize("name", FUNCTIONS)
def test_raw(name):
    fn, clock, samples = FUNCTIONS[name], time.perf_counter_ns, []
    for _ in range(20000):
        start = clock()
        fn()
        samples.append((clock() - start) / 1e9)
    _save("raw perf_counter_ns", name, samples)
"""


_SHUFFLE = """
import os, random

def pytest_collection_modifyitems(items):
    random.Random(int(os.environ["AIDE_OVERHEAD_SEED"])).shuffle(items)
"""


def _cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0


def main() -> None:
    """Run the repeats and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    medians: dict[tuple[str, str], list[float]] = defaultdict(list)
    inner_cv: dict[tuple[str, str], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "test_overhead.py").write_text(_TESTS)
        (work / "conftest.py").write_text(_SHUFFLE)
        for repeat in range(args.repeats):
            out, bench_json = work / f"aide-{repeat}.jsonl", work / f"pb-{repeat}.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    str(work / "test_overhead.py"),
                    "-q",
                    "--aide-perf",
                    "-p",
                    "no:cacheprovider",
                    f"--benchmark-json={bench_json}",
                    "--aide-report-dir",
                    str(work / "r"),
                    "-o",
                    "asyncio_default_fixture_loop_scope=function",
                ],
                check=True,
                capture_output=True,
                cwd=work,
                env={
                    **os.environ,
                    "AIDE_OVERHEAD_OUT": str(out),
                    "AIDE_OVERHEAD_SEED": str(repeat),
                    "PYTHONPATH": str(BENCH),
                },
            )
            for line in out.read_text().splitlines():
                row = json.loads(line)
                key = (row["tool"], row["fn"])
                medians[key].append(statistics.median(row["samples"]))
                inner_cv[key].append(_cv(row["samples"]))
            for bench in json.loads(bench_json.read_text())["benchmarks"]:
                key = ("pytest-benchmark", bench["params"]["name"])
                medians[key].append(bench["stats"]["median"])
                inner_cv[key].append(bench["stats"]["stddev"] / bench["stats"]["mean"])
    print(
        f"{'function':<8} {'tool':<20} {'per call':>10} {'CV in run':>10} "
        f"{'CV across':>10} {'range across sessions':>22} {'vs pytest-benchmark':>20}"
    )
    for fn in ("noop", "1us"):
        reference = statistics.median(medians["pytest-benchmark", fn])
        for tool in ("aide_timer", "pytest-benchmark", "raw perf_counter_ns"):
            values = medians[tool, fn]
            middle = statistics.median(values)
            spread = statistics.median(inner_cv[tool, fn])
            span = f"{min(values) * 1e9:.1f}..{max(values) * 1e9:.1f} ns"
            print(
                f"{fn:<8} {tool:<20} {middle * 1e9:>7.1f} ns {spread:>9.1%} "
                f"{_cv(values):>9.1%} {span:>22} {middle / reference:>19.2f}x"
            )
    print(f"({args.repeats} fresh pytest sessions; medians over sessions)")


if __name__ == "__main__":
    main()
