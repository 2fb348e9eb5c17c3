"""A process that saves baselines and reports over and over; test_crash_safety kills it.

Every generation ``gen`` of every file has exactly one possible content, so the
test can tell a whole old or new file from a torn one.

    python crash_writer.py loop DIR FIRST_GEN        # save generations until killed
    python crash_writer.py share DIR WORKER COUNT    # own baselines, a shared one, history
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pytest_aide.baselines import Baseline, baseline_relpath, save_baseline
from pytest_aide.check import Check
from pytest_aide.history import History
from pytest_aide.report.files import write_outputs
from pytest_aide.report.html import render_html  # imported before "ready": the kill lands in writes
from pytest_aide.report.json import build_report
from pytest_aide.results import TimingResult

IDS = ("scenarios/a.toml::one", "tests/test_x.py::test_two", "tests/test_x.py::test_three[p]")
SHARED_ID = "tests/test_shared.py::test_shared"
MACHINE = {"os": "Linux", "arch": "x86_64", "cores": 2, "python": "3.11", "implementation": "x"}
CREATED = "2026-11-25T00:00:00+00:00"


def baseline(nodeid: str, gen: int, size: int = 200) -> Baseline:
    """Generation ``gen`` of the baseline of ``nodeid``: samples gen + i/size."""
    samples = [gen + i / size for i in range(1, size + 1)]
    return Baseline(nodeid, [TimingResult(nodeid, samples)], MACHINE, created=CREATED)


def report(gen: int) -> dict[str, Any]:
    """Generation ``gen`` of the session report (its profile is ``gen<N>``)."""
    checks = []
    for nodeid in IDS:
        check = Check(nodeid.rpartition("::")[2], nodeid)
        check.results.append(baseline(nodeid, gen).results[0])
        check.judge()
        checks.append(check)
    data = build_report(checks, profile=f"gen{gen}", machine=MACHINE)
    data["created"] = CREATED
    return data


def save_generation(directory: Path, gen: int) -> None:
    """Save every baseline of ``gen``, then every report (with the history)."""
    for nodeid in IDS:
        path = directory / "baselines" / "m" / baseline_relpath(nodeid)
        save_baseline(path, baseline(nodeid, gen))
    reports = directory / "reports"
    outputs = write_outputs(report(gen), reports, history=reports / "history.sqlite")
    if outputs.problems:
        raise SystemExit(f"write problems: {outputs.problems}")


def main(argv: list[str]) -> None:
    """Entry point; see the module docstring."""
    assert callable(render_html)
    mode, directory = argv[0], Path(argv[1])
    if mode == "loop":
        gen = int(argv[2])
        print("ready", flush=True)
        while True:
            save_generation(directory, gen)
            print(gen, flush=True)
            gen += 1
    worker, count = int(argv[2]), int(argv[3])
    for i in range(count):
        own = f"tests/test_w{worker}.py::test_{i}"
        save_baseline(directory / baseline_relpath(own), baseline(own, worker * 1000 + i, 20))
        shared = baseline(SHARED_ID, worker * 1000 + i, 20)
        save_baseline(directory / baseline_relpath(SHARED_ID), shared)
        History(directory / "history.sqlite").append(report(worker * 1000 + i), f"w{worker}")


if __name__ == "__main__":
    main(sys.argv[1:])
