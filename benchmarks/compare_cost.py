"""What the stored comparison and the reports cost at a real suite's scale.

    python benchmarks/compare_cost.py [--checks 64] [--rounds 200000]

A pytest-benchmark suite of sub-microsecond functions records up to ~200k
rounds per test. This builds a suite of ``--checks`` such checks (samples
drawn around 1 µs with a slow tail; only their count matters here), then times:

- one check's stored comparison (baseline of 1000 thinned samples vs 200k new);
- ``report.json``, ``report.md`` and ``report.html`` written for the suite, and their sizes;
- ``pytest-aide compare`` of two such reports, as a user runs it.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_aide.check import Check
from pytest_aide.report.files import write_outputs
from pytest_aide.report.json import build_report
from pytest_aide.results import TimingResult, thin
from pytest_aide.verdict import compare


def _samples(rng: random.Random, rounds: int) -> list[float]:
    return [1e-6 * (1 + rng.expovariate(20)) for _ in range(rounds)]


def _report(checks: list[Check], where: Path) -> dict[str, float]:
    machine = {
        "os": "linux",
        "arch": "x86_64",
        "cores": 2,
        "python": "3",
        "implementation": "CPython",
    }
    report = build_report(checks, profile="default", machine=machine)
    started = time.perf_counter()
    outputs = write_outputs(report, where, history=where / "history.sqlite", benchmark_json=None)
    seconds = time.perf_counter() - started
    sizes = {p.name: p.stat().st_size / 1e6 for p in outputs.written if p.suffix != ".sqlite"}
    return {"seconds": seconds, **sizes}


def main() -> None:
    """Build the suite, time each step, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=200_000)
    options = parser.parse_args()
    rng = random.Random(1)
    new = _samples(rng, options.rounds)
    old = thin(_samples(rng, options.rounds))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        compare("c", old, new, tolerance=0.1)
        times.append(time.perf_counter() - started)
    print(
        f"stored comparison, {len(old)} baseline vs {len(new):,} new samples: "
        f"{min(times) * 1e3:.1f} ms (best of 5), {max(times) * 1e3:.1f} ms (worst)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        reports = []
        for side in ("old", "new"):
            checks = []
            for index in range(options.checks):
                check = Check(f"test_{index}", f"bench/test_x.py::test_{index}")
                check.results.append(TimingResult(check.name, _samples(rng, options.rounds)))
                check.judge()
                checks.append(check)
            figures = _report(checks, Path(tmp) / side)
            reports.append(Path(tmp) / side / "report.json")
            sizes = ", ".join(
                f"{name} {mb:.2f} MB" for name, mb in figures.items() if name != "seconds"
            )
            print(
                f"{side} suite, {options.checks} checks x {options.rounds:,} rounds: "
                f"reports written in {figures['seconds']:.1f} s: {sizes}"
            )
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest_aide.cli", "compare", *map(str, reports)],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
        print(
            f"pytest-aide compare of the two reports: {seconds:.1f} s (exit {done.returncode}; "
            f"{summary})"
        )


if __name__ == "__main__":
    main()
