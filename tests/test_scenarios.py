"""Scenario files collected as pytest items, including every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_aide.scenarios import SCENARIO_KEYS, load_scenario_file
from pytest_aide.verdict import THRESHOLD_KEYS

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


def test_target_raising_shows_its_own_traceback(project: pytest.Pytester) -> None:
    write(project, "aide.toml", '[scenarios.fails]\ntarget = "aide_targets:boom"\n')
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*def boom():*", "E * ZeroDivisionError: target failed on purpose"]
    )
    assert "pytest_aide" not in result.stdout.str().replace("plugins: aide", "")


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


BAD_CASES = [
    pytest.param(
        "[scenarios.a\ntarget = 'x'",
        "file",
        "scenarios/bad.toml: invalid TOML: *",
        id="toml-syntax",
    ),
    pytest.param(
        "[other]\nx = 1\n",
        "file",
        "scenarios/bad.toml: unknown top-level key 'other' (known: scenarios, profiles)",
        id="top-level-key",
    ),
    pytest.param(
        "", "file", "scenarios/bad.toml: no scenarios: add a [scenarios.NAME] table", id="empty"
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets:diagnose"\niteratons = 3\n',
        "health",
        f"scenarios/bad.toml: scenario 'health': unknown key 'iteratons' "
        f"(known: {', '.join(SCENARIO_KEYS)})",
        id="unknown-key",
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets:diagnose"\nthresholds = { p96 = "1s" }\n',
        "health",
        f"scenarios/bad.toml: scenario 'health': unknown threshold key 'p96' "
        f"(known: {', '.join(THRESHOLD_KEYS)})",
        id="unknown-threshold",
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets:diagnose"\nthresholds = { mean = "fast" }\n',
        "health",
        "scenarios/bad.toml: scenario 'health': threshold 'mean': invalid duration 'fast': "
        "expected a number of seconds or a string like '80us', '250ms', '2s', '1.5min'",
        id="bad-unit",
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets:diagnose"\nthresholds = { p95 = "-5ms" }\n',
        "health",
        "scenarios/bad.toml: scenario 'health': threshold 'p95': invalid duration '-5ms'*",
        id="negative-unit",
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets:diagnose"\niterations = 0\n',
        "health",
        "scenarios/bad.toml: scenario 'health': key 'iterations': "
        "expected a whole number from 1 to 1,000,000, got 0",
        id="zero-iterations",
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets:diagnose"\nwarmup = "two"\n',
        "health",
        "scenarios/bad.toml: scenario 'health': key 'warmup': expected a whole number, got 'two'",
        id="wrong-type",
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets:diagnose"\nargs = 3\n',
        "health",
        "scenarios/bad.toml: scenario 'health': key 'args': expected an array, got int 3",
        id="args-not-array",
    ),
    pytest.param(
        "[scenarios.health]\niterations = 3\n",
        "health",
        "scenarios/bad.toml: scenario 'health': key 'target' is missing "
        "('package.module:callable')",
        id="missing-target",
    ),
    pytest.param(
        '[scenarios.health]\ntarget = "aide_targets.diagnose"\n',
        "health",
        "scenarios/bad.toml: scenario 'health': key 'target': expected "
        "'package.module:callable', got 'aide_targets.diagnose'",
        id="target-without-colon",
    ),
    pytest.param(
        "[scenarios]\nhealth = 3\n",
        "health",
        "scenarios/bad.toml: scenario 'health': expected a table, got int 3",
        id="scenario-not-table",
    ),
]


@pytest.mark.parametrize(("text", "item", "message"), BAD_CASES)
@pytest.mark.parametrize("perf", [[], ["--aide-perf"]], ids=["smoke", "perf"])
def test_bad_file_errors_its_item_and_the_rest_runs(
    project: pytest.Pytester, text: str, item: str, message: str, perf: list[str]
) -> None:
    write(project, "bad.toml", text)
    write(project, "good.toml", GOOD)
    result = project.runpytest(*perf, "-rE")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines([message, f"ERROR scenarios/bad.toml::{item} - Failed: *"])
    out = result.stdout.str()
    assert "Traceback" not in out and "pytest_aide/" not in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "no_such_module:fn",
            "scenarios/bad.toml: scenario 'broken': key 'target': cannot import 'no_such_module': "
            "ModuleNotFoundError: No module named 'no_such_module'",
        ),
        (
            "aide_targets:missing",
            "scenarios/bad.toml: scenario 'broken': key 'target': 'aide_targets:missing': "
            "'aide_targets' has no attribute 'missing'",
        ),
        (
            "aide_targets:NOT_CALLABLE",
            "scenarios/bad.toml: scenario 'broken': key 'target': "
            "'aide_targets:NOT_CALLABLE' is not callable (it is int)",
        ),
        (
            "raises_on_import:fn",
            "scenarios/bad.toml: scenario 'broken': key 'target': importing 'raises_on_import' "
            "raised RuntimeError: no configuration found",
        ),
    ],
)
def test_unusable_target_fails_its_scenario_only(
    project: pytest.Pytester, target: str, message: str
) -> None:
    project.makepyfile(raises_on_import="raise RuntimeError('no configuration found')")
    write(project, "bad.toml", f'[scenarios.broken]\ntarget = "{target}"\n')
    write(project, "good.toml", GOOD)
    result = project.runpytest("-rf")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([message, "FAILED scenarios/bad.toml::broken - Failed: *"])
    assert "Traceback" not in result.stdout.str()


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


def test_bundled_scenarios_are_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "scenarios").glob("*.toml")):
        loaded = load_scenario_file(path)
        assert loaded.errors == {}, loaded.errors
        assert loaded.scenarios
    names = {s.name for s in load_scenario_file(root / "scenarios" / "aide.toml").scenarios}
    assert {"system_diagnosis", "system_optimization", "health_monitoring"} <= names
