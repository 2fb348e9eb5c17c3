"""What ``--aide-perf`` adds to pytest's start-up, on a file with one trivial test.

Runs, interleaved and repeated, ``pytest -p no:aide`` (plugin not loaded),
plain ``pytest`` (plugin loaded, measurement off) and ``pytest --aide-perf``,
and prints the median wall time of each and the differences.

    python benchmarks/startup.py [--repeats 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {
    "pytest -p no:aide": ["-p", "no:aide"],
    "pytest": [],
    "pytest --aide-perf": ["--aide-perf"],
}


def main() -> None:
    """Time the variants and print medians and differences."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_one.py").write_text("def test_one():\n    assert True\n")
        for _ in range(args.repeats):
            for name, extra in VARIANTS.items():
                command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
                command.append("test_one.py")
                started = time.perf_counter()
                subprocess.run(command, cwd=tmp, check=True, capture_output=True)
                times[name].append(time.perf_counter() - started)
    base = statistics.median(times["pytest"])
    print(f"{'command':<22} {'median':>9} {'vs plain pytest':>16}")
    for name, values in times.items():
        middle = statistics.median(values)
        print(f"{name:<22} {middle * 1e3:>6.0f} ms {(middle - base) * 1e3:>+13.0f} ms")
    print(f"({args.repeats} runs of each, interleaved; one trivial test)")


if __name__ == "__main__":
    main()
