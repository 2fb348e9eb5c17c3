"""Benchmark suites as teams wrote them: measured under --aide-perf with no configuration.

pytest-benchmark's ``benchmark`` fixture, pytest-codspeed's ``@pytest.mark.benchmark``
(the whole test body measured) and pytest-codspeed's own fixture, run in real
pytest sessions with the real plugins installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_codspeed")

NO_XDIST = ("-p", "no:xdist", "-p", "no:randomly")

COUNTER = """
import json, pathlib

CALLS = {}

def pytest_sessionfinish(session):
    pathlib.Path("calls.json").write_text(json.dumps(CALLS))
"""

SUITE = """
import pytest
from conftest import CALLS

def work(n=2000):
    return sum(i * i for i in range(n))

def tick(key):
    CALLS[key] = CALLS.get(key, 0) + 1

@pytest.fixture
def prepared():
    tick("fixture setup")
    yield 300
    tick("fixture teardown")

@pytest.mark.benchmark
def test_marked(prepared):
    tick("marked body")
    assert work(prepared) > 0

def test_plain():
    tick("plain")
    assert work(10) == 285

def test_pb(benchmark):
    benchmark(work, 300)

def test_cs(codspeed_benchmark):
    tick("cs before")
    assert codspeed_benchmark(work, 300) == work(300)
    tick("cs after")

def test_cs_decorator(codspeed_benchmark):
    @codspeed_benchmark
    def body():
        tick("decorated")
        return work(300)

def test_cs_pedantic(codspeed_benchmark):
    def setup():
        tick("pedantic setup")
        return (300,), {}

    def teardown(n):
        tick("pedantic teardown")

    assert codspeed_benchmark.pedantic(
        work, setup=setup, teardown=teardown, rounds=7, warmup_rounds=2
    ) == work(300)
"""


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest-benchmark switches itself off when it sees this (set when the suite runs under -n).
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _suite(pytester: pytest.Pytester, source: str = SUITE) -> None:
    pytester.makeconftest(COUNTER)
    pytester.makepyfile(test_suite=source)


def _calls(pytester: pytest.Pytester) -> dict[str, int]:
    return json.loads(Path(pytester.path, "calls.json").read_text())


def _checks(pytester: pytest.Pytester) -> dict[str, dict]:
    report = json.loads(Path(pytester.path, ".aide", "report.json").read_text())
    return {c["name"]: c for c in report["checks"]}


def _flat(result: pytest.RunResult) -> str:
    return " ".join(line.strip() for line in result.stdout.lines)


def test_every_declared_benchmark_is_a_check_with_no_configuration(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester)
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05", *NO_XDIST)
    result.assert_outcomes(passed=6)
    assert "benchmarks as the suite wrote them: 4 using a benchmark fixture, 1 marked " in (
        _flat(result)
    )
    assert "@pytest.mark.benchmark" in _flat(result)
    checks = _checks(pytester)
    assert set(checks) == {
        "test_marked",
        "test_pb",
        "test_cs",
        "test_cs_decorator",
        "test_cs_pedantic",
    }
    assert checks["test_marked"]["declared"] == "marker"
    assert {checks[n]["declared"] for n in ("test_pb", "test_cs", "test_cs_pedantic")} == {
        "fixture"
    }
    for name, check in checks.items():
        (timing,) = check["results"]
        assert timing["mode"] == "perf", name
        assert len(timing["samples"]) >= 3, name
    calls = _calls(pytester)
    # The whole body is measured, many times; its fixture is set up and torn down once.
    assert calls["marked body"] > 10
    assert calls["fixture setup"] == calls["fixture teardown"] == 1
    assert calls["plain"] == 1
    # codspeed's fixture: the test around the call runs once, the call is timed many times.
    assert calls["cs before"] == calls["cs after"] == 1
    assert calls["decorated"] > 10


def test_pedantic_runs_exactly_the_rounds_asked(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest("--aide-perf", "-k", "pedantic", *NO_XDIST)
    result.assert_outcomes(passed=1)
    calls = _calls(pytester)
    assert calls["pedantic setup"] == calls["pedantic teardown"] == 9  # 7 rounds + 2 warm-up
    (timing,) = _checks(pytester)["test_cs_pedantic"]["results"]
    assert len(timing["samples"]) == 7
    assert timing["warmup"] == 2 and timing["calls_per_sample"] == 1


def test_pedantic_iterations_with_setup_is_refused_as_pytest_benchmark_does(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_suite="""
        def test_cs(codspeed_benchmark):
            codspeed_benchmark.pedantic(len, setup=lambda: (("ab",), {}), iterations=3)
        """
    )
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*can't use more than 1 iteration with setup*"])


def test_without_aide_perf_nothing_changes(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest("--benchmark-disable", *NO_XDIST)
    result.assert_outcomes(passed=6)
    calls = _calls(pytester)
    assert calls["marked body"] == 1
    assert calls["decorated"] == 1
    assert calls["pedantic setup"] == 1  # codspeed's own fixture, disabled: one round
    assert "aide performance summary" not in result.stdout.str()


def test_module_level_marker_measures_every_test_of_the_module(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(COUNTER)
    pytester.makepyfile(
        test_suite="""
        import pytest
        from conftest import CALLS

        pytestmark = pytest.mark.benchmark()

        def test_one():
            CALLS["one"] = CALLS.get("one", 0) + 1

        def test_two():
            CALLS["two"] = CALLS.get("two", 0) + 1
        """
    )
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    result.assert_outcomes(passed=2)
    assert set(_checks(pytester)) == {"test_one", "test_two"}
    assert min(_calls(pytester).values()) > 10


def test_aide_false_leaves_tests_out(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    pytester.makepyprojecttoml(
        '[tool.aide.checks."test_suite.py::test_cs*"]\naide = false\n\n'
        '[tool.aide.checks."test_marked"]\naide = false\n'
    )
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05", *NO_XDIST)
    result.assert_outcomes(passed=6)
    assert set(_checks(pytester)) == {"test_pb"}
    calls = _calls(pytester)
    assert calls["marked body"] == 1  # run as a plain test, once
    assert calls["decorated"] == 1


def test_only_opted_out_benchmarks_say_so(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    pytester.makepyprojecttoml('[tool.aide.checks."*"]\naide = false\n')
    result = pytester.runpytest("--aide-perf", "--benchmark-disable", *NO_XDIST)
    result.assert_outcomes(passed=6)
    assert (
        "aide: --aide-perf measured nothing: no scenario files under scenarios, and no test "
        "is marked @pytest.mark.aide or @pytest.mark.benchmark or uses an aide or benchmark "
        "fixture (5 such test(s) left out by 'aide = false' patterns)"
    ) in _flat(result)


@pytest.mark.parametrize(
    ("table", "line"),
    [
        (
            'aide = "no"',
            "pyproject.toml: [tool.aide.checks]: pattern 'test_*': key 'aide': expected true "
            "or false, got 'no'",
        ),
        (
            'aide = false\nthresholds = { mean = "1s" }',
            "pyproject.toml: [tool.aide.checks]: pattern 'test_*': 'aide = false' leaves the "
            "tests out, so it takes no other key",
        ),
    ],
)
def test_a_bad_aide_key_is_one_line(pytester: pytest.Pytester, table: str, line: str) -> None:
    _suite(pytester)
    pytester.makepyprojecttoml(f'[tool.aide.checks."test_*"]\n{table}\n')
    result = pytester.runpytest("--aide-perf", "--benchmark-max-time=0.05", *NO_XDIST)
    assert line in _flat(result)
    assert "Traceback" not in result.stdout.str()
    assert "pytest_aide/" not in result.stdout.str()


def test_thresholds_from_patterns_apply_to_marked_tests(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    pytester.makepyprojecttoml(
        '[tool.aide.checks."test_marked"]\nthresholds = { median = "1ns" }\n'
    )
    result = pytester.runpytest("--aide-perf", "-k", "marked", *NO_XDIST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["test_marked: median * > 1.00 ns (limit from ?tool.aide.checks?)"])


def test_a_marked_test_that_cannot_be_measured_says_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="""
        import pytest

        @pytest.mark.benchmark
        def test_gen():
            yield 1
        """
    )
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    out = result.stdout.str()
    assert "test_gen" in out and "Traceback" not in out and "pytest_aide/" not in out


def test_a_marked_body_that_fails_fails_as_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="""
        import pytest

        @pytest.mark.benchmark
        def test_wrong():
            assert 1 + 1 == 3
        """
    )
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert (1 + 1) == 3*"])


SLOW = "def work(n=2000):\n    return sum(i * i for i in range(n))\n"
PLANTED = "def work(n=2000):\n    sum(range(n * 6))\n    return sum(i * i for i in range(n))\n"
GIT_SUITE = """
import pytest
from app import work

@pytest.mark.benchmark
def test_marked():
    assert work(500) > 0

def test_cs(codspeed_benchmark):
    codspeed_benchmark(work, 500)
"""


def _git_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=SLOW, test_suite=GIT_SUITE)
    pytester.makeini("[pytest]\npythonpath = .\n")
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
    ):
        pytester.run(*command).ret == 0  # noqa: B015
    Path(pytester.path, "app.py").write_text(PLANTED)


def test_against_a_revision_pairs_marked_and_codspeed_tests(pytester: pytest.Pytester) -> None:
    _git_project(pytester)
    result = pytester.runpytest_subprocess(
        "--aide-perf", "--aide-against", "HEAD", *NO_XDIST, "--aide-against-rounds", "3"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["same-job pairing: 2 check(s) run in both trees*"])
    for name in ("test_marked", "test_cs"):
        (comparison,) = _checks(pytester)[name]["comparisons"]
        assert comparison["status"] == "regressed"
        assert comparison["against"].startswith("HEAD (")
    assert "not profiled" not in result.stdout.str()  # the differential profile of each


def test_marked_and_codspeed_tests_are_counted(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_codspeed.instruments.hooks")
    from pytest_aide.measure.counts import CountError, find_valgrind

    try:
        find_valgrind()
    except CountError as exc:
        pytest.skip(str(exc))
    pytester.makepyfile(app=SLOW, test_suite=GIT_SUITE)
    pytester.makeini("[pytest]\npythonpath = .\n")
    result = pytester.runpytest_subprocess(
        "--aide-perf", "--aide-measure", "instructions", "--aide-save-baseline", *NO_XDIST
    )
    result.assert_outcomes(passed=2)
    for name in ("test_marked", "test_cs"):
        counts = [r for r in _checks(pytester)[name]["results"] if r["kind"] == "count"]
        assert counts and counts[0]["instructions"] > 0, name
    Path(pytester.path, "app.py").write_text(PLANTED)
    result = pytester.runpytest_subprocess(
        "--aide-perf", "--aide-measure", "instructions", *NO_XDIST
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["test_marked*instructions*REGRESSED*"])


def test_marked_tests_are_measured_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _suite(pytester)
    result = pytester.runpytest_subprocess(
        "--aide-perf", "-n", "2", "-p", "no:randomly", "-k", "marked or cs"
    )
    result.assert_outcomes(passed=4)
    checks = _checks(pytester)
    assert {"test_marked", "test_cs", "test_cs_decorator", "test_cs_pedantic"} <= set(checks)
    assert checks["test_marked"]["declared"] == "marker"
    assert all(len(c["results"][0]["samples"]) >= 3 for c in checks.values())


CODSPEED_ONLY = """
import pytest

def work(n=300):
    return sum(i * i for i in range(n))

def test_fixture(benchmark):
    assert benchmark(work, 300) == work(300)

def test_pedantic(benchmark):
    benchmark.pedantic(work, args=(300,), rounds=5, iterations=2)

@pytest.mark.benchmark
def test_marked():
    work()
"""


def test_codspeed_alone_its_benchmark_fixture_is_measured(tmp_path: Path) -> None:
    """pytest-codspeed without pytest-benchmark: its own ``benchmark`` fixture, timed by aide."""
    root = Path(__file__).resolve().parents[1]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(root), "pytest-codspeed"],
        check=True,
        capture_output=True,
    )
    lacks = "import importlib.util as u; print(u.find_spec('pytest_benchmark') is None)"
    check = subprocess.run([str(python), "-c", lacks], capture_output=True, text=True, check=True)
    assert check.stdout.strip() == "True"
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_cs.py").write_text(CODSPEED_ONLY)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIDE_"))}
    done = subprocess.run(
        [str(python), "-m", "pytest", "--aide-perf", "-p", "no:cacheprovider"],
        cwd=project,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "benchmarks as the suite wrote them: 2 using a benchmark fixture, 1 marked " in out
    report = json.loads((project / ".aide" / "report.json").read_text())
    results = {c["name"]: c["results"][0] for c in report["checks"]}
    assert len(results["test_fixture"]["samples"]) >= 3
    assert len(results["test_pedantic"]["samples"]) == 5
    assert results["test_pedantic"]["calls_per_sample"] == 2


def test_with_codspeed_enabled_each_tool_measures_once(pytester: pytest.Pytester) -> None:
    """``--codspeed`` beside ``--aide-perf``: aide times each test once, codspeed its rounds."""
    _suite(pytester)
    result = pytester.runpytest(
        "--aide-perf", "--codspeed", "-k", "marked or test_cs or test_pb", *NO_XDIST
    )
    result.assert_outcomes(passed=5)
    assert "INTERNALERROR" not in result.stdout.str()
    checks = _checks(pytester)
    assert set(checks) == {
        "test_marked",
        "test_pb",  # its benchmark fixture is codspeed's under --codspeed
        "test_cs",
        "test_cs_decorator",
        "test_cs_pedantic",
    }
    assert all(len(c["results"]) == 1 for c in checks.values())  # one timing each
    assert "test_marked#2" not in result.stdout.str()
