"""The terminal summary fits the terminal it is printed on, and colours statuses where it can."""

from __future__ import annotations

import re

import pytest

SUITE = """
import pytest

def work(n=2000):
    return sum(i * i for i in range(n))

@pytest.mark.aide(name="a_check_whose_name_is_rather_long_for_a_table_column", mean="10s",
                  p95="12s", max="20s", regression_max="400%")
def test_long_name(aide_timer):
    aide_timer(work, iterations=8, warmup=1)

@pytest.mark.aide(mean="1ns")
def test_breaks(aide_timer):
    aide_timer(work, iterations=3, warmup=0)

@pytest.mark.aide(p95="10s", error_rate_max="5%")
def test_served(aide_load):
    aide_load(work, concurrency=2, requests=6)
"""

_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _table(output: str) -> list[str]:
    """The summary table's lines: from the header row to the blank line after the rows."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("check "))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return lines[start:end]


def _run(pytester: pytest.Pytester, columns: int, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_width_suite=SUITE)
    pytester._monkeypatch.setenv("COLUMNS", str(columns))
    return pytester.runpytest("--aide-perf", "-p", "no:randomly", "--aide-confirm", "0", *args)


@pytest.mark.parametrize("columns", [80, 120, 200])
def test_the_table_fits_the_terminal(pytester: pytest.Pytester, columns: int) -> None:
    result = _run(pytester, columns)
    result.assert_outcomes(passed=2, failed=1)
    table = _table(result.stdout.str())
    assert max(len(line) for line in table) <= columns
    rows = [line for line in table if line.rstrip().endswith(("PASS", "FAIL"))]
    assert len(rows) == 3  # every row whole: its status on its own line, never wrapped
    assert any(line.rstrip().endswith("FAIL") and "breaks" in line for line in table)
    header = table[0].split()
    assert "median" in header and "status" in header
    if columns >= 200:  # the full table is over 210 wide: min, perhaps max, are left out
        assert {"p95", "ops/s", "limits"} <= set(header)
        assert "min" not in header
    if columns == 80:
        assert "min" not in header and "max" not in header


def test_a_narrow_terminal_folds_limits_and_names_onto_lines_of_their_own(
    pytester: pytest.Pytester,
) -> None:
    result = _run(pytester, 60)
    table = _table(result.stdout.str())
    assert max(len(line) for line in table) <= 60
    assert "a_check_whose_name_is_rather_long_for_a_table_column" in table
    assert any(line.strip().startswith("limits: mean <= 10.00 s") for line in table)


def test_statuses_are_coloured_only_where_colour_is_shown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    coloured = _run(pytester, 200, "--color=yes").stdout.str()
    assert "\x1b[32mPASS" in coloured
    assert re.search(r"\x1b\[31m(\x1b\[1m)?FAIL", coloured)
    assert max(len(_ESCAPE.sub("", line)) for line in _table(coloured)) <= 200
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _run(pytester, 200).stdout.str()
    assert "\x1b[" not in "\n".join(_table(plain))


def test_a_sweep_row_is_named_after_its_check_and_says_its_knee(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_sweep_suite="""
def work():
    return sum(range(500))

def test_sweep(aide_load):
    aide_load(work, concurrency=[1, 2], requests=6, name="levels")
"""
    )
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["profile: default; machine: *", "levels (knee [12]) * PASS"])
    assert "levels[" not in result.stdout.str()


def test_every_summary_line_fits_and_long_ones_go_on_indented(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_notes="""
import pytest

def work():
    return sum(range(200))

@pytest.mark.aide(name="check_with_a_long_name_that_makes_every_note_about_it_long_too")
def test_noted(aide_timer):
    aide_timer(work, iterations=3, warmup=0)
"""
    )
    pytester.makepyprojecttoml(
        '[tool.aide.checks."tests/a/pattern/that/names/a/file/nobody/wrote/test_missing.py"]\n'
    )
    pytester._monkeypatch.setenv("COLUMNS", "60")
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly", ".")
    lines = result.stdout.str().split("aide performance summary")[1].splitlines()[1:]
    assert lines and max(len(line) for line in lines) <= 60, lines
    system = next(i for i, line in enumerate(lines) if line.startswith("system at start:"))
    assert lines[system + 1].startswith("    ")  # its figures go on, indented
    everything = result.stdout.lines
    warning = next(i for i, line in enumerate(everything) if line.startswith("warning: pyproj"))
    assert max(len(line) for line in everything[warning : warning + 3]) <= 60
    assert everything[warning + 1].startswith("    ")
