"""A comparison the run was asked to make and did not make is never a PASS.

Workers (pairs, confirmations, counts) run with the session's own options; a
worker that still cannot run leaves its check ``NOT COMPARED``, which fails
the session unless ``--aide-uncompared warn``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

WORK = "def work(scale=1.0):\n    return sum(i * i for i in range(int(5000 * scale)))\n"
SLOW = WORK.replace("5000 * scale", "30000 * scale")
AGAINST_HEAD = ("--aide-against", "HEAD", "--aide-against-rounds", "3", "--aide-explain", "never")
"""x6 needs no more than three rounds to be told from nothing; no profile is asked of it."""

SLEEPY = """
import os
import time

def work():
    time.sleep(0.01 * float(os.environ.get("AIDE_TEST_SCALE", "1")))
"""

TIMED = "from work import work\n\ndef test_timed(aide_timer):\n    aide_timer(work)\n"

CRASH_PLUGIN = (
    "def pytest_configure(config):\n"
    "    raise RuntimeError('crashplug: coverage cannot start on this machine')\n"
)
"""A plugin the project's ini loads that crashes unless ``-o addopts=""`` is given."""

WORKER_ONLY_CRASH = """
import os
import sys

if "pytest_aide.pairworker" in sys.argv and os.environ.get("AIDE_TEST_CRASH"):
    raise RuntimeError("conftest refuses to load in a worker session")
"""


def _git(path: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=a@b.invalid", "-c", "user.name=a", *args],
        cwd=path,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def _commit(pytester: pytest.Pytester) -> None:
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", "-A")
    _git(pytester.path, "commit", "-qm", "base")


def _checks(pytester: pytest.Pytester) -> dict[str, dict]:
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    return {check["name"]: check for check in report["checks"]} | {"": report["totals"]}


@pytest.fixture
def crashing_ini(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project whose ini addopts loads a plugin that crashes every session it is in."""
    pytester.makeini("[pytest]\npythonpath = .\naddopts = -p crashplug\n")
    pytester.makepyfile(crashplug=CRASH_PLUGIN, work=WORK, test_timed=TIMED)
    pytester.syspathinsert()
    _commit(pytester)
    return pytester


def test_workers_get_the_sessions_overrides_and_catch_the_slowdown(
    crashing_ini: pytest.Pytester,
) -> None:
    crashing_ini.makepyfile(work=SLOW)
    result = crashing_ini.runpytest(
        "-o",
        "addopts=",
        "--aide-perf",
        *AGAINST_HEAD,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["test_timed: regressed +* % * vs HEAD (*) (same job), *"])
    assert _checks(crashing_ini)["test_timed"]["status"] == "REGRESSED"


def test_a_confirmation_worker_gets_the_sessions_overrides(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npythonpath = .\naddopts = -p crashplug\naide_confirm = 2\n")
    pytester.makepyfile(crashplug=CRASH_PLUGIN, work=SLEEPY, test_timed=TIMED)
    pytester.syspathinsert()
    _commit(pytester)
    saved = pytester.runpytest("-o", "addopts=", "--aide-perf", "--aide-save-baseline")
    saved.assert_outcomes(passed=1)
    (pytester.path / "work.py").write_text(SLEEPY.replace("0.01 *", "0.06 *"))
    result = pytester.runpytest("-o", "addopts=", "--aide-perf")
    result.assert_outcomes(failed=1)
    confirmation = _checks(pytester)["test_timed"]["confirmation"]
    assert confirmation["kind"] == "same-job" and confirmation["outcome"] == "confirmed"


@pytest.fixture
def refusing_workers(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project whose conftest refuses to load in any worker session (AIDE_TEST_CRASH)."""
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makeconftest(WORKER_ONLY_CRASH)
    pytester.makepyfile(work=WORK, test_timed=TIMED)
    _commit(pytester)
    monkeypatch.setenv("AIDE_TEST_CRASH", "1")
    return pytester


def test_a_pair_that_could_not_be_made_is_not_compared_and_fails(
    refusing_workers: pytest.Pytester,
) -> None:
    result = refusing_workers.runpytest("--aide-perf", "--aide-against", "HEAD")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_timed: not compared against HEAD (*): *worker pytest session exited "
            "(*conftest refuses to load in a worker session)",
            "*NOT COMPARED",
            "checks: 1, passed: 0, failed: 0, not compared: 1, success rate: 0.0%",
        ]
    )
    checks = _checks(refusing_workers)
    assert checks["test_timed"]["status"] == "NOT COMPARED"
    assert checks[""]["not_compared"] == 1 and checks[""]["failed"] == 0
    assert "conftest refuses" in checks["test_timed"]["uncompared"][0]


def test_warn_shows_it_and_passes(refusing_workers: pytest.Pytester) -> None:
    result = refusing_workers.runpytest(
        "--aide-perf", "--aide-against", "HEAD", "--aide-uncompared", "warn"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["not compared: test_timed: not compared against HEAD*"])
    assert _checks(refusing_workers)["test_timed"]["status"] == "NOT COMPARED"


def test_a_stored_regression_whose_confirmation_crashed_is_never_cleared(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\npythonpath = .\naide_confirm = 1\n")
    pytester.makeconftest(WORKER_ONLY_CRASH)
    pytester.makepyfile(work=SLEEPY, test_timed=TIMED)
    _commit(pytester)
    pytester.runpytest("--aide-perf", "--aide-save-baseline").assert_outcomes(passed=1)
    monkeypatch.setenv("AIDE_TEST_CRASH", "1")
    # Far faster than the baseline: the stored reading alone would say IMPROVED, but a
    # slowdown could hide there, and the confirmation asked for could not be made.
    monkeypatch.setenv("AIDE_TEST_SCALE", "0.05")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*test_timed: same-job confirmation against * failed (*conftest refuses*)"]
    )
    assert _checks(pytester)["test_timed"]["status"] == "NOT COMPARED"
    # A slower reading falls back to measuring again, which confirms it.
    monkeypatch.setenv("AIDE_TEST_SCALE", "6")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    check = _checks(pytester)["test_timed"]
    assert check["status"] == "REGRESSED" and check["confirmation"]["kind"] == "retry"
    assert any("conftest refuses" in line for line in check["uncompared"])


def test_a_count_that_could_not_be_made_is_not_compared(
    refusing_workers: pytest.Pytester,
) -> None:
    result = refusing_workers.runpytest("--aide-perf", "--aide-measure", "instructions")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_timed: not counted (*conftest refuses*)*"])
    assert _checks(refusing_workers)["test_timed"]["status"] == "NOT COMPARED"


def test_workers_get_the_sessions_plugins_and_warning_filters(pytester: pytest.Pytester) -> None:
    # The test needs a fixture from a plugin given with -p, and its warning is an error
    # (the ini) unless -W says otherwise: a worker without either option would fail the
    # test, and the check would not be compared.
    pytester.makeini("[pytest]\npythonpath = .\nfilterwarnings = error\n")
    pytester.makepyfile(
        scaleplug="import pytest\n\n@pytest.fixture\ndef scale():\n    return 1.0\n",
        work=WORK,
        test_timed="import warnings\nfrom work import work\n\n"
        "def test_timed(aide_timer, scale):\n"
        "    warnings.warn('a warning the session turns into an error', UserWarning)\n"
        "    aide_timer(work, scale)\n",
    )
    pytester.syspathinsert()
    _commit(pytester)
    pytester.makepyfile(work=SLOW)
    result = pytester.runpytest(
        "-p",
        "scaleplug",
        "-W",
        "ignore::UserWarning",
        "--aide-perf",
        *AGAINST_HEAD,
    )
    result.assert_outcomes(failed=1)
    assert _checks(pytester)["test_timed"]["status"] == "REGRESSED"
