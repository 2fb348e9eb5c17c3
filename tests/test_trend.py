"""pytest-aide trend: change points in each check's series of runs, and the gate on them."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_aide.changes import MIN_SEGMENT, change_points
from pytest_aide.cli import main
from pytest_aide.history import History
from pytest_aide.results import CountResult, TimingResult


def _noisy(levels: list[tuple[int, float]], spread: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [level * rng.lognormvariate(0, spread) for n, level in levels for _ in range(n)]


def test_a_step_is_found_at_its_run_with_its_size() -> None:
    covered = 0
    for seed in range(20):
        values = _noisy([(40, 1.0), (20, 1.10)], 0.01, seed)
        (found,) = change_points(values)
        assert found.index == 40 and found.p_value < 0.001, seed
        assert found.size.ratio == pytest.approx(1.10, abs=0.015)
        covered += found.size.low < 1.10 < found.size.high
    assert covered >= 17  # a 95 % interval


def test_flat_noisy_series_have_no_change_point() -> None:
    assert sum(len(change_points(_noisy([(200, 1.0)], 0.05, seed))) for seed in range(20)) == 0
    heavy = _noisy([(200, 1.0)], 0.02, 99)
    heavy[50] *= 3  # a wild run is not a level
    assert change_points(heavy) == []


def test_counts_that_never_move_tie_and_a_count_that_moves_is_exact() -> None:
    assert change_points([1000.0] * 60) == []
    (found,) = change_points([1000.0] * 30 + [1030.0] * 8)
    assert found.index == 30 and found.size.ratio == pytest.approx(1.03)
    # Too few runs on the new level to tell: none rather than a guess.
    assert change_points([1000.0] * 30 + [1030.0] * (MIN_SEGMENT - 1)) == []
    # A step as plain as twice the time needs no more runs than that on either side.
    assert [c.index for c in change_points([1.0, 1.01] * 3 + [2.0, 2.02] * 3)] == [6]


def test_several_steps_are_each_found() -> None:
    values = _noisy([(30, 1.0), (30, 1.3), (30, 0.9), (6, 0.95)], 0.01, 5)
    assert [c.index for c in change_points(values)] == [30, 60, 90]


def _report(run: int, value: float, counted: float | None = None) -> dict[str, Any]:
    results = [TimingResult("t", [value * f for f in (0.99, 1.0, 1.01)], measure="solo").to_dict()]
    if counted is not None:
        results.append(CountResult("t", "instructions", counted, calls=4).to_dict())
    return {
        "created": f"2026-11-{run:02d}T10:00:00+00:00",
        "profile": "default",
        "commit": f"{run:02d}" + "c" * 38,
        "branch": "main",
        "totals": {"checks": 1, "passed": 1, "failed": 0},
        "checks": [{"id": "t.py::t", "status": "PASS", "results": results}],
    }


@pytest.fixture
def stepped(tmp_path: Path) -> Path:
    """20 runs of ``t.py::t``: its time +20 % from run 11, its count +1 % from run 13."""
    store = History(tmp_path / "history.sqlite")
    values = _noisy([(10, 0.010), (10, 0.012)], 0.01, 3)
    for run, value in enumerate(values, start=1):
        store.append(_report(run, value, 2e6 if run < 13 else 2.02e6), "m")
    return store.path


def test_trend_names_each_change_point_with_its_commits(
    stepped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trend", "--path", str(stepped)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"trend of 2 series (1 checks, 20 runs) in {stepped}:"
    assert out[1] == "t.py::t (t): median solo time per run"
    assert re.match(r"  \+(19|20|21)\.\d % \(95% CI \+\d+\.\d % to \+\d+\.\d %\) ", out[2])
    assert "from run #11 11ccccc (2026-11-11), after run #10 10ccccc" in out[2]
    assert out[2].endswith("; p < 0.001")
    assert out[3] == "t.py::t (t): instructions per call, per run"
    assert out[4].startswith("  +1.0 % (95% CI +1.0 % to +1.0 %) from run #13 13ccccc")
    assert out[-1] == "no change point in 0 series"


def test_fail_on_change_fails_a_slowdown_beyond_the_tolerance(
    stepped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trend", "--path", str(stepped), "--fail-on-change"]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAILED")]
    # +20 % is beyond the 10 % of times; +1 % is within the 3 % of counts.
    assert len(failed) == 1 and re.match(
        r"FAILED: t.py::t \(t\): its latest change point is a slowdown beyond 10%: \+(19|20|21)\.",
        failed[0],
    )
    assert main(["trend", "--path", str(stepped), "--fail-on-change", "--tolerance", "30%"]) == 0
    assert main(["trend", "--path", str(stepped), "--fail-on-change", "--since", "15"]) == 0
    assert "trend of 2 series (1 checks, 6 runs)" in capsys.readouterr().out


def test_a_slowdown_that_was_fixed_does_not_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = History(tmp_path / "history.sqlite")
    for run, value in enumerate(_noisy([(10, 0.01), (10, 0.015), (10, 0.01)], 0.01, 4), start=1):
        store.append(_report(run, value), "m")
    assert main(["trend", "--path", str(store.path), "--fail-on-change"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("  +") and lines[3].startswith("  -")


def test_trend_filters_and_bad_input_is_one_line(
    stepped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trend", "--path", str(stepped), "--branch", "release"]) == 0
    assert capsys.readouterr().out.startswith("trend of 0 series (0 checks, 0 runs on release)")
    assert main(["trend", "--path", str(stepped), "t.py::*", "--since", "2026-11-08"]) == 0
    assert "(1 checks, 13 runs)" in capsys.readouterr().out
    assert main(["trend", "--path", str(stepped), "t.py::tt"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"pytest-aide trend: error: {stepped}: no run recorded 't.py::tt' (did you mean 't.py::t'?)"
    ]
    assert main(["trend", "--path", str(stepped.parent / "none.sqlite")]) == 2
    assert "no history yet" in capsys.readouterr().err


SUITE = """
import time
import pytest

DELAY = {delay}

@pytest.mark.aide(mean="1h")
def test_sleepy(aide_timer):
    aide_timer(time.sleep, DELAY, iterations=5, warmup=0)
"""


def _git(path: Path, *args: str) -> None:
    who = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", *who, *args], cwd=path, check=True, capture_output=True)


def test_real_runs_of_a_suite_find_the_commit_that_slowed_it(pytester: pytest.Pytester) -> None:
    pytester.makefile(".gitignore", ".aide/\n__pycache__/\n")
    _git(pytester.path, "init", "-q", "-b", "main")
    for delay in (0.002, 0.004):  # twice the sleep: plain on a busy machine too
        pytester.makepyfile(test_sleepy=SUITE.format(delay=delay))
        _git(pytester.path, "add", "-A")
        _git(pytester.path, "commit", "-qm", f"sleep {delay}")
        for _ in range(MIN_SEGMENT + 1):
            result = pytester.runpytest("--aide-perf", "-p", "no:randomly", "--aide-confirm", "0")
            result.assert_outcomes(passed=1)
    history = pytester.path / ".aide" / "history.sqlite"
    commit = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], cwd=pytester.path, capture_output=True, text=True
    ).stdout.strip()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_aide.cli",
            "trend",
            "--path",
            str(history),
            "--fail-on-change",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"from run #7 {commit} " in done.stdout
    assert (
        "FAILED: test_sleepy.py::test_sleepy (test_sleepy): its latest change point" in done.stdout
    )
    # The HTML report's history chart stars the change point.
    page = (pytester.path / ".aide" / "report.html").read_text()
    assert "test_sleepy: change point" in page
    assert (
        json.loads((pytester.path / ".aide" / "report.json").read_text())["totals"]["checks"] == 1
    )
