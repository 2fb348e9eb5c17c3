"""Run a command on a busy machine: N busy-looping processes beside it.

    python benchmarks/stress.py --processes 3 [--memory 1] -- .venv/bin/python -m pytest

Starts the busy loops, runs the command, stops them, and exits with the
command's exit code. The test suite must pass like this: no test may depend on
how fast the machine is at the moment.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import time


def spin() -> None:
    """Burn one core until killed."""
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2147483648


def churn(megabytes: int = 64) -> None:
    """Stream memory until killed: copy half a large buffer onto the other half.

    A neighbour like this evicts what others keep in the shared last-level
    cache, as a test suite or a build beside a benchmark does.
    """
    buffer = memoryview(bytearray(megabytes << 20))
    half = len(buffer) // 2
    while True:
        buffer[:half] = buffer[half:]


def main() -> int:
    """Start the loops, run the command, stop the loops; the command's exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=3, help="busy-looping processes")
    parser.add_argument(
        "--memory", type=int, default=0, help="of them, how many stream memory (churn)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the command to run after --")
    loops = [
        multiprocessing.Process(target=churn if i < options.memory else spin, daemon=True)
        for i in range(options.processes)
    ]
    for loop in loops:
        loop.start()
    started = time.perf_counter()
    try:
        code = subprocess.call(command)
    finally:
        for loop in loops:
            loop.terminate()
        for loop in loops:
            loop.join()
    print(
        f"stress: {' '.join(command)} exited {code} after {time.perf_counter() - started:.0f} s "
        f"beside {options.processes} busy loop(s), {options.memory} streaming memory",
        file=sys.stderr,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
