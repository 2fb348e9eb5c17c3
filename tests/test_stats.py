"""Summary statistics: properties that hold for any samples."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.stats import (
    _t_quantile,
    block_medians,
    paired_ratio_estimate,
    percentile,
    ratio_estimate,
    run_ratio_estimate,
    runs_ratio_estimate,
    stddev,
    summarize,
)
from pytest_aide.verdict import compare

samples = st.lists(
    st.floats(min_value=1e-9, max_value=1e4, allow_nan=False), min_size=1, max_size=200
)


@given(samples)
def test_every_statistic_lies_within_min_and_max(values: list[float]) -> None:
    summary = summarize(values)
    for key in ("mean", "median", "p95", "p99"):
        assert summary["min"] <= summary[key] <= summary["max"], key


@given(samples, st.floats(min_value=0, max_value=100))
def test_percentiles_lie_within_min_and_max(values: list[float], q: float) -> None:
    assert min(values) <= percentile(values, q) <= max(values)


@given(st.floats(min_value=1e-9, max_value=1e4), st.integers(min_value=1, max_value=100))
def test_constant_samples_have_zero_spread(value: float, count: int) -> None:
    summary = summarize([value] * count)
    assert summary["stddev"] == 0.0
    assert summary["min"] == summary["max"] == summary["median"] == summary["p95"] == value
    assert summary["mean"] == value


@given(samples, st.randoms())
def test_order_of_samples_does_not_matter(values: list[float], rng: random.Random) -> None:
    shuffled = list(values)
    rng.shuffle(shuffled)
    assert summarize(shuffled) == pytest.approx(summarize(values), rel=1e-12)


@given(samples)
def test_percentiles_are_monotonic(values: list[float]) -> None:
    figures = [percentile(values, q) for q in (0, 25, 50, 75, 95, 99, 100)]
    assert figures == sorted(figures)


def test_known_values() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(4.8)
    assert percentile([10.0, 20.0], 50) == 15.0
    assert stddev(values) == pytest.approx(1.5811388)
    assert stddev([7.0]) == 0.0


def test_empty_samples_are_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        summarize([])
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        percentile([1.0], 101)


# --- the ratio estimate behind the regression gate ---

positive = st.lists(st.floats(min_value=1e-6, max_value=1e3), min_size=1, max_size=40)


def _brute_force(old: list[float], new: list[float]) -> tuple[float, list[float]]:
    diffs = sorted(math.log(y) - math.log(x) for x in old for y in new)
    n = len(diffs)
    middle = diffs[n // 2] if n % 2 else (diffs[n // 2 - 1] + diffs[n // 2]) / 2
    return math.exp(middle), diffs


@given(positive, positive)
def test_ratio_is_the_median_of_all_pairwise_log_ratios(old: list[float], new: list[float]):
    expected, _ = _brute_force(old, new)
    assert ratio_estimate(old, new).ratio == pytest.approx(expected, rel=1e-9)


@given(positive, positive)
def test_swapping_old_and_new_inverts_the_ratio_and_interval(old, new) -> None:
    forward, backward = ratio_estimate(old, new), ratio_estimate(new, old)
    assert backward.ratio == pytest.approx(1 / forward.ratio, rel=1e-9)
    assert backward.low == pytest.approx(1 / forward.high, rel=1e-9)
    assert backward.high == pytest.approx(1 / forward.low, rel=1e-9)


@given(positive.filter(lambda xs: len(xs) >= 2), st.floats(min_value=0.1, max_value=10))
def test_a_constant_factor_is_recovered(old: list[float], factor: float) -> None:
    estimate = ratio_estimate(old, [x * factor for x in old])
    assert estimate.ratio == pytest.approx(factor, rel=1e-9)
    assert estimate.low <= estimate.ratio <= estimate.high


def test_known_interval_for_ten_against_ten() -> None:
    old = [1.0 + i / 100 for i in range(10)]
    new = [1.2 + i / 70 for i in range(10)]
    estimate = ratio_estimate(old, new)
    _, diffs = _brute_force(old, new)
    # Mann-Whitney critical value for n = m = 10 at 95 %: the 24th and 77th of 100.
    assert estimate.low == pytest.approx(math.exp(diffs[23]))
    assert estimate.high == pytest.approx(math.exp(diffs[76]))
    assert (estimate.n_old, estimate.n_new, estimate.confidence) == (10, 10, 0.95)


def test_identical_samples_give_ratio_one() -> None:
    samples = [0.9, 1.0, 1.1, 1.05, 0.95]
    estimate = ratio_estimate(samples, list(reversed(samples)))
    assert estimate.ratio == pytest.approx(1.0)
    assert estimate.low < 1.0 < estimate.high


def test_ratio_needs_both_sides() -> None:
    with pytest.raises(ValueError, match="both sides"):
        ratio_estimate([], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        ratio_estimate([1.0], [1.0], confidence=0.5)


# --- the paired ratio behind --aide-against ---

pairs = st.lists(
    st.tuples(st.floats(min_value=1e-6, max_value=1e3), st.floats(min_value=1e-6, max_value=1e3)),
    min_size=1,
    max_size=40,
)


def _walsh(old: list[float], new: list[float]) -> list[float]:
    ds = [math.log(b) - math.log(a) for a, b in zip(old, new, strict=True)]
    return sorted((ds[i] + ds[j]) / 2 for i in range(len(ds)) for j in range(i, len(ds)))


@given(pairs)
def test_paired_ratio_is_the_median_walsh_average(values: list[tuple[float, float]]) -> None:
    old, new = [a for a, _ in values], [b for _, b in values]
    walsh = _walsh(old, new)
    n = len(walsh)
    middle = walsh[n // 2] if n % 2 else (walsh[n // 2 - 1] + walsh[n // 2]) / 2
    assert paired_ratio_estimate(old, new).ratio == pytest.approx(math.exp(middle), rel=1e-9)


@given(pairs)
def test_paired_swap_inverts(values: list[tuple[float, float]]) -> None:
    old, new = [a for a, _ in values], [b for _, b in values]
    forward, backward = paired_ratio_estimate(old, new), paired_ratio_estimate(new, old)
    assert backward.ratio == pytest.approx(1 / forward.ratio, rel=1e-9)
    assert backward.low == pytest.approx(1 / forward.high, rel=1e-9)
    assert backward.high == pytest.approx(1 / forward.low, rel=1e-9)


@given(positive, st.floats(min_value=0.1, max_value=10))
def test_paired_constant_factor_is_recovered_exactly(old: list[float], factor: float) -> None:
    estimate = paired_ratio_estimate(old, [x * factor for x in old])
    assert estimate.ratio == pytest.approx(factor, rel=1e-9)
    assert estimate.low == pytest.approx(factor, rel=1e-9)
    assert estimate.high == pytest.approx(factor, rel=1e-9)


def test_paired_known_interval_for_ten_pairs() -> None:
    old = [1.0 + i / 50 for i in range(10)]
    new = [x * (1.08 + (-1) ** i * 0.01 * i) for i, x in enumerate(old)]
    walsh = _walsh(old, new)
    # Normal approximation of the signed-rank statistic, n = 10 at 95 %: the 8th and
    # 48th of 55 Walsh averages (one wider, i.e. calmer, than the exact table's 9th..47th).
    estimate = paired_ratio_estimate(old, new)
    assert estimate.low == pytest.approx(math.exp(walsh[7]))
    assert estimate.high == pytest.approx(math.exp(walsh[47]))


def test_paired_needs_equal_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        paired_ratio_estimate([1.0, 2.0], [1.0])


def test_block_medians_keep_time_order_and_short_runs() -> None:
    samples = [float(i) for i in range(100)]
    blocks = block_medians(samples, 20)
    assert len(blocks) == 20 and blocks == sorted(blocks)
    assert blocks[0] == 2.0 and blocks[-1] == 97.0
    assert block_medians([3.0, 1.0], 20) == [3.0, 1.0]


def test_many_rounds_of_one_process_are_not_many_processes() -> None:
    # Two runs, each tight inside (100k rounds), 3 % apart: the drift between two
    # processes, not evidence of a change. The interval must allow for it.
    rng = random.Random(7)
    old = [1.0 + rng.gauss(0, 0.002) for _ in range(100_000)]
    new = [1.03 + rng.gauss(0, 0.002) for _ in range(100_000)]
    estimate = run_ratio_estimate(old, new, drift=0.05)
    assert 1.02 < estimate.ratio < 1.04
    assert estimate.low < 1.0 < estimate.high
    assert (estimate.n_old, estimate.n_new) == (100_000, 100_000)
    # Without drift the interval is that of 20 block medians a side: still narrow.
    tight = run_ratio_estimate(old, new, drift=0.0)
    assert 1.0 < tight.low < tight.high < 1.06


def test_a_large_change_stays_significant_through_the_drift() -> None:
    rng = random.Random(3)
    old = [1.0 + rng.gauss(0, 0.01) for _ in range(500)]
    new = [1.5 + rng.gauss(0, 0.01) for _ in range(500)]
    assert run_ratio_estimate(old, new, drift=0.05).low > 1.2


def test_one_sample_a_side_is_no_verdict() -> None:
    comparison = compare("r", [1.0], [1.5], tolerance=0.1)
    assert comparison.status == "undecided"
    assert comparison.undecided == "not enough samples to compare (1 vs 1)"
    assert compare("r", [1.0] * 3, [1.5] * 3, tolerance=0.1).undecided is None


@pytest.mark.parametrize(
    ("confidence", "dof", "exact"),
    [(0.95, 3, 3.182), (0.95, 4, 2.776), (0.95, 6, 2.447), (0.99, 3, 5.841), (0.90, 5, 2.015)],
)
def test_t_quantile_matches_the_table(confidence: float, dof: int, exact: float) -> None:
    assert _t_quantile(confidence, dof) == pytest.approx(exact, rel=0.01)


def test_runs_are_the_unit_of_evidence_for_a_pooled_baseline() -> None:
    # Three saved runs within 1 %: this run 3 % off is drift, 40 % off is a change.
    runs = [1.00, 1.01, 0.99]
    assert runs_ratio_estimate(runs, 1.03).low < 1.0
    slow = runs_ratio_estimate(runs, 1.40)
    assert slow.low > 1.2 and slow.ratio == pytest.approx(1.40, rel=0.001)
    assert (slow.n_old, slow.n_new) == (3, 1)


def test_an_outlying_saved_run_widens_the_interval() -> None:
    # One of three saved runs was 40 % slow (a busy spell): the spread says the
    # machine drifts that much, so a normal run is not an improvement.
    steady = runs_ratio_estimate([1.0, 1.0, 1.0], 0.8)
    wild = runs_ratio_estimate([1.0, 1.0, 1.4], 0.8)
    assert steady.high < 1.0
    assert wild.high > 1.0 and wild.high - wild.low > steady.high - steady.low


@given(
    st.lists(st.floats(min_value=1e-7, max_value=10.0), min_size=2, max_size=5),
    st.floats(min_value=0.1, max_value=10.0),
)
def test_runs_estimate_scales_with_this_run(runs: list[float], factor: float) -> None:
    base = runs_ratio_estimate(runs, runs[0])
    moved = runs_ratio_estimate(runs, runs[0] * factor)
    assert moved.ratio == pytest.approx(base.ratio * factor, rel=1e-9)
    assert moved.low <= moved.ratio <= moved.high


def test_a_pooled_baseline_judges_one_sample_runs() -> None:
    # pedantic(rounds=1) tests: one sample per run, but five saved runs.
    comparison = compare("r", [1.0], [1.5], tolerance=0.1, runs=[1.0, 1.02, 0.98, 1.01, 0.99])
    assert comparison.status == "regressed" and comparison.baseline_runs == 5
    assert "(5 runs)" in comparison.line()
