"""Summary statistics: properties that hold for any samples."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.stats import percentile, stddev, summarize

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
