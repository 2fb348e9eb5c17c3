"""Load in scenario files, concurrency sweeps, --aide-loop and live progress.

Throughput figures here come from sleeps behind a semaphore, so their upper
bounds are fixed by the workload, not by how fast this machine is today.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_aide.results import LoadResult, SweepResult, result_from_dict

WORK = """
import asyncio, os, threading, time

SLOTS = threading.BoundedSemaphore(4)
LOOPS = []

def sleepy():
    time.sleep(0.01)

def four_at_a_time():
    with SLOTS:
        time.sleep(0.02)

async def asleepy():
    LOOPS.append(type(asyncio.get_running_loop()).__module__)
    await asyncio.sleep(0.005)

def cpu():
    return sum(i * i for i in range(20000))

def crash():
    os._exit(3)

def boom():
    raise ConnectionError("refused")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with the workload module importable from the rootdir."""
    pytester.makepyfile(work=WORK)
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.mkdir("scenarios")
    return pytester


def _scenarios(pytester: pytest.Pytester, text: str) -> None:
    (pytester.path / "scenarios" / "load.toml").write_text(text, encoding="utf-8")


def _report(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / ".aide" / "report.json").read_text(encoding="utf-8"))


def _results(pytester: pytest.Pytester) -> dict[str, dict]:
    return {c["name"]: c["results"][0] for c in _report(pytester)["checks"]}


def test_scenario_load_in_each_mode_with_thresholds(project: pytest.Pytester) -> None:
    _scenarios(
        project,
        """
[scenarios.threads]
target = "work:sleepy"
load = { concurrency = 8, requests = 40, mode = "thread" }
thresholds = { p95 = "5s", error_rate_max = 0.05 }

[scenarios.tasks]
target = "work:asleepy"
load = { concurrency = 10, requests = 50, mode = "async", timeout = "5s" }

[scenarios.processes]
target = "work:cpu"
load = { concurrency = 2, requests = 10, mode = "process" }

[scenarios.refused]
target = "work:boom"
load = { concurrency = 2, requests = 6 }
thresholds = { error_rate_max = "5%", throughput_min = 1000000 }
""",
    )
    result = project.runpytest("--aide-perf", "scenarios")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "refused: error_rate 100.0% > 5.0%",
            "refused: throughput 0 ops/s < 1,000,000.0 ops/s",
            "*",
            "refused: 0 ok, 6 errors (100.0%, ConnectionError 6), 0.0 req/s at concurrency 2 "
            "(thread); no successful request; first error: ConnectionError: refused",
        ]
    )
    results = _results(project)
    assert {name: r["mode"] for name, r in results.items()} == {
        "threads": "thread",
        "tasks": "async",
        "processes": "process",
        "refused": "thread",
    }
    assert [r["completed"] for r in results.values()] == [40, 50, 10, 0]
    assert results["refused"]["error_types"] == {"ConnectionError": 6}
    assert min(results["threads"]["latencies"]) >= 0.01


def test_scenario_load_without_perf_sends_one_request(project: pytest.Pytester) -> None:
    _scenarios(
        project,
        """
[scenarios.once]
target = "work:sleepy"
load = { concurrency = [1, 50], requests = 5000, mode = "process" }
""",
    )
    result = project.runpytest("scenarios", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert not (project.path / ".aide").exists()


def test_process_scenario_counts_a_crashing_worker(project: pytest.Pytester) -> None:
    _scenarios(
        project,
        """
[scenarios.crash]
target = "work:crash"
load = { concurrency = 2, requests = 4, mode = "process" }
thresholds = { error_rate_max = 0.5 }
""",
    )
    result = project.runpytest("--aide-perf", "scenarios")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["crash: error_rate 100.0% > 50.0%"])
    assert _results(project)["crash"]["error_types"] == {"WorkerCrashed": 4}


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ("{ concurrency = 0 }", "key 'load': concurrency: expected 1 to 10,000, got 0"),
        ("{ concurrency = [] }", "key 'load': concurrency: expected at least one level"),
        (
            '{ concurrency = [1, "2"] }',
            "key 'load': concurrency: expected a whole number or an array of them, got '2'",
        ),
        ('{ mode = "fork" }', "key 'load': unknown mode 'fork' (known: thread, async, process)"),
        (
            "{ users = 5 }",
            "key 'load': unknown option 'users' (known: concurrency, requests, duration, "
            "mode, rate, timeout, engine, workers)",
        ),
        (
            "{ requests = 0 }",
            "key 'load': key 'requests': expected a whole number from 1 to 1,000,000, got 0",
        ),
        ('{ duration = "-5ms" }', "key 'load': duration: invalid duration '-5ms': expected *"),
        ('{ duration = "0ms" }', "key 'load': duration must be more than 0, got '0ms'"),
        ('{ timeout = "fast" }', "key 'load': timeout: invalid duration 'fast'*"),
        ("{ rate = 0 }", "key 'load': rate must be more than 0, got 0"),
        ("{ rate = inf }", "key 'load': rate: expected a finite number, got inf"),
        ("50", "key 'load': expected a table like { concurrency = 50, requests = 250 }, got 50"),
    ],
)
def test_bad_load_tables_name_the_key(project: pytest.Pytester, load: str, message: str) -> None:
    _scenarios(
        project,
        f"""
[scenarios.bad]
target = "work:sleepy"
load = {load}

[scenarios.good]
target = "work:sleepy"
load = {{ concurrency = 2, requests = 2 }}
""",
    )
    result = project.runpytest("--aide-perf", "scenarios")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"scenarios/load.toml: scenario 'bad': {message}"])


def test_sweep_finds_the_knee_and_shows_the_table(project: pytest.Pytester) -> None:
    _scenarios(
        project,
        """
[scenarios.pool]
description = "at most four requests run at once, so throughput stops growing at 4"
target = "work:four_at_a_time"
load = { concurrency = [16, 1, 2, 4, 8], requests = 60 }
thresholds = { error_rate_max = 0 }
""",
    )
    result = project.runpytest("--aide-perf", "scenarios")
    result.assert_outcomes(passed=1)
    sweep = result_from_dict(_results(project)["pool"])
    assert isinstance(sweep, SweepResult)
    assert [level.concurrency for level in sweep.levels] == [1, 2, 4, 8, 16]
    assert [level.name for level in sweep.levels][:2] == ["pool[1]", "pool[2]"]
    # One worker cannot exceed 50 req/s and two not 100; four slots allow 200.
    assert sweep.levels[0].throughput <= 50.5 and sweep.levels[1].throughput <= 101
    assert sweep.recommended_concurrency >= 4
    knee = sweep.recommended_concurrency
    result.stdout.fnmatch_lines(
        [
            f"pool: concurrency sweep 1, 2, 4, 8, 16: knee at {knee}, the smallest reaching "
            f"95% of the best throughput (*req/s, thread); recommended workers: {knee}",
            "  concurrency*req/s*p50*p95*errors",
            "            1*0.0%",
            f"*{knee}*0.0%  <- knee",
        ]
    )


def test_fixture_sweep_in_sync_and_async_tests(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
import pytest
from work import asleepy, sleepy

def test_sync(aide_load):
    sweep = aide_load(sleepy, concurrency=[1, 4], requests=12)
    assert [lvl.concurrency for lvl in sweep.levels] == [1, 4]
    assert sweep.knee in sweep.levels and all(lvl.completed == 12 for lvl in sweep.levels)

@pytest.mark.asyncio
async def test_async(aide_load):
    sweep = await aide_load.async_(asleepy, concurrency=[2, 1], requests=6, name="aio")
    assert [lvl.name for lvl in sweep.levels] == ["aio[1]", "aio[2]"]

def test_bad(aide_load):
    aide_load(sleepy, concurrency=[1, 2.5])
"""
    )
    result = project.runpytest("--aide-perf", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["aide_load: concurrency must be a whole number or a list of them, got [[]1, 2.5]"]
    )


def test_knee_is_the_smallest_level_within_five_percent_of_the_best() -> None:
    def level(concurrency: int, completed: int) -> LoadResult:
        return LoadResult("x", [0.01] * completed, wall_time=1.0, concurrency=concurrency)

    sweep = SweepResult("x", [level(8, 400), level(1, 100), level(4, 381), level(2, 200)])
    assert [lvl.concurrency for lvl in sweep.levels] == [1, 2, 4, 8]
    assert sweep.recommended_concurrency == 4  # 381 >= 0.95 * 400
    assert SweepResult("x", [level(1, 100), level(2, 100)]).recommended_concurrency == 1
    assert SweepResult("x", [level(1, 94), level(2, 100)]).recommended_concurrency == 2
    assert sweep.metrics()["throughput"] == 381
    again = result_from_dict(json.loads(json.dumps(sweep.to_dict())))
    assert again == sweep and sweep.to_dict()["knee"] == 4


LOOP_TESTS = """
import asyncio
import pytest
import work

def test_timer_and_load(aide_timer, aide_load):
    aide_timer(work.asleepy, iterations=2, warmup=0)
    aide_load(work.asleepy, concurrency=2, requests=4, mode="async")
    assert set(work.LOOPS) == {EXPECTED}

@pytest.mark.asyncio
async def test_async_test_runs_on_it():
    assert type(asyncio.get_running_loop()).__module__ == EXPECTED
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), "asyncio.unix_events"), (("--aide-loop", "uvloop"), "uvloop")],
)
def test_aide_loop_picks_the_event_loop(
    project: pytest.Pytester, args: tuple[str, ...], expected: str
) -> None:
    pytest.importorskip("uvloop")
    if sys.platform == "win32":
        pytest.skip("asyncio's default loop module differs on Windows")
    project.makepyfile(LOOP_TESTS.replace("EXPECTED", repr(expected)))
    result = project.runpytest("--aide-perf", *args)
    result.assert_outcomes(passed=2)


def test_aide_loop_ini_twin(project: pytest.Pytester) -> None:
    pytest.importorskip("uvloop")
    project.makeini("[pytest]\npythonpath = .\naide_loop = uvloop\n")
    project.makepyfile(LOOP_TESTS.replace("EXPECTED", "'uvloop'"))
    project.runpytest("--aide-perf").assert_outcomes(passed=2)


def test_uvloop_missing_is_a_clear_usage_error(project: pytest.Pytester) -> None:
    project.makeconftest("import sys\nsys.modules['uvloop'] = None\n")
    project.makepyfile("def test_x():\n    pass\n")
    result = project.runpytest("--aide-loop", "uvloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --aide-loop uvloop: uvloop is not installed (*); install it with: "
            "pip install 'pytest-aide[[]uvloop]'"
        ]
    )


def test_bad_loop_name_in_ini(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\naide_loop = trio\n")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: ini option 'aide_loop': invalid event loop 'trio' (choose from asyncio, uvloop)"]
    )


PROGRESS_TEST = """
from work import sleepy

def test_long_load(aide_load):
    aide_load(sleepy, concurrency=2, duration=1.6)
"""


def _run_on_a_terminal(cwd: Path, args: list[str]) -> str:
    """Run pytest with its stdout on a pseudo-terminal; return everything it wrote."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["TERM"] = "xterm"
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=30)
    os.close(primary)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_progress_is_live_on_a_terminal_and_absent_in_logs(project: pytest.Pytester) -> None:
    project.makepyfile(test_progress=PROGRESS_TEST)
    shown = _run_on_a_terminal(project.path, ["--aide-perf", "-p", "no:cacheprovider"])
    assert "1 passed" in shown
    assert "\x1b7 test_long_load: " in shown and " req/s\x1b[K\x1b8" in shown
    assert re.search(r" requests in \d+\.\d s, ", shown), shown

    logged = project.runpytest_subprocess("--aide-perf")
    logged.assert_outcomes(passed=1)
    assert "req/s\x1b" not in logged.stdout.str() and "\x1b7" not in logged.stdout.str()
