"""Units: durations, sizes and percentages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_aide.units import (
    UnitError,
    format_count,
    format_duration,
    format_size,
    parse_duration,
    parse_percent,
    parse_size,
    written_unit,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("80us", 80e-6),
        ("80µs", 80e-6),
        ("250ms", 0.25),
        ("2s", 2.0),
        ("1.5min", 90.0),
        ("1h", 3600.0),
        ("500ns", 500e-9),
        (" 2 s ", 2.0),
        ("3", 3.0),
        (2, 2.0),
        (0.5, 0.5),
        ("1e-3s", 1e-3),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("200MB", 200e6),
        ("1.5GiB", 1.5 * 2**30),
        ("512KiB", 512 * 1024),
        ("10kb", 10_000),
        ("64", 64),
        (1024, 1024),
        ("3B", 3),
    ],
)
def test_sizes(text: object, size: float) -> None:
    assert parse_size(text) == pytest.approx(size)


@pytest.mark.parametrize(("text", "fraction"), [("10%", 0.10), (10, 0.10), ("2.5 %", 0.025)])
def test_percentages(text: object, fraction: float) -> None:
    assert parse_percent(text) == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("parse", "bad", "message"),
    [
        (parse_duration, "fast", "invalid duration 'fast': expected a number of seconds"),
        (parse_duration, "-5ms", "invalid duration '-5ms'"),
        (parse_duration, "1e999s", "invalid duration '1e999s'"),
        (parse_duration, "5 parsecs", "invalid duration '5 parsecs'"),
        (parse_duration, True, "invalid duration True"),
        (parse_duration, [1], "invalid duration [1]"),
        (parse_duration, float("nan"), "invalid duration nan"),
        (parse_size, "200 bananas", "invalid size '200 bananas': expected a number of bytes"),
        (parse_size, "-1MB", "invalid size '-1MB'"),
        (parse_percent, "ten%", "invalid percentage 'ten%': expected a percentage like '10%'"),
        (parse_percent, "10s", "invalid percentage '10s'"),
    ],
)
def test_bad_values_quote_the_value_and_say_what_is_accepted(
    parse: object, bad: object, message: str
) -> None:
    with pytest.raises(UnitError) as excinfo:
        parse(bad)  # type: ignore[operator]
    assert message in str(excinfo.value)


def test_formatting_uses_the_unit_of_the_limit() -> None:
    assert format_duration(2.31) == "2.31 s"
    assert format_duration(0.3, like=0.25) == "300.00 ms"
    assert format_duration(80e-6) == "80.00 us"
    assert format_duration(2.5, like=1e-3) == "2500.00 ms"
    assert format_duration(125.86e-6, like=1e-9) == "125.86 us"
    assert format_duration(5400.0) == "1.50 h"
    assert format_duration(90.0) == "1.50 min"
    assert format_size(50 * 2**20) == "50.00 MiB"
    assert format_size(12) == "12 B"


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_duration_units_scale_consistently(value: float) -> None:
    assert parse_duration(f"{value!r}ms") == pytest.approx(value / 1000, rel=1e-12)
    assert parse_duration(f"{value!r}us") == pytest.approx(value / 1e6, rel=1e-12)
    assert parse_duration(value) == value


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_size_units_scale_consistently(value: float) -> None:
    assert parse_size(f"{value!r}KiB") == pytest.approx(value * 1024, rel=1e-12)
    assert parse_size(f"{value!r}MB") == pytest.approx(value * 1e6, rel=1e-12)


@given(st.floats(max_value=-1e-300, allow_nan=False))
def test_negative_values_are_rejected(value: float) -> None:
    for parse in (parse_duration, parse_size, parse_percent):
        with pytest.raises(UnitError):
            parse(value)


@given(st.floats(min_value=1e-9, max_value=1e5, allow_nan=False))
def test_formatted_durations_parse_back(value: float) -> None:
    text = format_duration(value)
    assert parse_duration(text.replace(" ", "")) == pytest.approx(value, rel=5e-3, abs=5e-12)
    assert math.isfinite(parse_duration(text.replace(" ", "")))


@pytest.mark.parametrize(
    ("written", "unit"),
    [
        ("1MB", "MB"),
        ("8 mb", "MB"),
        ("512KiB", "KiB"),
        ("250ms", "ms"),
        ("80µs", "us"),
        ("2sec", "s"),
        (2, None),
        ("2", None),
        (1.5, None),
    ],
)
def test_the_unit_a_value_was_written_in(written: object, unit: str | None) -> None:
    assert written_unit(written) == unit


def test_a_size_reads_back_in_the_units_it_was_written_in() -> None:
    assert format_size(1_000_000, "MB") == "1.00 MB"
    assert format_size(8_000_000, "MB") == "8.00 MB"
    assert format_size(1_200_000, "MB") == "1.20 MB"
    assert format_size(3_500_000_000, "MB") == "3500.00 MB"
    assert format_size(3.5e13, "MB") == "35.00 TB"  # too many digits: the same family
    assert format_size(1_000_000, "kB") == "1000.00 kB"
    assert format_size(1_000_000) == "976.56 KiB"  # a plain number: binary, as before
    assert format_size(1_048_576, "MiB") == "1.00 MiB"


def test_a_duration_reads_back_in_the_units_it_was_written_in() -> None:
    assert format_duration(0.5, unit="s") == "0.50 s"
    assert format_duration(0.5) == "500.00 ms"
    assert format_duration(0.3125, 0.25, unit="ms") == "312.50 ms"
    assert format_duration(125e-6, 1e-9, unit="ns") == "125.00 us"  # would need 6 digits


@pytest.mark.parametrize(
    ("count", "shown"),
    [(87, "87 instr"), (1234, "1.23 k instr"), (999_999_999, "1 G instr"), (999_600, "1 M instr")],
)
def test_counts_round_into_the_next_prefix(count: float, shown: str) -> None:
    assert format_count(count) == shown
