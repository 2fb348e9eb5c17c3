"""What counting per Python function costs: instructions and valgrind's time, with and without.

    python benchmarks/trampoline_cost.py [--python python3.12]

On CPython 3.12+, pytest-aide's counting worker enters every Python function
through CPython's perf trampoline and has callgrind split anonymous code by
its callers (``--separate-callers12=0x*``), so a count can be attributed to
Python functions. The trampoline adds instructions to every Python call, so
counts made with it differ from counts made without. This script counts three
workloads (call-heavy recursion, a loop with few calls, a sort with a Python
key) under callgrind both ways, side by side, and prints the ratios of their
instructions and of valgrind's wall time.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

WORKLOADS = {
    "calls (recursive fib)": "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    "fib(22)\n",
    "loop (few calls)": "total = 0\nfor i in range(300_000):\n    total += i * i % 7\n",
    "sort with a key": "import random\nitems = [random.Random(1).random() for _ in range(50_000)]\n"
    "items.sort(key=lambda v: -v)\n",
}


def _count(python: str, script: Path, attributed: bool) -> tuple[int, float]:
    """Instructions of the whole run, and valgrind's wall seconds."""
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={script}.out.%p"]
    if attributed:
        command += ["--separate-callers12=0x*"]
    command += [python, *(["-X", "perf"] if attributed else []), str(script)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    found = re.search(r"Collected : (\d+)", done.stderr) or re.search(
        r"I\s+refs:\s+([\d,]+)", done.stderr
    )
    assert found is not None, done.stderr[-500:]
    for leftover in script.parent.glob(f"{script.name}.out.*"):
        pid = leftover.name.rpartition(".")[2]
        Path(f"/tmp/perf-{pid}.map").unlink(missing_ok=True)
        leftover.unlink()
    return int(found.group(1).replace(",", "")), seconds


def main() -> None:
    """Count each workload with and without the trampoline; print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3.12", help="a CPython 3.12 or newer")
    args = parser.parse_args()
    python = shutil.which(args.python) or args.python
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0], sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    python = version[1]
    work = Path(tempfile.mkdtemp(prefix="aide-trampoline-"))
    print(
        f"CPython {version[0]} under valgrind --tool=callgrind; instructions of each workload "
        "(an empty script's taken off), valgrind's time of the whole run"
    )
    header = f"{'workload':<24} {'instructions without':>21} {'with':>14} {'ratio':>7}"
    print(f"{header} {'time ratio':>11}")
    script = work / "work.py"
    try:
        script.write_text("pass\n")
        empty = {mode: _count(python, script, mode)[0] for mode in (False, True)}
        for name, code in WORKLOADS.items():
            script.write_text(code)
            plain, plain_s = _count(python, script, False)
            traced, traced_s = _count(python, script, True)
            plain, traced = plain - empty[False], traced - empty[True]
            print(
                f"{name:<24} {plain:>21,} {traced:>14,} {traced / plain:>7.3f} "
                f"{traced_s / plain_s:>11.2f}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
