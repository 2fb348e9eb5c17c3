"""Scenario files collected as pytest items (bad files and targets: test_bad_input.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_aide.scenarios import load_scenario_file

TARGETS = """
import asyncio
from pathlib import Path

def diagnose(n=2000):
    return sum(i * i for i in range(n))

async def optimise(n=500):
    await asyncio.sleep(0)
    return [i for i in range(n)]

def counted(log):
    with open(log, "a") as fh:
        fh.write("call\\n")

def boom():
    raise ZeroDivisionError("target failed on purpose")

NOT_CALLABLE = 42

class Monitor:
    @staticmethod
    def health():
        return {"cpu": 1.0}
"""

GOOD = """
[scenarios.system_diagnosis]
target = "aide_targets:diagnose"
kwargs = { n = 1000 }
iterations = 4
warmup = 1
thresholds = { mean = "1h" }

[scenarios.system_optimization]
target = "aide_targets:optimise"
args = [100]
iterations = 3
thresholds = { mean = "1h", p95 = "1h" }

[scenarios.health_monitoring]
target = "aide_targets:Monitor.health"
iterations = 5
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(aide_targets=TARGETS)
    return pytester


def write(pytester: pytest.Pytester, name: str, text: str) -> Path:
    path = pytester.path / "scenarios" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_each_scenario_is_an_item_with_a_readable_node_id(project: pytest.Pytester) -> None:
    write(project, "aide.toml", GOOD)
    result = project.runpytest("--aide-perf", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "scenarios/aide.toml::system_diagnosis PASSED*",
            "scenarios/aide.toml::system_optimization PASSED*",
            "scenarios/aide.toml::health_monitoring PASSED*",
            "*aide performance summary*",
            "system_diagnosis *mean <= 1.00 h*PASS",
            "system_optimization *PASS",
            "checks: 3, passed: 3, failed: 0, success rate: 100.0%",
        ]
    )


def test_k_selects_scenarios(project: pytest.Pytester) -> None:
    write(project, "aide.toml", GOOD)
    result = project.runpytest("--aide-perf", "-k", "health or optimization")
    result.assert_outcomes(passed=2, deselected=1)
    by_id = project.runpytest("--aide-perf", "scenarios/aide.toml::system_diagnosis")
    by_id.assert_outcomes(passed=1)


def test_broken_scenario_threshold_fails(project: pytest.Pytester) -> None:
    write(
        project,
        "aide.toml",
        '[scenarios.too_slow]\ntarget = "aide_targets:diagnose"\niterations = 2\n'
        'thresholds = { mean = "1ns" }\n',
    )
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["too_slow: mean * > 1.00 ns", "too_slow * FAIL"])
    project.runpytest().assert_outcomes(passed=1)


def test_smoke_mode_calls_the_target_once(project: pytest.Pytester) -> None:
    log = project.path / "calls.log"
    write(
        project,
        "aide.toml",
        f'[scenarios.once]\ntarget = "aide_targets:counted"\nargs = ["{log.as_posix()}"]\n'
        "iterations = 30\nwarmup = 5\n",
    )
    project.runpytest().assert_outcomes(passed=1)
    assert log.read_text().splitlines() == ["call"]
    log.unlink()
    project.runpytest("--aide-perf", "--aide-iterations", "3", "--aide-warmup", "0")
    assert len(log.read_text().splitlines()) >= 3


def test_scenario_dirs_come_from_the_ini(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\naide_scenarios =\n    perf/checks\n")
    (project.path / "perf" / "checks").mkdir(parents=True)
    (project.path / "perf" / "checks" / "mine.toml").write_text(GOOD)
    write(project, "ignored.toml", "this is not collected = ")
    result = project.runpytest("--aide-perf", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["perf/checks/mine.toml::system_diagnosis PASSED*"])


def test_toml_outside_scenario_dirs_is_not_collected(project: pytest.Pytester) -> None:
    (project.path / "config.toml").write_text("[tool]\nx = 1\n")
    result = project.runpytest(str(project.path / "config.toml"))
    assert "config.toml::" not in result.stdout.str()


def test_a_bad_scenario_does_not_hide_good_ones_in_the_same_file(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        "mixed.toml",
        GOOD + '\n[scenarios.typo]\ntarget = "aide_targets:diagnose"\nthreshold = {}\n',
    )
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(passed=3, errors=1)
    # The summary counts as pytest does: the bad scenario is an error of its own.
    result.stdout.fnmatch_lines(
        [
            "typo * ERROR",
            "checks: 4, passed: 3, failed: 0, errors: 1, success rate: 75.0%",
        ]
    )
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    assert report["totals"] == {
        "checks": 4,
        "passed": 3,
        "failed": 0,
        "errors": 1,
        "not_compared": 0,
        "success_rate": 0.75,
    }
    (typo,) = [c for c in report["checks"] if c["status"] == "ERROR"]
    assert typo["failures"] == [
        "scenarios/mixed.toml: scenario 'typo': unknown key 'threshold' (did you mean "
        "'thresholds'?)"
    ]


def test_only_a_bad_scenario_is_an_error_not_an_empty_run(project: pytest.Pytester) -> None:
    write(project, "aide.toml", '[scenarios.typo]\ntarget = "aide_targets:diagnose"\nwarm = 1\n')
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["checks: 1, passed: 0, failed: 0, errors: 1, success rate: 0.0%"])
    assert "measured nothing" not in result.stdout.str()


def test_bundled_scenarios_are_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "scenarios").glob("*.toml")):
        loaded = load_scenario_file(path)
        assert loaded.errors == {}, loaded.errors
        assert loaded.scenarios
    names = {s.name for s in load_scenario_file(root / "scenarios" / "aide.toml").scenarios}
    assert {"system_diagnosis", "system_optimization", "health_monitoring"} <= names
