"""A check that hangs is stopped at its timeout and fails; the session goes on.

Every inner session runs in a subprocess with a generous outer limit: an
implementation that does not stop the hang fails by ``TimeoutExpired`` instead
of hanging the suite. No assertion depends on how fast this machine is.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest

from pytest_aide.measure.deadline import CheckTimeout, deadline

OUTER_LIMIT = 120
HANG = """
import asyncio, time

def hang():
    time.sleep(600)

async def ahang():
    await asyncio.sleep(600)

def quick():
    return 1
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = .\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(hang_mod=HANG)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess(*args, timeout=OUTER_LIMIT)


def test_marker_timeout_stops_a_hung_timer_and_the_session_goes_on(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        import pytest
        from hang_mod import hang, quick

        @pytest.mark.aide(timeout="300ms")
        def test_hang(aide_timer):
            aide_timer(hang)

        @pytest.mark.aide(mean="1h", timeout="1min")
        def test_after(aide_timer):
            aide_timer(quick)
        """
    )
    for mode in ((), ("--aide-perf",)):
        result = _run(project, *mode)
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            ["test_hang: timed out: stopped after 300.00 ms (timeout from @pytest.mark.aide)"]
        )
        assert "pytest_aide/" not in result.stdout.str()


def test_scenario_timeout_and_the_report(project: pytest.Pytester) -> None:
    (project.path / "scenarios").mkdir()
    (project.path / "scenarios" / "s.toml").write_text(
        '[scenarios.stuck]\ntarget = "hang_mod:hang"\ntimeout = "250ms"\n\n'
        '[scenarios.astuck]\ntarget = "hang_mod:ahang"\ntimeout = 0.25\n\n'
        '[scenarios.fine]\ntarget = "hang_mod:quick"\nthresholds = { mean = "1h" }\n'
    )
    result = _run(project, "--aide-perf")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*stuck: timed out: stopped after 250.00 ms (timeout from scenario 'stuck')",
            "*astuck: timed out: stopped after 250.00 ms (timeout from scenario 'astuck')",
            "checks: 3, passed: 1, failed: 2, success rate: 33.3%",
        ]
    )
    report = (project.path / ".aide" / "report.md").read_text()
    assert "stuck: timed out: stopped after 250.00 ms" in report


def test_a_timeout_that_fires_before_the_target_runs_is_one_line(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios").mkdir()
    (project.path / "scenarios" / "s.toml").write_text(
        '[scenarios.instant]\ntarget = "hang_mod:quick"\ntimeout = 1e-9\n'
    )
    result = _run(project, "--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["instant: timed out: stopped after 1.00 ns (timeout from scenario 'instant')"]
    )
    assert "CheckTimeout" not in result.stdout.str()


def test_session_default_applies_to_fixtures_load_and_async(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest
        from hang_mod import ahang, hang, quick

        def test_thread_load(aide_load):
            aide_load(hang, concurrency=2, requests=4)

        def test_process_load(aide_load):
            aide_load(hang, concurrency=2, requests=4, mode="process")

        @pytest.mark.asyncio
        async def test_async_timer(aide_timer):
            await aide_timer.async_(ahang)

        def test_async_load(aide_load):
            aide_load(ahang, concurrency=2, requests=4, mode="async")

        def test_not_a_check():
            pass

        @pytest.mark.aide(timeout="1min")
        def test_own_limit_wins(aide_timer):
            aide_timer(quick)
        """
    )
    result = _run(project, "--aide-perf", "--aide-timeout=400ms")
    result.assert_outcomes(passed=2, failed=4)
    for name in ("test_thread_load", "test_process_load", "test_async_timer", "test_async_load"):
        result.stdout.fnmatch_lines(
            [f"*{name}: timed out: stopped after 400.00 ms (timeout from --aide-timeout)"]
        )


def test_ini_default_and_xdist(project: pytest.Pytester) -> None:
    project.makeini(
        "[pytest]\npythonpath = .\naide_timeout = 5s\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    project.makepyfile(
        "from hang_mod import hang, quick\n\n"
        "def test_hang(aide_timer):\n    aide_timer(hang)\n\n"
        "def test_quick(aide_timer):\n    aide_timer(quick)\n"
    )
    result = _run(project, "--aide-perf", "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_hang: timed out: stopped after 5.00 s (timeout from --aide-timeout)"]
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'-5ms'", "invalid duration '-5ms'"),
        ("0", "invalid timeout 0: expected a duration of more than 0, e.g. '30s'"),
        ("'soon'", "invalid duration 'soon'"),
    ],
)
def test_bad_marker_timeout(pytester: pytest.Pytester, value: str, message: str) -> None:
    pytester.makepyfile(
        f"import pytest\n\n@pytest.mark.aide(timeout={value})\ndef test_x():\n    pass\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*test_x: @pytest.mark.aide: timeout: {message}*"])


def test_bad_option_timeout(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--aide-timeout=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--aide-timeout: invalid timeout '0': expected a duration of more than 0, e.g. '30s'"]
    )


def test_deadline_off_the_main_thread_stops_python_code() -> None:
    caught: list[BaseException] = []

    def spin() -> None:
        try:
            with deadline(0.2):
                while True:
                    pass
        except CheckTimeout as exc:
            caught.append(exc)

    thread = threading.Thread(target=spin)
    thread.start()
    thread.join(OUTER_LIMIT)
    assert not thread.is_alive()
    assert len(caught) == 1 and caught[0].limit == 0.2


def test_deadline_puts_back_an_outer_alarm() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 60)
        with deadline(30):
            pass
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left <= 60
        assert signal.getsignal(signal.SIGALRM) is not None
        with pytest.raises(CheckTimeout), deadline(0.05):
            threading.Event().wait(OUTER_LIMIT)
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


def test_no_timeout_no_alarm() -> None:
    with deadline(None):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


DEFEATS = """
import ctypes
import json
import signal
import subprocess
import sys
import time

import pytest


def own_handler():
    signal.signal(signal.SIGALRM, lambda signum, frame: None)  # a library's own timeout
    while True:
        time.sleep(0.01)


def cancel_alarm():
    signal.alarm(0)
    while True:
        time.sleep(0.01)


def block_signals():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        while True:
            time.sleep(0.01)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


@pytest.mark.parametrize("target", [own_handler, cancel_alarm, block_signals])
@pytest.mark.aide(timeout="300ms")
def test_defeat(aide_timer, target):
    aide_timer(target, iterations=1, warmup=0)


def test_after(aide_timer):
    aide_timer(lambda: 1)
"""


def test_a_target_cannot_defeat_its_timeout(project: pytest.Pytester) -> None:
    project.makepyfile(test_defeats=DEFEATS)
    result = _run(project, "--aide-perf", "-p", "no:randomly")
    result.assert_outcomes(failed=3, passed=1)
    for name in ("own_handler", "cancel_alarm", "block_signals"):
        result.stdout.fnmatch_lines(
            [f"test_defeat[[]{name}[]]: timed out: stopped after 300* ms (timeout from *)"]
        )
    assert "INTERNALERROR" not in result.stdout.str()
    assert "pytest_aide/" not in result.stdout.str()  # the target's own frames only
    result.stdout.fnmatch_lines(["*in own_handler", "*in cancel_alarm"])


STUCK_IN_C = """
import ctypes
import json
import signal
import subprocess
import sys

import pytest


def in_c():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    ctypes.CDLL(None).sleep(600)  # C code that neither signals nor the watchdog can stop


def test_first(aide_timer):
    aide_timer(lambda: 1)


@pytest.mark.aide(timeout="300ms")
def test_stuck(aide_timer):
    aide_timer(in_c, iterations=1, warmup=0)


def test_never_reached(aide_timer):
    aide_timer(lambda: 1)
"""


def test_a_target_stuck_in_c_ends_the_session_after_writing_the_reports(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_stuck=STUCK_IN_C)
    result = _run(project, "--aide-perf", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "aide: test_stuck.py::test_stuck: test_stuck: timed out: stopped after 300* ms "
            "(timeout from @pytest.mark.aide) and did not return: the session ends",
            "aide: where it was stuck:",
            "*in in_c",
            "aide: reports of what finished: .aide/report.json*",
        ]
    )
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert statuses == {"test_first": "PASS", "test_stuck": "FAIL"}


AFTER_A_DEFEAT = """
import signal, time
from pytest_aide.measure.deadline import CheckTimeout, deadline
from pytest_aide.measure.profile import profile_calls

for _ in range(2):
    with deadline(5):  # ended in time: the watchdog sets nothing
        pass
    try:
        with deadline(0.1):
            signal.signal(signal.SIGALRM, lambda signum, frame: None)
            while True:
                time.sleep(0.01)
    except CheckTimeout:
        pass
print(profile_calls("x", lambda: None, max_calls=1000).calls)
"""


def test_the_interpreter_is_left_as_it_was_after_the_watchdog_steps_in() -> None:
    # Clearing an asynchronous exception that was already delivered left CPython 3.11's
    # eval breaker on for good: the next profiled call never returned.
    done = subprocess.run(
        [sys.executable, "-c", AFTER_A_DEFEAT], capture_output=True, text=True, timeout=OUTER_LIMIT
    )
    assert done.stdout.strip() == "1000", done.stdout + done.stderr
