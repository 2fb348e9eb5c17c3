"""What one same-job confirmation costs: a pairing of one ``benchmark`` test, by revision.

    python benchmarks/pair_cost.py 5f18db9 HEAD --repeats 3

Checks each revision out into a temporary git worktree and, alternating
between them, runs the pairing that ``--aide-confirm`` runs against a
baseline's commit (``PairPlan(decide_at=confirm.DECIDE_AT)``) on
``gate_accuracy``'s two checkouts of one ``benchmark`` test, A/A, with that
revision's pytest-aide imported from its worktree (and its pair workers
too). Prints the seconds and rounds of each pairing and the median ratio of
the later revision's seconds to the first's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PAIR = """
import json, sys, time
from benchmarks.gate_accuracy import _paired
from pytest_aide.confirm import DECIDE_AT
from pytest_aide.measure.pair import PairPlan
began = time.perf_counter()
a, b = _paired(1.0, PairPlan(tolerance=0.05, decide_at=DECIDE_AT))
print(json.dumps({"seconds": time.perf_counter() - began, "rounds": len(a)}))
"""


def _worktree(revision: str, into: Path) -> Path:
    tree = into / revision.replace("/", "_")
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), revision],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return tree


def _pairing(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _PAIR], cwd=tree, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"pairing at {tree.name} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Alternate pairings at each revision and print their cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs=2, metavar="REV")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {rev: [] for rev in args.revisions}
    with tempfile.TemporaryDirectory(prefix="aide-pair-cost-") as scratch:
        trees = {rev: _worktree(rev, Path(scratch)) for rev in args.revisions}
        try:
            for repeat in range(args.repeats):
                for rev, tree in trees.items():
                    began = time.perf_counter()
                    run = _pairing(tree)
                    seconds[rev].append(run["seconds"])
                    print(
                        f"{rev:>12} #{repeat + 1}: {run['seconds']:.1f} s, {run['rounds']:.0f} "
                        f"rounds ({time.perf_counter() - began:.1f} s with start-up)",
                        flush=True,
                    )
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
                )
    first, later = args.revisions
    ratios = [b / a for a, b in zip(seconds[first], seconds[later], strict=True)]
    print(
        f"median {statistics.median(seconds[first]):.1f} s at {first}, "
        f"{statistics.median(seconds[later]):.1f} s at {later}: "
        f"x{statistics.median(ratios):.2f} ({args.repeats} alternations)"
    )


if __name__ == "__main__":
    main()
