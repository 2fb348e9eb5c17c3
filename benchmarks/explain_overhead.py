"""What ``--aide-explain fail`` (the default) costs checks that pass: nothing, it should be.

Runs one file of passing checks (real work: sorting, JSON encoding, a Python
loop; ``aide_timer`` with a limit far above them) under ``pytest --aide-perf``
with ``--aide-explain never`` and ``--aide-explain fail``, interleaved, in
fresh processes, and prints for each the median session wall time and each
check's median, then the ratios fail/never measured side by side (the median
over the repeats of each adjacent pair's ratio), and how many profiles the
``fail`` runs wrote (0 expected). ``--explain-always`` adds ``always`` rows:
what profiling every check costs.

    python benchmarks/explain_overhead.py [--repeats 11] [--explain-always]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKS = """
import json
import random

import pytest

DATA = [random.Random(7).random() for _ in range(2000)]
RECORDS = [{"id": i, "name": f"n{i}", "tags": ["a", "b"]} for i in range(200)]


def python_loop():
    total = 0
    for i in range(3000):
        total += i * i
    return total


@pytest.mark.aide(mean="10s")
def test_sort(aide_timer):
    aide_timer(sorted, DATA, iterations=20)


@pytest.mark.aide(mean="10s")
def test_encode(aide_timer):
    aide_timer(json.dumps, RECORDS, iterations=20)


@pytest.mark.aide(mean="10s")
def test_loop(aide_timer):
    aide_timer(python_loop, iterations=20)
"""


def _run(tmp: Path, mode: str) -> tuple[float, dict[str, float], int]:
    """One session: its wall time, each check's median, and profile files written."""
    report_dir = tmp / f"report-{mode}"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p"]
    command += ["no:randomly", "--aide-perf", f"--aide-explain={mode}"]
    command += [f"--aide-report-dir={report_dir}", "test_checks.py"]
    started = time.perf_counter()
    subprocess.run(command, cwd=tmp, check=True, capture_output=True)
    took = time.perf_counter() - started
    report = json.loads((report_dir / "report.json").read_text())
    medians = {check["name"]: check["results"][0]["stats"]["median"] for check in report["checks"]}
    profiles = len(list((report_dir / "profiles").glob("*"))) if mode != "never" else 0
    return took, medians, profiles


def main() -> None:
    """Run the modes interleaved and print medians and side-by-side ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--explain-always", action="store_true")
    args = parser.parse_args()
    modes = ["never", "fail"] + (["always"] if args.explain_always else [])
    sessions: dict[str, list[float]] = {m: [] for m in modes}
    medians: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    written: dict[str, int] = dict.fromkeys(modes, 0)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "test_checks.py").write_text(CHECKS)
        for repeat in range(args.repeats):
            order = modes if repeat % 2 == 0 else modes[::-1]
            for mode in order:
                took, figures, profiles = _run(tmp, mode)
                sessions[mode].append(took)
                medians[mode].append(figures)
                written[mode] += profiles
    checks = sorted(medians["never"][0])
    print(f"{'mode':<8} {'session':>9} " + " ".join(f"{c:>12}" for c in checks) + "  profiles")
    for mode in modes:
        cells = [statistics.median(run[c] for run in medians[mode]) * 1e6 for c in checks]
        print(
            f"{mode:<8} {statistics.median(sessions[mode]):>7.2f} s "
            + " ".join(f"{cell:>9.1f} us" for cell in cells)
            + f"  {written[mode]:>8}"
        )
    for mode in modes[1:]:
        ratio = statistics.median(
            a / b for a, b in zip(sessions[mode], sessions["never"], strict=True)
        )
        per_check = [
            statistics.median(
                new[c] / old[c] for new, old in zip(medians[mode], medians["never"], strict=True)
            )
            for c in checks
        ]
        print(
            f"{mode}/never: session x{ratio:.3f}; check medians "
            + ", ".join(f"{c} x{r:.3f}" for c, r in zip(checks, per_check, strict=True))
        )
    print(f"({args.repeats} sessions of each, interleaved, fresh processes; 3 passing checks)")


if __name__ == "__main__":
    main()
