"""Existing pytest-benchmark suites get aide's gate without editing a test; no silent no-op."""

from __future__ import annotations

import pytest

BENCH = """
def work(n=2000):
    return sum(i * i for i in range(n))

def test_bench_small(benchmark):
    benchmark(work, 200)

def test_bench_large(benchmark):
    benchmark(work, 4000)

def test_plain():
    assert work(10) == 285
"""


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest-benchmark switches itself off when it sees this (set when the suite runs under -n).
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _pyproject(pytester: pytest.Pytester, aide: str) -> None:
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n\n{aide}")


def test_patterns_attach_the_gate_and_thresholds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=BENCH)
    _pyproject(
        pytester,
        '[tool.aide.checks."test_bench.py::test_bench_*"]\n'
        'thresholds = { median = "1h" }\n\n'
        '[tool.aide.checks."test_bench.py::test_bench_large"]\n'
        'thresholds = { median = "1ns" }\n',
    )
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_bench_large: median * > 1.00 ns (limit from ?tool.aide.checks?)",
            "test_bench_small * median <= 1.00 h * PASS",
            "checks: 2, passed: 1, failed: 1, success rate: 50.0%",
        ]
    )
    assert "test_plain" not in result.stdout.str().split("aide performance summary")[1]


def test_a_pattern_without_thresholds_only_attaches_the_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=BENCH)
    _pyproject(pytester, '[tool.aide.checks."*"]\n')
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["checks: 2, passed: 2, failed: 0, success rate: 100.0%"])


def test_a_profile_entry_makes_an_unmarked_benchmark_test_a_check(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_bench=BENCH)
    _pyproject(
        pytester,
        '[tool.aide.profiles.ci.test_bench_small]\nthresholds = { mean = "1ns" }\n',
    )
    result = pytester.runpytest("--aide-perf", "--aide-profile", "ci", "--benchmark-max-time=0.05")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["test_bench_small: mean * > 1.00 ns (limit from profile ci)"])


def test_a_bad_pattern_table_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=BENCH)
    _pyproject(pytester, '[tool.aide.checks."test_*"]\nthresholds = { p96 = "1s" }\n')
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05")
    result.stdout.fnmatch_lines(
        [
            "*pyproject.toml: ?tool.aide.checks?: pattern 'test_*': unknown threshold key 'p96'*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_benchmark_suite_is_checked_without_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=BENCH)
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "benchmarks as the suite wrote them: 2 using a benchmark fixture",
            "checks: 2, passed: 2, failed: 0, success rate: 100.0%",
        ]
    )
    assert "measured nothing" not in result.stdout.str()


def test_nothing_to_measure_says_so_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    # One message: on a terminal narrower than it, it goes on over an indented line.
    out = " ".join(line.strip() for line in result.stdout.lines)
    assert (
        "aide: --aide-perf measured nothing: no scenario files under scenarios, and no test "
        "is marked @pytest.mark.aide or @pytest.mark.benchmark or uses an aide or benchmark "
        "fixture"
    ) in out


def test_benchmark_disable_gets_the_right_advice(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=BENCH)
    _pyproject(pytester, '[tool.aide.checks."*"]\nthresholds = { mean = "1h" }\n')
    result = pytester.runpytest("--aide-perf", "--benchmark-disable")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "test_bench.py::test_bench_small: the benchmark fixture measured nothing: "
            "pytest-benchmark is disabled (--benchmark-disable, perhaps from addopts); run "
            "with --benchmark-enable to measure it"
        ]
    )
    assert "without -n" not in result.stdout.str()


@pytest.mark.parametrize(
    ("pattern", "chosen"),
    [
        ("tests/perf/test_bench.py", {"test_bench_small", "test_bench_large"}),
        ("tests/perf/", {"test_bench_small", "test_bench_large"}),
        ("tests/perf", {"test_bench_small", "test_bench_large"}),
        ("./tests/perf/test_bench.py::test_bench_large", {"test_bench_large"}),
        ("tests/*::test_bench_s*", {"test_bench_small"}),
        ("test_bench_l*", {"test_bench_large"}),
        ("small", {"test_bench_small"}),
    ],
)
def test_patterns_select_as_pytests_command_line_does(
    pytester: pytest.Pytester, pattern: str, chosen: set[str]
) -> None:
    (pytester.path / "tests" / "perf").mkdir(parents=True)
    (pytester.path / "tests" / "perf" / "test_bench.py").write_text(BENCH)
    _pyproject(pytester, f'[tool.aide.checks."{pattern}"]\nthresholds = {{ median = "1ns" }}\n')
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05", "-p", "no:randomly")
    result.assert_outcomes(passed=3 - len(chosen), failed=len(chosen))
    failed = {r.head_line for r in result.reprec.getreports("pytest_runtest_logreport") if r.failed}
    assert failed == chosen
    assert "matches no collected test" not in result.stdout.str()


def test_a_pattern_that_selects_nothing_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=BENCH)
    _pyproject(
        pytester,
        '[tool.aide.checks."tests/test_quoting.py"]\n\n'
        '[tool.aide.checks."test_plain"]\n\n'
        '[tool.aide.checks."test_bench.py"]\n',
    )
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            'warning: pyproject.toml: [[]tool.aide.checks."tests/test_quoting.py"[]] matches no '
            "collected test",
            'warning: pyproject.toml: [[]tool.aide.checks."test_plain"[]] matches 1 collected '
            "test(s), none of which measures (no aide fixture and no benchmark fixture)",
        ]
    )
    assert 'test_bench.py"] matches' not in result.stdout.str()
    # A pattern for a file this session was not asked to run is not expected to match.
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    only = pytester.runpytest("--aide-perf", "test_other.py")
    assert "matches no collected test" in only.stdout.str()  # the keyword: anywhere
    assert "tests/test_quoting.py" not in only.stdout.str()
    assert 'tool.aide.checks."test_bench.py"] matches' not in only.stdout.str()
