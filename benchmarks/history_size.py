"""How big the run history grows per check and run, and how fast its series are read.

    python benchmarks/history_size.py [--checks 28] [--runs 100] [--samples 1000]
        [--big-checks 500] [--big-runs 1000]

A suite of ``--checks`` timing checks (solo time with its wall-time twin,
``--samples`` samples each, as pytest-benchmark's rounds of a fast test give)
is recorded run after run into a fresh history, side by side under two
policies: every run keeps every sample (how the history was written before
compaction) and the default (the newest 20 runs keep every sample, older
ones their statistics and a reservoir of 16). Prints the file's size after
1, 15 and ``--runs`` runs, and the bytes each check adds per run once the
newest runs' window is full (the target: at most 1 kB).

Then a history of ``--big-runs`` runs of ``--big-checks`` checks is written
under the default policy (one check in ten slowed by 10 % for the last 30 %
of the runs), and ``pytest-aide trend`` on it, every check's series searched
for change points, is timed (the target: at most 2 s).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_aide.cli import main as main_cli
from pytest_aide.history import DEFAULT_KEEP_SAMPLES, History
from pytest_aide.results import TimingResult

EVERY_SAMPLE = 10**9


def _check_id(index: int) -> str:
    module = ["parsing", "rendering", "validation", "serialisation"][index % 4]
    return (
        f"tests/benchmarks/test_bench_{module}.py::test_{module}_case_{index}[variant-{index % 3}]"
    )


def _report(run: int, checks: int, samples: int, rng: random.Random) -> dict[str, Any]:
    rows = []
    for index in range(checks):
        base = 1e-6 * (1 + index % 7) * 10 ** (index % 4)
        solo = [base * rng.lognormvariate(0, 0.05) for _ in range(samples)]
        wall = [s * rng.uniform(1.0, 1.3) for s in solo]
        name = _check_id(index).rsplit("::", 1)[1]
        result = TimingResult(name, solo, calls_per_sample=100, measure="solo", wall_samples=wall)
        rows.append({"id": _check_id(index), "status": "passed", "results": [result.to_dict()]})
    return {
        "created": f"2026-{1 + run // 28 % 12:02d}-{1 + run % 28:02d}T12:00:00+00:00",
        "profile": "default",
        "commit": hashlib.sha1(str(run).encode()).hexdigest(),
        "branch": "main",
        "dirty": False,
        "totals": {"checks": checks, "passed": checks, "failed": 0},
        "checks": rows,
    }


def _sizes(args: argparse.Namespace, keep: int, folder: Path) -> dict[int, int]:
    rng = random.Random(1)
    store = History(folder / f"keep-{keep}.sqlite", keep_samples=keep)
    sizes = {}
    marks = {1, 15, args.runs // 2, args.runs}
    for run in range(1, args.runs + 1):
        store.append(_report(run, args.checks, args.samples, rng), "bench")
        if run in marks:
            sizes[run] = store.path.stat().st_size
    return sizes


def _trend_time(args: argparse.Namespace, folder: Path) -> None:
    rng = random.Random(2)
    store = History(folder / "big.sqlite")
    started = time.perf_counter()
    for run in range(1, args.big_runs + 1):
        report = _report(run, args.big_checks, args.big_samples, rng)
        if run > args.big_runs * 0.7:  # one check in ten slowed by 10 % from here on
            for row in report["checks"][::10]:
                row["results"] = [_slowed(result, 1.10) for result in row["results"]]
        store.append(report, "bench")
    written = time.perf_counter() - started
    size = store.path.stat().st_size
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        main_cli(["trend", "--path", str(store.path)])
    took = time.perf_counter() - started
    per = size / (args.big_runs * args.big_checks)
    print(
        f"\n{args.big_runs} runs x {args.big_checks} checks ({args.big_samples} samples each): "
        f"written in {written:.0f} s, {size / 1e6:.1f} MB ({per:,.0f} B per check per run)"
    )
    print(f"pytest-aide trend on it: {took:.2f} s (target <= 2 s); it said:")
    lines = out.getvalue().splitlines()
    print(
        "\n".join(
            ["  " + lines[0], *("  " + line for line in lines[1:5]), "  ...", "  " + lines[-1]]
        )
    )


def _slowed(result: dict[str, Any], factor: float) -> dict[str, Any]:
    samples = [s * factor for s in result["samples"]]
    wall = [s * factor for s in result["wall_samples"]]
    slowed = TimingResult(result["name"], samples, calls_per_sample=100, measure="solo")
    slowed.wall_samples = wall
    return slowed.to_dict()


def main() -> None:
    """Print the history's growth under both policies, then the big history's read time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=28)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--big-checks", type=int, default=500)
    parser.add_argument("--big-runs", type=int, default=1000)
    parser.add_argument("--big-samples", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{args.checks} checks, {args.samples} samples each (solo and wall)")
        print(
            f"{'policy':<32} {'1 run':>9} {'15 runs':>9} {f'{args.runs} runs':>9}  "
            "per check per run"
        )
        half = args.runs // 2
        for label, keep in (
            ("every run keeps every sample", EVERY_SAMPLE),  # compressed, as all are now
            (f"newest {DEFAULT_KEEP_SAMPLES} keep every sample", DEFAULT_KEEP_SAMPLES),
        ):
            sizes = _sizes(args, keep, folder)
            marginal = (sizes[args.runs] - sizes[half]) / ((args.runs - half) * args.checks)
            print(
                f"{label:<32} {sizes[1] / 1e6:>7.2f}MB {sizes[15] / 1e6:>7.2f}MB "
                f"{sizes[args.runs] / 1e6:>7.2f}MB  {marginal:,.0f} B (runs {half + 1}-{args.runs})"
            )
        if args.big_runs:
            _trend_time(args, folder)


if __name__ == "__main__":
    main()
