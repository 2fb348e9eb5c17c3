"""pytest-benchmark interop: its fixture under aide's marker, its JSON both ways."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pytest_aide.cli import main

# pytest-benchmark switches itself off inside xdist workers; the inner sessions
# here must measure even when this suite runs under -n.
NO_XDIST = ("-p", "no:xdist")


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


BENCH_TESTS = """
import pytest

def work(n=2000):
    return sum(i * i for i in range(n))

@pytest.mark.aide(mean="10s")
def test_fast_enough(benchmark):
    benchmark(work)

@pytest.mark.aide(name="too_slow", mean="1ns")
def test_too_slow(benchmark):
    benchmark(work)

def test_plain_benchmark(benchmark):
    benchmark(work)
"""

AIDE_TESTS = """
def work(n=2000):
    return sum(i * i for i in range(n))

def test_fast_enough(aide_timer):
    aide_timer(work, iterations=8, warmup=1)
"""


def test_aide_marker_judges_a_benchmark_fixture_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BENCH_TESTS)
    result = pytester.runpytest("--aide-perf", *NO_XDIST, "--benchmark-min-rounds=5")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["too_slow: mean * > 1.00 ns"])
    report = json.loads((pytester.path / ".aide" / "report.json").read_text(encoding="utf-8"))
    checks = {c["name"]: c for c in report["checks"]}
    # An unmarked benchmark test is a check too, with no limits of its own.
    assert set(checks) == {"test_fast_enough", "too_slow", "test_plain_benchmark"}
    assert checks["test_plain_benchmark"]["status"] == "PASS"
    timing = checks["test_fast_enough"]["results"][0]
    assert timing["kind"] == "timing" and len(timing["samples"]) >= 5


def test_benchmark_results_are_compared_with_the_baseline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BENCH_TESTS)
    args = ["--aide-perf", *NO_XDIST, "-k", "fast_enough", "--benchmark-min-rounds=5"]
    pytester.runpytest(*args, "--aide-save-baseline").assert_outcomes(passed=1)
    result = pytester.runpytest(*args, "--aide-tolerance", "500%")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / ".aide" / "report.json").read_text(encoding="utf-8"))
    assert report["checks"][0]["comparisons"][0]["tolerance"] == 5.0


def test_aide_timings_as_pytest_benchmark_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(AIDE_TESTS)
    pytester.runpytest("--aide-perf", "--aide-benchmark-json", "bench.json").assert_outcomes(
        passed=1
    )
    data = json.loads((pytester.path / "bench.json").read_text(encoding="utf-8"))
    (bench,) = data["benchmarks"]
    assert bench["fullname"] == "test_aide_timings_as_pytest_benchmark_json.py::test_fast_enough"
    assert len(bench["stats"]["data"]) == 8 and bench["stats"]["rounds"] == 8
    assert bench["stats"]["ops"] == pytest.approx(1 / bench["stats"]["mean"])
    # pytest-benchmark's own command reads it.
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_benchmark",
            "compare",
            str(pytester.path / "bench.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=pytester.path,
    )
    assert shown.returncode == 0, shown.stderr
    assert "test_fast_enough" in shown.stdout and "Mean" in shown.stdout


def test_compare_reads_pytest_benchmark_json_on_either_side(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_bench=BENCH_TESTS)
    pytester.runpytest(
        *NO_XDIST,
        "-k",
        "fast_enough",
        "--benchmark-json=pb.json",
        "--benchmark-min-rounds=8",
    ).assert_outcomes(passed=1)
    pytester.makepyfile(test_bench=AIDE_TESTS)
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)
    pb, aide = str(pytester.path / "pb.json"), str(pytester.path / ".aide" / "report.json")
    for old, new in ((pb, aide), (aide, pb)):
        capsys.readouterr()
        assert main(["compare", old, new, "--tolerance", "1000%", "--format", "json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)["comparisons"]
        assert row["id"] == "test_bench.py::test_fast_enough"


def test_pytest_benchmark_json_without_data_is_a_clear_error(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_bench=BENCH_TESTS)
    pytester.runpytest(*NO_XDIST, "-k", "fast_enough", "--benchmark-save=nodata").assert_outcomes(
        passed=1
    )
    (saved,) = (pytester.path / ".benchmarks").rglob("*nodata.json")
    capsys.readouterr()
    assert main(["compare", str(saved), str(saved)]) == 2
    assert capsys.readouterr().err == (
        f"pytest-aide compare: error: {saved}: benchmark 'test_bench.py::test_fast_enough' has "
        "no per-round data; write it with --benchmark-json=FILE, or add --benchmark-save-data "
        "to --benchmark-save, so an interval can be estimated\n"
    )


PEDANTIC = """
import pytest

def work(n=2000):
    return sum(i * i for i in range(n))

@pytest.mark.aide()
def test_once(benchmark):
    benchmark.pedantic(work, rounds=1)

@pytest.mark.aide()
def test_many(benchmark):
    benchmark.pedantic(work, rounds=20)
"""


def test_one_round_a_side_is_no_verdict_and_drift_widens_the_interval(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_ped=PEDANTIC)
    pytester.runpytest("--aide-perf", "--aide-save-baseline", *NO_XDIST).assert_outcomes(passed=2)
    result = pytester.runpytest("--aide-perf", "--aide-drift", "50%", *NO_XDIST)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["test_once * n/a (1 vs 1) *", "note: test_once: not enough samples to compare (1 vs 1)"]
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    many = next(c for c in report["checks"] if c["name"] == "test_many")
    (comparison,) = many["comparisons"]
    # 50 % drift between runs: the interval spans at least exp(2 * 1.96 * sqrt(2) * ln 1.5).
    assert comparison["ci_high"] / comparison["ci_low"] >= 9.0
    assert comparison["status"] == "unchanged"
