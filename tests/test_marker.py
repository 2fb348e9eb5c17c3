"""The aide marker: thresholds enforced under --aide-perf, validated in both modes."""

from __future__ import annotations

import pytest

TESTS = """
import pytest

def work():
    return sum(i * i for i in range(3000))

@pytest.mark.aide(mean="1ns")
def test_too_slow(aide_timer):
    aide_timer(work, iterations=3)

@pytest.mark.aide(name="generous", mean="1h", p95="1h", throughput_min=0.001)
def test_fine(aide_timer):
    aide_timer(work, iterations=3)
"""


def test_broken_threshold_fails_with_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--aide-perf", "--strict-markers")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_too_slow _*",
            "test_too_slow: mean * > 1.00 ns",
            "*aide performance summary*",
            "test_too_slow * mean <= 1.00 ns * FAIL",
            "generous * mean <= 1.00 h, p95 <= 1.00 h, throughput >= 0.001 ops/s*PASS",
            "checks: 2, passed: 1, failed: 1, success rate: 50.0%",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_thresholds_are_not_enforced_without_perf(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=2)
    assert "aide performance summary" not in result.stdout.str()


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.aide(name=None, **thresholds)*"])


def test_marker_without_measurement_fails_under_perf(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.aide(mean="1s")
def test_nothing_measured():
    pass
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["test_nothing_measured: threshold 'mean' is set but nothing measured 'mean'"]
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_class_level_marker_applies(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.aide(max="1ns")
class TestSlow:
    def test_a(self, aide_timer):
        aide_timer(sum, range(100), iterations=2)
"""
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["test_a: max * > 1.00 ns"])


SELECTION = """
import pytest

def test_plain():
    pass

def test_timer(aide_timer):
    aide_timer(lambda: None, iterations=3, warmup=0)

@pytest.mark.aide(mean="1h")
def test_marked():
    pass

def test_bench(benchmark):
    benchmark(lambda: None)
"""
CHECKS = [
    "scenarios/s.toml::ok",
    "test_sel.py::test_timer",
    "test_sel.py::test_marked",
    "test_sel.py::test_bench",  # a benchmark the suite declares: a check under --aide-perf
]
OTHERS = ["test_sel.py::test_plain"]


@pytest.mark.parametrize(
    ("args", "selected"),
    [
        (("--aide-only",), CHECKS),
        (("--aide-skip",), OTHERS),
        (("-o", "aide_only=true"), CHECKS),
        (("-m", "aide"), CHECKS),
        (("-m", "not aide"), OTHERS),
    ],
)
def test_performance_checks_are_selected_whatever_their_form(
    pytester: pytest.Pytester, args: tuple[str, ...], selected: list[str]
) -> None:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(mod="def work():\n    return 1\n", test_sel=SELECTION)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "s.toml").write_text(
        '[scenarios.ok]\ntarget = "mod:work"\niterations = 3\nwarmup = 0\n'
    )
    result = pytester.runpytest("--co", "-q", "-p", "no:randomly", "--aide-perf", *args)
    assert [line for line in result.outlines if "::" in line] == selected
    outcomes = pytester.runpytest("-p", "no:randomly", "--aide-perf", *args).parseoutcomes()
    # test_marked measures nothing, so it fails under --aide-perf (and test_bench under -n,
    # where pytest-benchmark switches itself off); they ran all the same
    ran = outcomes.get("passed", 0) + outcomes.get("failed", 0)
    assert (ran, outcomes.get("deselected", 0)) == (len(selected), 5 - len(selected))


def test_only_and_skip_together_are_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--aide-only", "--aide-skip")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --aide-only runs only the performance checks; --aide-skip deselects them"]
    )
