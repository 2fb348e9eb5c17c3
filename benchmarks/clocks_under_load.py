"""Wall, solo and CPU time of the same calls, quiet and beside busy loops, in fresh processes.

    python benchmarks/clocks_under_load.py [--sessions 5] [--loads 0,2,4]

For each workload and each number of busy loops, ``--sessions`` fresh Python
processes each time the workload with every clock (pytest-aide's timer,
``measure=wall|solo|cpu``) and print their medians. Per clock the table gives
the median across sessions, the spread across sessions (max / min - 1) and the
ratio to the quiet machine's median: a steady clock reads x1.00 whatever the
neighbours do. The busy loops and the measuring process share one CPU, as two
jobs on a busy CI runner do. Figures are ratios taken in one run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stress import spin

PROBE = """
import json, sys, time
from pytest_aide.measure.timer import TimingPlan, measure

def cpu_loop():
    return sum(i * i for i in range(20_000))

def sleepy():
    time.sleep(0.002)
    return sum(i * i for i in range(5_000))

def json_round_trip(data={"k%d" % i: [i, str(i), {"x": i}] for i in range(300)}):
    return json.loads(json.dumps(data))

work = {"cpu loop": cpu_loop, "2 ms sleep + loop": sleepy, "json round trip": json_round_trip}
found = {}
for name, fn in work.items():
    for clock in ("wall", "solo", "cpu"):
        plan = TimingPlan(iterations=15, warmup=1, measure=clock)
        found[f"{name}|{clock}"] = measure(fn, name=name, plan=plan).median
print(json.dumps(found))
"""


def _session(cpu: int) -> dict[str, float]:
    command = [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{cpu}}})\n" + PROBE]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _pinned_spin(cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    spin()


def main() -> int:
    """Measure every clock under every load; print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--loads", default="0,2,4", help="busy loops beside, comma-separated")
    options = parser.parse_args()
    cpu = min(os.sched_getaffinity(0))
    loads = [int(n) for n in options.loads.split(",")]
    table: dict[int, dict[str, list[float]]] = {}
    for load in loads:
        loops = [
            multiprocessing.Process(target=_pinned_spin, args=(cpu,), daemon=True)
            for _ in range(load)
        ]
        for loop in loops:
            loop.start()
        time.sleep(0.3)
        try:
            runs = [_session(cpu) for _ in range(options.sessions)]
        finally:
            for loop in loops:
                loop.kill()
        table[load] = {key: [run[key] for run in runs] for key in runs[0]}
    keys = list(table[loads[0]])
    print(f"{options.sessions} fresh sessions per row, busy loops on the measuring CPU")
    print(
        f"{'workload':<20} {'clock':<5} {'loops':>5} {'median':>10} {'spread':>8} {'vs quiet':>9}"
    )
    for key in keys:
        workload, clock = key.split("|")
        quiet = statistics.median(table[loads[0]][key])
        for load in loads:
            values = table[load][key]
            median = statistics.median(values)
            spread = max(values) / min(values) - 1
            print(
                f"{workload:<20} {clock:<5} {load:>5} {median * 1e3:>8.3f}ms "
                f"{spread:>7.1%} {median / quiet:>8.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
