"""Under pytest-xdist, workers measure and judge; the controller reports what a serial run would."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_aide.baselines import load_baseline
from pytest_aide.report.html import plotly_asset

PLOTLY = plotly_asset()[0]

MODULE = (
    "import asyncio\n\n"
    "def work(n=2000):\n    return sum(i * i for i in range(n))\n\n"
    "async def awork():\n    await asyncio.sleep(0)\n    return work()\n"
)
TESTS = """
import pytest
from aide_mod import work

@pytest.mark.aide(mean="1h")
def test_fast(aide_timer):
    aide_timer(work, iterations=5, warmup=1)

@pytest.mark.aide(mean="1ns")
def test_too_slow(aide_timer):
    aide_timer(work, iterations=5, warmup=1)

@pytest.mark.aide(throughput_min=1)
def test_load(aide_load):
    aide_load(work, concurrency=2, requests=10)

def test_memory(aide_memory):
    with aide_memory():
        bytearray(1 << 20)

def test_not_measured():
    pass
"""
SCENARIOS = """
[scenarios.plain]
target = "aide_mod:work"
iterations = 5
warmup = 1
thresholds = { mean = "1h" }

[scenarios.async_plain]
target = "aide_mod:awork"
iterations = 5
warmup = 1
thresholds = { p95 = "1h" }

[scenarios.failing]
target = "aide_mod:work"
iterations = 3
warmup = 0
thresholds = { max = "1ns" }
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = .\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(aide_mod=MODULE, test_perf=TESTS)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "s.toml").write_text(SCENARIOS)
    return pytester


def _run(project: pytest.Pytester, tag: str, *args: str) -> tuple[pytest.RunResult, dict]:
    reports = project.path / f"reports-{tag}"
    result = project.runpytest_subprocess(
        "--aide-perf",
        f"--aide-report-dir={reports}",
        f"--aide-baseline-dir=baselines-{tag}",
        "--aide-save-baseline",
        *args,
    )
    return result, json.loads((reports / "report.json").read_text())


def _shape(report: dict) -> list[tuple]:
    """Everything that must not depend on how the run was spread: not the figures."""
    return [
        (
            c["id"],
            c["name"],
            c["status"],
            c["outcome"],
            sorted(c["thresholds"]),
            sorted((b["result"], b["key"]) for b in c["breaches"]),
            [r["kind"] for r in c["results"]],
            c["saved_baseline"] is not None,
        )
        for c in report["checks"]
    ]


def _baselines(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root)
        found["/".join(relative.parts[1:])] = load_baseline(path).id
    return found


def test_two_workers_give_the_serial_checks_verdicts_reports_and_baselines(
    project: pytest.Pytester,
) -> None:
    serial, serial_report = _run(project, "serial", "-p", "no:xdist")
    parallel, parallel_report = _run(project, "parallel", "-n", "2")
    for result in (serial, parallel):
        result.assert_outcomes(passed=6, failed=2)
        result.stdout.fnmatch_lines(["checks: 7, passed: 5, failed: 2, success rate: 71.4%"])
    assert _shape(parallel_report) == _shape(serial_report)
    assert parallel_report["totals"] == serial_report["totals"]
    assert parallel_report["xdist_workers"] == 2 and serial_report["xdist_workers"] == 0
    saved = _baselines(project.path / "baselines-serial")
    assert saved == _baselines(project.path / "baselines-parallel")
    assert len(saved) == 5  # every check with a timing, failing ones included
    for tag in ("serial", "parallel"):
        names = sorted(p.name for p in (project.path / f"reports-{tag}").iterdir())
        assert names == [
            "history.sqlite",
            PLOTLY,
            "profiles",
            "report.html",
            "report.json",
            "report.md",
        ]
    parallel.stdout.fnmatch_lines(
        ["warning: measured in 2 pytest-xdist workers sharing * cores: timings are noisier*"]
    )
    assert "pytest-xdist workers" not in serial.stdout.str()
    parallel.stdout.fnmatch_lines(["*failing: max * > 1.00 ns*"])


def test_a_worker_compares_with_the_baselines(project: pytest.Pytester) -> None:
    _run(project, "first", "-p", "no:xdist")
    result = project.runpytest_subprocess(
        "--aide-perf", "-n", "2", "--aide-baseline-dir=baselines-first", "--aide-tolerance=1000%"
    )
    result.assert_outcomes(passed=6, failed=2)
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    compared = {c["name"] for c in report["checks"] if c["comparisons"]}
    assert compared == {"test_fast", "test_too_slow", "plain", "async_plain", "failing"}


def test_against_shares_one_worktree_between_workers(project: pytest.Pytester) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=a@b", "-c", "user.name=a", *args],
            cwd=project.path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    result = project.runpytest_subprocess(
        "--aide-perf",
        "-n",
        "2",
        "--aide-against",
        "HEAD",
        "--aide-tolerance=1000%",
        "-k",
        "plain",
        "--aide-against-rounds",
        "3",
    )
    result.assert_outcomes(passed=2)
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    assert all(c["comparisons"][0]["against"].startswith("HEAD") for c in report["checks"])
    assert git("worktree", "list").count("\n") == 1


def test_benchmark_fixture_under_xdist_says_why_nothing_was_measured(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.aide(mean="1h")
        def test_bench(benchmark):
            benchmark(sum, range(10))
        """
    )
    result = pytester.runpytest_subprocess("--aide-perf", "-n", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_bench: the benchmark fixture measured nothing: pytest-benchmark switches "
            "itself off under pytest-xdist (-n); run this test without -n*"
        ]
    )


def test_a_worker_that_dies_loses_none_of_the_checks_it_finished(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(
        aide_mod=MODULE,
        test_dies="""
import os
from aide_mod import work

def test_first(aide_timer):
    aide_timer(work, iterations=3, warmup=0)

def test_second(aide_timer):
    aide_timer(work, iterations=3, warmup=0)

def test_crash():
    os._exit(1)
""",
    )
    result = pytester.runpytest_subprocess(
        "--aide-perf", "-n", "1", "-p", "no:randomly", "--aide-save-baseline"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "warning: worker 'gw*' crashed while running 'test_dies.py::test_crash': the checks it "
            "had finished are kept"
        ]
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    assert [c["id"] for c in report["checks"]] == [
        "test_dies.py::test_first",
        "test_dies.py::test_second",
    ]
    assert report["totals"]["checks"] == 2
    assert (
        report["crashed_workers"]
        == [line for line in result.outlines if "crashed while running" in line][-1:]
        or report["crashed_workers"]
    )
