"""How often the regression gate cries wolf, and how often it catches a real slowdown.

Runs many A/A checks (the same workload on both sides) and A/B checks (B does
5 %, 10 % or 20 % more operations: real CPU work, not a sleep) through the real
measurement and comparison code, in two modes:

- ``stored``: each side measured by ``aide_timer``'s timer in its own fresh
  process, one after the other, as a stored baseline and a later CI run would
  be; judged by the two-sample Hodges–Lehmann ratio.
- ``paired``: both sides measured in one job, interleaved, in two worker
  pytest sessions pinned to one CPU (``--aide-against``: a ``benchmark`` test
  in two checkouts); judged by the paired ratio over rounds.

Cases run in shuffled order so that the machine's slow spells hit all alike.

    python benchmarks/gate_accuracy.py [--aa 200] [--ab 60] [--modes stored,paired]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_aide.measure.pair import PairPlan, Tree, pair_items  # noqa: E402
from pytest_aide.verdict import compare  # noqa: E402

TOLERANCES = (0.05, 0.10)
SLOWDOWNS = (0.05, 0.10, 0.20)

_CHILD = """
import json, sys
sys.path[:0] = [{root!r}, {bench!r}]
from pytest_aide.measure.timer import TimingPlan, measure
from workloads import work
print(json.dumps(measure(work, (float(sys.argv[1]),), name="w",
                         plan=TimingPlan(iterations={iterations}, warmup=2)).samples))
"""


def _stored(scale: float, iterations: int) -> tuple[list[float], list[float]]:
    code = _CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), iterations=iterations)
    sides = []
    for side_scale in (1.0, scale):
        out = subprocess.run(
            [sys.executable, "-c", code, str(side_scale)],
            capture_output=True,
            text=True,
            check=True,
        )
        sides.append(json.loads(out.stdout))
    return sides[0], sides[1]


_TEST = "from workloads import work\n\ndef test_w(benchmark):\n    benchmark(work, {scale!r})\n"
_TREES: dict[float, tuple[Tree, Tree]] = {}


def _trees(scale: float) -> tuple[Tree, Tree]:
    """Two checkouts of one benchmark test: A at scale 1, B at ``scale``."""
    if scale not in _TREES:
        sides = []
        for label, side_scale in (("A", 1.0), ("B", scale)):
            root = Path(tempfile.mkdtemp(prefix=f"aide-gate-{label}-"))
            shutil.copy(ROOT / "benchmarks" / "workloads.py", root / "workloads.py")
            (root / "test_w.py").write_text(_TEST.format(scale=side_scale))
            (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
            redirects = {"workloads": [str(root / "workloads.py")]}
            sides.append(Tree(label, root, root / "pytest.ini", redirects))
        _TREES[scale] = (sides[0], sides[1])
    return _TREES[scale]


def _paired(scale: float, plan: PairPlan) -> tuple[list[float], list[float]]:
    """What ``--aide-against`` does: the same test in two trees, interleaved, in rounds."""
    a, b = _trees(scale)
    run = pair_items(a, b, ["test_w.py::test_w"], lambda tree: ["test_w.py"], plan=plan)
    (point,) = run.points.values()
    return point.a_rounds, point.b_rounds


def main() -> None:
    """Run the checks and print false-alarm and detection rates per mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa", type=int, default=200, help="A/A checks per mode")
    parser.add_argument("--ab", type=int, default=60, help="A/B checks per slowdown and mode")
    parser.add_argument("--modes", default="stored,paired")
    parser.add_argument("--iterations", type=int, default=30, help="samples per side, stored mode")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    modes = args.modes.split(",")
    cases = [(mode, 0.0) for mode in modes for _ in range(args.aa)]
    cases += [(mode, s) for mode in modes for s in SLOWDOWNS for _ in range(args.ab)]
    random.Random(args.seed).shuffle(cases)

    flagged: dict[tuple[str, float, float], int] = defaultdict(int)
    counts: dict[tuple[str, float], int] = defaultdict(int)
    samples: dict[tuple[str, float], list[int]] = defaultdict(list)
    seconds: dict[tuple[str, float], list[float]] = defaultdict(list)
    started = time.perf_counter()
    for done, (mode, slowdown) in enumerate(cases, 1):
        begin = time.perf_counter()
        if mode == "stored":
            old, new = _stored(1.0 + slowdown, args.iterations)
        else:
            old, new = _paired(1.0 + slowdown, PairPlan())
        for tolerance in TOLERANCES:
            comparison = compare(
                "w", old, new, tolerance=tolerance, against="B" if mode == "paired" else None
            )
            flagged[mode, slowdown, tolerance] += comparison.status == "regressed"
        counts[mode, slowdown] += 1
        samples[mode, slowdown].append(len(old) + len(new))
        seconds[mode, slowdown].append(time.perf_counter() - begin)
        if done % 50 == 0:
            print(
                f"  {done}/{len(cases)} checks, {time.perf_counter() - started:.0f} s", flush=True
            )

    print()
    print(
        f"{'mode':<7} {'case':<6} {'checks':>6} {'samples/check':>13} "
        + " ".join(f"{f'flagged @{t:.0%} tol':>16}" for t in TOLERANCES)
        + f" {'s/check median (max)':>21}"
    )
    for mode in modes:
        for slowdown in (0.0, *SLOWDOWNS):
            n = counts[mode, slowdown]
            label = "A/A" if slowdown == 0 else f"+{slowdown:.0%}"
            rates = " ".join(
                f"{flagged[mode, slowdown, t] / n:>10.1%} ({flagged[mode, slowdown, t]:>3})"
                for t in TOLERANCES
            )
            times = seconds[mode, slowdown]
            print(
                f"{mode:<7} {label:<6} {n:>6} {statistics.median(samples[mode, slowdown]):>13.0f} "
                f"{rates} {statistics.median(times):>12.2f} ({max(times):.2f})"
            )
    print(
        f"(A/A rows: false alarms; other rows: detections. {len(cases)} checks in "
        f"{time.perf_counter() - started:.0f} s; workload: benchmarks/workloads.py:work)"
    )


if __name__ == "__main__":
    main()
