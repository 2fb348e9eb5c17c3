"""Solo time: wall time minus the measuring thread's run-queue wait, on real busy neighbours.

Every figure asserted is a ratio taken within one run (quiet, then with busy
loops pinned to the same CPU), with generous bands: nothing here depends on
how fast the machine is today.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import pytest_aide
from pytest_aide.measure import solo
from pytest_aide.measure.timer import TimingPlan, measure

pytestmark = pytest.mark.skipif(not solo.available(), reason="no run-queue wait on this kernel")

ROOT = Path(__file__).resolve().parents[1]


def work() -> int:
    return sum(i * i for i in range(20_000))


def sleepy() -> int:
    time.sleep(0.004)
    return sum(i * i for i in range(2_000))


@contextmanager
def neighbours(count: int) -> Iterator[None]:
    """``count`` busy loops on the CPU this process is pinned to (and the process pinned)."""
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    loop = f"import os, time\nos.sched_setaffinity(0, {{{cpu}}})\nend = time.time() + 120\n"
    loop += "while time.time() < end:\n    pass\n"
    hogs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]
    try:
        time.sleep(0.2)
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        os.sched_setaffinity(0, before)


def _median(fn, clock: str) -> tuple[float, float]:
    result = measure(fn, name="x", plan=TimingPlan(iterations=15, warmup=1, measure=clock))
    wall = sorted(result.wall_samples or result.samples)[len(result.samples) // 2]
    return result.median, wall


def test_solo_time_leaves_out_what_the_neighbours_took() -> None:
    # Quiet and busy in turn, three times, each side's least solo median kept: the rest of
    # a busy machine (other tests, other jobs) then slows neither side more than the other.
    quiet, busy = [], []
    for _ in range(3):
        with neighbours(0):
            quiet.append(_median(work, "solo"))
        with neighbours(3):
            busy.append(_median(work, "solo"))
    (quiet_solo, quiet_wall), (busy_solo, busy_wall) = min(quiet), min(busy)
    # Three loops on the same CPU take most of it: the wall clock shows it, solo time not.
    # (The wall time of the quiet run is not compared: a busy machine may already slow it.)
    assert busy_wall / busy_solo > 1.8, (busy_wall, busy_solo)
    assert 0.7 < busy_solo / quiet_solo < 1.4, (busy_solo, quiet_solo, quiet_wall)


def test_solo_time_keeps_sleeps_that_cpu_time_loses() -> None:
    with neighbours(3):
        solo_median, wall = _median(sleepy, "solo")
        cpu_median, _ = _median(sleepy, "cpu")
    assert solo_median >= 0.9 * 0.004 and wall >= solo_median  # the sleep is the code's
    assert cpu_median < 0.5 * solo_median  # the thread's CPU time has no sleep in it


def test_the_public_clock_is_per_thread_and_monotonic() -> None:
    with neighbours(2):  # waits fall between readings, and never make the clock step back
        readings = [pytest_aide.solo_clock() for _ in range(20_000)]
    assert readings == sorted(readings)
    other: list[float] = []
    thread = threading.Thread(target=lambda: other.extend(solo_clock_pair()))
    thread.start()
    thread.join()
    assert other[1] >= other[0]


def solo_clock_pair() -> list[float]:
    first = pytest_aide.solo_clock()
    work()
    return [first, pytest_aide.solo_clock()]


def test_pytest_benchmark_times_on_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_b(benchmark):\n    benchmark(sum, range(1000))\n")
    result = pytester.runpytest("--benchmark-timer", "pytest_aide.solo_clock")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*timer=pytest_aide.measure.solo.solo_clock*"])


SESSION = """
import pytest

def work():
    return sum(i * i for i in range(20_000))

@pytest.mark.aide(measure="solo", mean="1h")
def test_solo(aide_timer):
    aide_timer(work, iterations=5, warmup=1)

def test_session_measure(aide_timer):
    aide_timer(work, iterations=5, warmup=1)
"""


def test_a_session_gates_on_solo_time_and_shows_the_wall_figures(
    pytester: pytest.Pytester,
) -> None:
    import jsonschema

    pytester.makepyfile(test_session=SESSION)
    saved = pytester.runpytest("--aide-perf", "--aide-save-baseline", "-p", "no:randomly")
    saved.assert_outcomes(passed=2)
    saved.stdout.fnmatch_lines(
        [
            "measure: solo (wall time minus run-queue wait)",
            "test_solo: median * solo time, * wall; waited for a CPU: *% of its wall time",
        ]
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    schema = json.loads((ROOT / "pytest_aide" / "report" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    timing = report["checks"][0]["results"][0]
    assert timing["measure"] == "solo" and len(timing["wall_samples"]) == 5
    assert 0 <= timing["waited"] <= 1
    # The other check's baseline has wall figures only: compared on them, and said so.
    result = pytester.runpytest("--aide-perf", "--aide-measure", "cpu", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "note: test_session_measure: compared on wall time: the baseline of * has no "
            "cpu-time figures (save it again to gate on cpu time)"
        ]
    )
    checks = json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"]
    clocks = {c["name"]: c["comparisons"][0]["clock"] for c in checks if c["comparisons"]}
    assert clocks == {"test_solo": "solo", "test_session_measure": "wall"}


def test_without_the_kernels_figures_solo_is_refused_in_one_line(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("hiding /proc/self/task needs unshare and root")
    (tmp_path / "test_s.py").write_text(SESSION)
    empty = tmp_path / "empty"
    empty.mkdir()
    # The process hides its own /proc/PID/task (where schedstat lives), then becomes Python.
    script = f'mount --bind {empty} /proc/$$/task && exec "$@"'
    base = ["unshare", "--mount", "--fork", "sh", "-c", script, "sh", sys.executable]
    probe = subprocess.run(
        [
            *base,
            "-c",
            "import pytest_aide as a; from pytest_aide.measure import solo; "
            "print(solo.why_not()); print(a.solo_clock() > 0)",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot hide /proc/self/task here: {probe.stderr.strip()}")
    assert "schedstat: No such file or directory" in probe.stdout
    assert probe.stdout.splitlines()[-1] == "True"  # the public clock falls back to perf_counter
    done = subprocess.run(
        [*base, "-m", "pytest", "-p", "no:cacheprovider", "--aide-perf", "test_s.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert (
        "ERROR: test_s.py::test_solo: measure='solo': this system does not report a thread's "
        "run-queue wait (/proc/self/task/"
    ) in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # A check that does not ask for solo time measures wall time there, and the run says why.
    done = subprocess.run(
        [*base, "-m", "pytest", "-p", "no:cacheprovider", "--aide-perf", "test_s.py", "-k", "ses"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "measure: wall (the wall clock)" in done.stdout.splitlines()
    text = " ".join(done.stdout.split())  # the summary folds long lines
    assert (
        "wall time, not solo time: this system does not report a thread's run-queue wait "
        "(/proc/self/task/"
    ) in text, done.stdout
    report = json.loads((tmp_path / ".aide" / "report.json").read_text())
    assert report["checks"][0]["results"][0]["measure"] == "wall"


HANDOFF = """
import subprocess, sys
from concurrent.futures import ThreadPoolExecutor

import pytest

POOL = ThreadPoolExecutor(2)

def work():
    return sum(i * i for i in range(20_000))

def in_a_thread():
    return POOL.submit(work).result()

def in_a_process():
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(300_000))"], check=True)

def test_own(aide_timer):
    aide_timer(work, iterations=5, warmup=1)

def test_thread(aide_timer):
    aide_timer(in_a_thread, iterations=5, warmup=1)

def test_process(aide_timer):
    aide_timer(in_a_process, iterations=3, warmup=0)

@pytest.mark.aide(measure="solo")
def test_thread_solo(aide_timer):
    aide_timer(in_a_thread, iterations=5, warmup=1)
"""


def test_work_handed_to_threads_or_processes_falls_back_to_wall_time(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_handoff=HANDOFF)
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random(
        [
            "test_thread: hands work to other threads * ms of CPU while measured (*% of its*",
            "test_process: hands work to child processes * ms of CPU while measured (*% of its*",
            "test_thread_solo: hands work to other threads * ms of CPU while measured (*% of*",
        ]
    )
    text = result.stdout.str()
    assert "test_own: hands" not in text
    assert text.count("measured on wall time instead") == 2, text
    checks = json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"]
    timings = {c["name"]: c["results"][0] for c in checks}
    assert timings["test_own"]["measure"] == "solo" and timings["test_own"]["handoff"] is None
    assert timings["test_thread"]["measure"] == "wall"
    assert timings["test_process"]["measure"] == "wall"
    # Asked for solo time, it keeps it, and the note says what it misses.
    assert timings["test_thread_solo"]["measure"] == "solo"
    assert "not taken out" in timings["test_thread_solo"]["handoff"]


BENCHMARKED = """
import pytest

@pytest.mark.aide
def test_b(benchmark):
    benchmark.pedantic(sum, args=(range(20_000),), rounds=7, iterations=3)
"""


def test_pytest_benchmark_rounds_are_timed_on_solo_time_by_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # pytest-benchmark stays on
    pytester.makepyfile(test_bench=BENCHMARKED)
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["measure: solo (wall time minus run-queue wait)"])
    timing = json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"][0]
    timing = timing["results"][0]
    assert timing["measure"] == "solo" and timing["calls_per_sample"] == 3
    walls, solos = timing["wall_samples"], timing["samples"]
    assert len(walls) == len(solos) == 7
    # Each round's wall figure brackets its solo figure (a wait only ever adds to the wall).
    assert all(w >= s * 0.99 for w, s in zip(walls, solos, strict=True)), (walls, solos)
    # A timer the user chose is left alone, and the rounds are then wall time.
    result = pytester.runpytest(
        "--aide-perf",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
        "--benchmark-timer",
        "time.perf_counter",
    )
    result.assert_outcomes(passed=1)
    timing = json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"][0]
    assert timing["results"][0]["measure"] == "wall"
    assert timing["results"][0]["wall_samples"] is None


LOADED = """
def work():
    return sum(i * i for i in range(20_000))

def test_threads(aide_load):
    aide_load(work, concurrency=2, requests=200)

async def awork():
    work()

def test_async(aide_load):
    aide_load(awork, concurrency=2, requests=200, mode="async")
"""


def _load_waits(pytester: pytest.Pytester) -> dict[str, float]:
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["test_threads: latencies on the wall clock; its threads waited for a CPU *% of the*"]
    )
    checks = json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"]
    return {c["name"]: c["results"][0]["waited"] for c in checks}


def test_load_checks_keep_wall_latencies_and_say_how_long_their_threads_waited(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_loaded=LOADED)
    with neighbours(0):
        quiet = _load_waits(pytester)
    with neighbours(3):
        busy = _load_waits(pytester)
    # Pinned beside three busy loops, a runnable thread waits for most of its turn.
    for name in ("test_threads", "test_async"):
        assert 0 <= quiet[name] <= 1 and busy[name] > 0.4, (quiet, busy)
        assert busy[name] > quiet[name], (quiet, busy)
