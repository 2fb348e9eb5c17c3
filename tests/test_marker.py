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
