"""How much instruction counts move between fresh processes on a busy machine.

    python benchmarks/count_determinism.py --runs 20 --stress 2

Counts the same checks in ``--runs`` fresh counting sessions (each one a new
pytest session under valgrind) while ``--stress`` processes busy-loop beside
them, and times the same callables in as many fresh processes with aide's
in-process timer. Each run counts the checks twice, in the order written and
reversed, and once per allocator (``PYTHONMALLOC=malloc``, aide's default,
and pymalloc). Prints, per check, the spread (max / min - 1) of the counts
per call over all runs and both orders, per allocator, beside the spread of
the wall-time medians.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stress import spin
from pytest_aide.measure.counts import ALLOCATORS, count_items, find_valgrind
from pytest_aide.measure.pair import Tree

MODULE = """\
import json

DOC = {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"] * 3} for i in range(200)]}

def python_loop():
    total = 0
    for i in range(20_000):
        total += (i * i) % 7
    return total

def sort_and_group():
    words = [f"w{(i * 7919) % 1000}" for i in range(3000)]
    groups = {}
    for word in sorted(words):
        groups.setdefault(word[:2], []).append(word)
    return len(groups)

def json_round_trip():
    return json.loads(json.dumps(DOC))
"""

TESTS = """\
from work import json_round_trip, python_loop, sort_and_group

def test_python_loop(aide_timer):
    aide_timer(python_loop)

def test_sort_and_group(benchmark):
    benchmark(sort_and_group)

def test_json_round_trip(aide_timer):
    aide_timer(json_round_trip)
"""

TIMER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import work
from pytest_aide.measure.timer import TimingPlan, measure
plan = TimingPlan(iterations=30, warmup=5)
print(json.dumps({name: measure(getattr(work, name), name=name, plan=plan).median
                  for name in ("python_loop", "sort_and_group", "json_round_trip")}))
"""

LABELS = {
    "test_python_loop": "python_loop",
    "test_sort_and_group": "sort_and_group",
    "test_json_round_trip": "json_round_trip",
}


def spread(values: list[float]) -> float:
    """max / min - 1, in percent."""
    return (max(values) / min(values) - 1) * 100


def main() -> None:
    """Count and time the checks ``--runs`` times beside ``--stress`` busy loops."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--stress", type=int, default=2, help="busy-looping processes beside")
    parser.add_argument("--cycles", action="store_true", help="also simulate the caches")
    options = parser.parse_args()
    valgrind = find_valgrind()
    root = Path(tempfile.mkdtemp(prefix="aide-determinism-"))
    (root / "work.py").write_text(MODULE)
    (root / "test_work.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    tree = Tree("this tree", root, root / "pytest.ini")
    ids = [f"test_work.py::{name}" for name in LABELS]
    loops = [multiprocessing.Process(target=spin, daemon=True) for _ in range(options.stress)]
    for loop in loops:
        loop.start()
    counts = {(a, name): [] for a in ALLOCATORS for name in LABELS.values()}
    medians: dict[str, list[float]] = {name: [] for name in LABELS.values()}
    seconds = []
    try:
        for index in range(options.runs):
            for allocator in ALLOCATORS:
                for order in (ids, ids[::-1]):
                    started = time.perf_counter()
                    run = count_items(
                        tree,
                        order,
                        ["-p", "no:randomly", "-p", "no:cacheprovider", "test_work.py"],
                        valgrind=valgrind,
                        out_dir=root / f"dumps-{index}",
                        cycles=options.cycles,
                        allocator=allocator,
                    )
                    seconds.append(time.perf_counter() - started)
                    for count in run.counts.values():
                        if count.problem:
                            sys.exit(f"{count.label}: {count.problem}")
                        value = count.cycles if options.cycles else count.instructions
                        counts[allocator, LABELS[count.label]].append(float(value or 0))
            timed = subprocess.run(
                [sys.executable, "-c", TIMER, str(root)], capture_output=True, text=True, check=True
            )
            for name, median in json.loads(timed.stdout).items():
                medians[name].append(median)
            print(f"  run {index + 1}/{options.runs}: {seconds[-1]:.1f} s", file=sys.stderr)
    finally:
        for loop in loops:
            loop.terminate()
    unit = "cycles" if options.cycles else "instructions"
    print(
        f"{options.runs} fresh processes each, {options.stress} busy loop(s) beside, "
        f"valgrind {valgrind.version}; counting session {sum(seconds) / len(seconds):.1f} s "
        f"for {len(ids)} checks"
    )
    print(
        f"{'check':<16} {'allocator':<9} {unit + ' per call':>23} {'count spread':>13} "
        f"{'time spread':>12}"
    )
    for name in LABELS.values():
        for allocator in ALLOCATORS:
            values = counts[allocator, name]
            print(
                f"{name:<16} {allocator:<9} {min(values):>11,.0f}..{max(values):<11,.0f} "
                f"{spread(values):>12.4f}% {spread(medians[name]):>11.1f}%"
            )


if __name__ == "__main__":
    main()
