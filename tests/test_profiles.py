"""Threshold profiles from scenario files and pyproject.toml."""

from __future__ import annotations

import pytest

TARGET = "def work():\n    return sum(i * i for i in range(2000))\n"

SCENARIOS = """
[scenarios.diag]
target = "aide_targets:work"
iterations = 3
thresholds = { mean = "1h" }

[profiles.production.diag]
thresholds = { mean = "1ns" }

[profiles.development.diag]
thresholds = { p95 = "1h" }
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(aide_targets=TARGET)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "aide.toml").write_text(SCENARIOS)
    return pytester


def test_default_profile_uses_the_scenarios_own_limits(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["profile: default; machine: *", "diag * PASS"])


def test_option_selects_a_scenario_file_profile(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf", "--aide-profile", "production")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "diag: mean * > 1.00 ns (limit from profile production)",
            "profile: production (--aide-profile); machine: *",
        ]
    )


def test_aide_env_selects_a_profile(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDE_ENV", "production")
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["profile: production (AIDE_ENV)*"])
    overridden = project.runpytest("--aide-perf", "--aide-profile", "development")
    overridden.assert_outcomes(passed=1)
    overridden.stdout.fnmatch_lines(["diag * mean <= 1.00 h, p95 <= 1.00 h *PASS"])


def test_ini_comes_before_aide_env(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDE_ENV", "development")
    project.makeini("[pytest]\naide_profile = production\n")
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["profile: production (ini aide_profile)*"])


def test_pyproject_profiles_apply_to_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
[tool.aide.profiles.production.test_by_function]
thresholds = { max = "1ns" }

[tool.aide.profiles.production.named]
thresholds = { throughput_min = 1e12 }
"""
    )
    pytester.makepyfile(
        """
import pytest

def test_by_function(aide_timer):
    aide_timer(sum, range(100), iterations=2)

@pytest.mark.aide(name="named", mean="1h")
def test_by_marker_name(aide_timer):
    aide_timer(sum, range(100), iterations=2)

def test_untouched(aide_timer):
    aide_timer(sum, range(100), iterations=2)
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=3)
    result = pytester.runpytest("--aide-perf", "--aide-profile=production")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "test_by_function: max * > 1.00 ns (limit from profile production)",
            "named: throughput * < 1,000,000,000,000.0 ops/s (limit from profile production)",
        ]
    )


def test_pyproject_overrides_scenario_file_profiles(project: pytest.Pytester) -> None:
    project.makepyprojecttoml(
        '[tool.aide.profiles.production.diag]\nthresholds = { mean = "1h" }\n'
    )
    project.runpytest("--aide-perf", "--aide-profile", "production").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("how", "source"), [(["--aide-profile", "prod"], "--aide-profile"), ([], "AIDE_ENV")]
)
def test_unknown_profile_lists_the_known_ones(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: list[str], source: str
) -> None:
    monkeypatch.setenv("AIDE_ENV", "prod")
    result = project.runpytest("--aide-perf", *how)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: unknown aide profile 'prod' (from {source}); did you mean 'production'?"]
    )


def test_unknown_profile_is_ignored_without_perf(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDE_ENV", "staging")
    project.runpytest().assert_outcomes(passed=1)


def test_bad_pyproject_profile_errors_the_checks_and_plain_tests_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml(
        '[tool.aide.profiles.production.test_a]\nthresholds = { p96 = "1s" }\n'
    )
    pytester.makepyfile(
        """
def test_a(aide_timer):
    aide_timer(sum, range(10))

def test_plain():
    pass
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "pyproject.toml: [[]tool.aide[]]: profile 'production': check 'test_a': "
            "unknown threshold key 'p96' (did you mean 'p95'?)"
        ]
    )


def test_scenario_profile_for_an_unknown_scenario(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "aide.toml").write_text(
        SCENARIOS + '\n[profiles.production.daig]\nthresholds = { mean = "1s" }\n'
    )
    result = project.runpytest("--aide-perf")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "scenarios/aide.toml: profile 'production': unknown scenario 'daig' "
            "(did you mean 'diag'?)",
        ]
    )


def test_bad_threshold_in_a_scenario_profile(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "aide.toml").write_text(
        SCENARIOS.replace('mean = "1ns"', 'mean = "soon"')
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "scenarios/aide.toml: profile 'production': scenario 'diag': "
            "threshold 'mean': invalid duration 'soon'*"
        ]
    )
