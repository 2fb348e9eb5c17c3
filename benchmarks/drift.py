"""How far unchanged code drifts between separate processes on this machine.

Runs each bundled AIDE target, and a pure-Python CPU loop, in N fresh
processes one after another, and prints each process's median with the
spread across processes: the drift that a stored-baseline gate, which sees
one run per side, cannot tell from a regression.

    python benchmarks/drift.py [--processes 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
from pytest_aide.measure.timer import TimingPlan, measure
from aide_system.diagnostics import diagnose_system
from aide_system.monitor import get_system_health
from aide_system.optimizer import run_optimization_cycle

def cpu_loop():
    return sum(i * i for i in range(20000))

targets = {{
    "cpu_loop": (cpu_loop, 30),
    "system_diagnosis": (diagnose_system, 10),
    "health_monitoring": (get_system_health, 20),
    "system_optimization": (run_optimization_cycle, 5),
}}
print(json.dumps({{
    name: measure(fn, name=name, plan=TimingPlan(iterations=n, warmup=2)).median
    for name, (fn, n) in targets.items()
}}))
"""


def main() -> None:
    """Measure every target in fresh processes and print the drift between them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=10)
    args = parser.parse_args()
    runs = []
    for _ in range(args.processes):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(root=str(ROOT))],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    print(f"{'target':<20} {'median of runs':>15} {'min':>8} {'max':>8} {'max/median':>11}")
    for name in runs[0]:
        medians = [run[name] for run in runs]
        middle = statistics.median(medians)
        print(
            f"{name:<20} {middle * 1e3:>12.3f} ms {min(medians) / middle:>8.2f} "
            f"{max(medians) / middle:>8.2f} {max(medians) / middle - 1:>+10.0%}"
        )
    print(f"({args.processes} processes, one after another; ratios are to the median run)")


if __name__ == "__main__":
    main()
