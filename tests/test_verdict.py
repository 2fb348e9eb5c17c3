"""Verdicts: thresholds against results, decided without a clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.results import TimingResult
from pytest_aide.verdict import (
    THRESHOLD_KEYS,
    Breach,
    Evidence,
    ThresholdError,
    compare,
    decide,
    in_order,
    judge,
    parse_thresholds,
)


def test_broken_limit_gives_one_readable_line() -> None:
    result = TimingResult("system_diagnosis", [2.31] * 3)
    verdict = judge("system_diagnosis", [result], parse_thresholds({"mean": "2s"}))
    assert not verdict.passed
    assert verdict.status == "FAIL"
    assert verdict.lines() == ["system_diagnosis: mean 2.31 s > 2.00 s"]


def test_lower_bound_on_throughput() -> None:
    result = TimingResult("load", [0.05] * 4)  # 20 ops/s
    verdict = judge("load", [result], parse_thresholds({"throughput_min": 50}))
    assert verdict.lines() == ["load: throughput 20.0 ops/s < 50.0 ops/s"]


def test_origin_of_a_limit_is_named() -> None:
    result = TimingResult("d", [3.0])
    thresholds = parse_thresholds({"mean": "1s"}, origin="profile production")
    line = judge("d", [result], thresholds).lines()[0]
    assert line == "d: mean 3.00 s > 1.00 s (limit from profile production)"


def test_every_result_is_checked_and_passing_limits_pass() -> None:
    fast, slow = TimingResult("a", [0.1]), TimingResult("a#2", [0.3])
    verdict = judge("a", [fast, slow], parse_thresholds({"max": "200ms", "p99": "1s"}))
    assert [b.subject for b in verdict.breaches] == ["a#2"]
    assert judge("a", [fast], parse_thresholds({"max": "200ms"})).passed


def test_a_limit_nothing_measured_is_a_problem() -> None:
    verdict = judge("t", [], parse_thresholds({"mean": "1s"}))
    assert verdict.lines() == ["t: threshold 'mean' is set but nothing measured 'mean'"]


def test_an_unknown_key_gets_the_nearest_known_one_or_the_list() -> None:
    with pytest.raises(ThresholdError) as excinfo:
        parse_thresholds({"p96": "1s"})
    assert str(excinfo.value) == "unknown threshold key 'p96' (did you mean 'p95'?)"
    with pytest.raises(ThresholdError) as excinfo:
        parse_thresholds({"speed": "1s"})
    known = ", ".join(THRESHOLD_KEYS)
    assert str(excinfo.value) == f"unknown threshold key 'speed' (known: {known})"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mean": "fast"}, "threshold 'mean': invalid duration 'fast'"),
        ({"p95": -1}, "threshold 'p95': invalid duration -1"),
        ({"throughput_min": "lots"}, "threshold 'throughput_min': invalid number 'lots'"),
    ],
)
def test_bad_values_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        parse_thresholds(raw)


@given(
    st.lists(st.floats(min_value=1e-6, max_value=10), min_size=1, max_size=30),
    st.floats(min_value=1e-6, max_value=10),
    st.sampled_from(["mean", "median", "min", "max", "p95", "p99"]),
)
def test_upper_bounds_agree_with_the_statistic(
    samples: list[float], limit: float, key: str
) -> None:
    result = TimingResult("r", samples)
    verdict = judge("r", [result], parse_thresholds({key: limit}))
    assert verdict.passed == (result.metrics()[key] <= limit)


# --- comparison against a baseline ---

BASE = [1.0 + i / 1000 for i in range(30)]


def _comparison(factor: float, tolerance: float = 0.10, gating: bool = True):
    from pytest_aide.verdict import compare

    return compare(
        "diag",
        BASE,
        [x * factor for x in BASE],
        tolerance=tolerance,
        baseline_date="2026-11-20",
        gating=gating,
    )


def test_regression_needs_significance_and_the_tolerance() -> None:
    assert _comparison(1.30).status == "regressed"
    assert _comparison(1.05).status == "unchanged"  # significant, within tolerance
    assert _comparison(1.30, tolerance=0.5).status == "unchanged"
    assert _comparison(0.70).status == "improved"
    assert _comparison(1.0).status == "unchanged"


def test_regression_line_reads_like_the_contract() -> None:
    line = _comparison(1.235).line()
    assert line.startswith("diag: regressed +23.5 % (95 % CI +")
    assert line.endswith(" %) vs baseline of 2026-11-20, tolerance 10 %")


def test_only_gating_regressions_fail_a_verdict() -> None:
    from pytest_aide.verdict import Verdict

    assert not Verdict(comparisons=[_comparison(1.3)]).passed
    assert Verdict(comparisons=[_comparison(1.3)]).status == "REGRESSED"
    informative = Verdict(comparisons=[_comparison(1.3, gating=False)])
    assert informative.passed and informative.status == "PASS"
    assert Verdict(comparisons=[_comparison(0.5)]).status == "IMPROVED"


def test_regression_max_is_a_percentage_key() -> None:
    thresholds = parse_thresholds({"regression_max": "15%"})
    assert thresholds["regression_max"].limit == pytest.approx(0.15)
    assert judge("x", [], thresholds).passed  # tunes the comparison, bounds no metric


def _evidence(**extra: object) -> Evidence:
    result = TimingResult("diag", [1.0, 1.2, 1.4])
    return Evidence("diag", [result], parse_thresholds({"mean": "1s"}), **extra)  # type: ignore[arg-type]


def test_decide_is_the_thresholds_then_the_gathered_evidence() -> None:
    slower = compare("diag", [1.0] * 20, [1.5] * 20, tolerance=0.1, runs=[1.0, 1.01, 0.99])
    verdict = decide(
        _evidence(comparisons=[slower], problems=["diag: bad baseline"], notes=["diag: fyi"])
    )
    lines = verdict.lines()
    assert lines[:2] == ["diag: mean 1.20 s > 1.00 s", "diag: bad baseline"]
    assert len(lines) == 3 and lines[2].startswith("diag: regressed +50.0 % (95 % CI")
    assert verdict.notes == ["diag: fyi"] and verdict.status == "FAIL"


def test_decide_a_timeout_alone_fails_the_check() -> None:
    verdict = decide(_evidence(timed_out="diag: timed out", problems=["other"]))
    assert verdict.problems == ["diag: timed out"] and not verdict.breaches


def test_decide_names_why_nothing_was_measured_first() -> None:
    evidence = Evidence("b", [], {}, problems=["b: later"], unmeasured="b: benchmark disabled")
    assert decide(evidence).problems == ["b: benchmark disabled", "b: later"]
    measured = _evidence(unmeasured="never shown")
    assert "never shown" not in decide(measured).problems


def test_limits_read_in_the_units_they_were_written_in() -> None:
    thresholds = parse_thresholds(
        {"memory_peak_max": "1MB", "leaked_max": "512KiB", "mean": "0.5s", "p95": "250ms"}
    )
    assert [thresholds[k].describe() for k in in_order(thresholds)] == [
        "mean <= 0.50 s",
        "p95 <= 250.00 ms",
        "memory_peak <= 1.00 MB",
        "leaked <= 512.00 KiB",
    ]
    line = Breach("peak", thresholds["memory_peak_max"], 1_200_000).line()
    assert line == "peak: memory_peak 1.20 MB > 1.00 MB"


def test_limits_come_in_a_fixed_order_whatever_order_they_were_written_in() -> None:
    keys = ["regression_max", "leaked_max", "p95", "throughput_min", "mean", "error_rate_max"]
    assert in_order(keys) == [
        "mean",
        "p95",
        "throughput_min",
        "error_rate_max",
        "leaked_max",
        "regression_max",
    ]
    assert in_order(reversed(keys)) == in_order(keys)
