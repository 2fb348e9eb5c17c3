"""Result types: attributes of the public contract and dict round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.results import MAX_STORED_SAMPLES, TimingResult, result_from_dict

CONTRACT = [
    "name",
    "samples",
    "mean",
    "median",
    "min",
    "max",
    "stddev",
    "p95",
    "p99",
    "throughput",
    "iterations",
    "value",
]


def test_timing_result_has_every_contract_attribute() -> None:
    result = TimingResult("diag", [0.5, 1.0, 1.5], value="v")
    for attribute in CONTRACT:
        assert hasattr(result, attribute), attribute
    assert result.mean == 1.0
    assert result.throughput == 1.0
    assert result.iterations == 3
    assert result.value == "v"


@given(
    st.text(min_size=1, max_size=20),
    st.lists(st.floats(min_value=1e-9, max_value=1e3), min_size=1, max_size=50),
    st.integers(min_value=0, max_value=10),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(["enabled", "disabled"]),
    st.sampled_from(["perf", "smoke"]),
)
def test_to_dict_round_trips_through_json(
    name: str, samples: list[float], warmup: int, calls: int, gc: str, mode: str
) -> None:
    result = TimingResult(name, samples, warmup=warmup, calls_per_sample=calls, gc=gc, mode=mode)
    data = json.loads(json.dumps(result.to_dict()))
    again = result_from_dict(data)
    assert again == result
    assert again.to_dict() == result.to_dict()


def test_unknown_kind_is_named() -> None:
    with pytest.raises(ValueError, match="unknown result kind 'sound'"):
        result_from_dict({"kind": "sound"})


def test_a_result_needs_samples() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        TimingResult("x", [])


def test_a_long_timing_is_written_thinned_with_the_statistics_of_every_sample() -> None:
    samples = [1e-6 * (1 + (i % 97) / 100) for i in range(200_000)]
    result = TimingResult("fast", samples, calls_per_sample=40)
    data = result.to_dict()
    assert len(data["samples"]) == MAX_STORED_SAMPLES and data["samples_total"] == 200_000
    assert data["samples"][0] == samples[0] and data["samples"][-1] == samples[-1]
    back = TimingResult.from_dict(json.loads(json.dumps(data)))
    assert back.iterations == 200_000
    for key in ("mean", "median", "min", "max", "p95", "p99", "stddev"):
        assert getattr(back, key) == getattr(result, key)
    short = TimingResult.from_dict(TimingResult("s", [1.0, 2.0]).to_dict())
    assert short.samples_total is None and short.iterations == 2
