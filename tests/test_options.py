"""Command-line options and their ini twins."""

from __future__ import annotations

import pytest


def test_help_lists_the_aide_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "pytest-aide: performance measurement and gates:",
            "*--aide-perf*",
            "*--aide-iterations=N*",
            "*--aide-warmup=N*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*aide_perf (bool):*", "*aide_iterations (string):*", "*aide_scenarios (linelist):*"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--aide-iterations", "0"], "invalid count '0': expected a whole number >= 1"),
        (["--aide-iterations", "many"], "invalid count 'many': expected a whole number >= 1"),
        (["--aide-warmup", "-1"], "invalid count '-1': expected a whole number >= 0"),
        (["--aide-drift", "lots"], "invalid drift 'lots': expected a percentage like '10%' or 10"),
    ],
)
def test_bad_option_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naide_iterations = lots\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*ini option 'aide_iterations': invalid count 'lots': expected a whole number >= 1*"]
    )


def test_summary_only_under_perf_and_only_with_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    assert "aide performance summary" not in result.stdout.str()
