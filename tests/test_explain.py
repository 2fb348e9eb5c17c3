"""--aide-explain: a failing check is profiled once more; the profile says where the time goes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.measure.profile import Profile, diff_profiles, profile_calls


def squares(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def encode(n: int) -> str:
    return json.dumps([{"i": i, "s": str(i)} for i in range(n)])


def work(scale: int) -> int:
    return squares(3000 * scale) + len(encode(100))


def test_the_profile_names_the_function_that_costs_most(tmp_path: Path) -> None:
    profile = profile_calls("work", lambda: work(3), directory=tmp_path, stem="work")
    top = profile.top(1)[0]
    assert top.function == "squares" and top.line == squares.__code__.co_firstlineno
    assert top.calls == 1  # per call of the target, whatever the number of calls
    by_name = {f.function: f for f in profile.functions}
    assert by_name["encode"].calls == 1 and by_name["work"].cumulative >= top.own
    assert profile.calls >= 1 and Path(profile.files["callgrind"]).name == "work.callgrind"
    again = Profile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again.top(1)[0] == top and again.calls == profile.calls


def test_the_differential_profile_puts_the_change_on_the_slowed_function() -> None:
    before = profile_calls("work", lambda: work(1))
    after = profile_calls("work", lambda: work(4))
    change, deltas = diff_profiles(before, after)
    assert change > 0
    assert deltas[0].function.function == "squares"
    assert deltas[0].line().startswith("+") and "/call in " in deltas[0].line()
    assert "tests/test_explain.py:" in deltas[0].line()


def squares_each(n: int, times: int) -> int:
    total = 0
    for _ in range(times):
        total += squares(n)
    return total


def test_a_change_in_calls_per_call_is_stated_exactly_beside_the_time() -> None:
    before = profile_calls("each", lambda: squares_each(3000, 2))
    after = profile_calls("each", lambda: squares_each(3000, 5))
    _, deltas = diff_profiles(before, after, n=1)
    assert deltas[0].function.function == "squares"
    assert "calls per call 2 -> 5" in deltas[0].line()


@pytest.mark.skipif(shutil.which("callgrind_annotate") is None, reason="valgrind not installed")
def test_the_callgrind_file_opens_in_valgrinds_own_reader(tmp_path: Path) -> None:
    profile = profile_calls("work", lambda: work(2), directory=tmp_path, stem="w")
    shown = subprocess.run(
        ["callgrind_annotate", profile.files["callgrind"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Microseconds" in shown and "test_explain.py:squares" in shown


PLANTED = """
import asyncio
import json
import pytest

def planted_hot_spot(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def target():
    return planted_hot_spot(20000) + len(json.dumps(list(range(100))))

async def async_target():
    await asyncio.sleep(0)
    return planted_hot_spot(20000)

@pytest.mark.aide(mean="1us")
def test_too_slow(aide_timer):
    aide_timer(target, iterations=3)

@pytest.mark.aide(mean="1h")
def test_fine(aide_timer):
    aide_timer(target, iterations=3)

@pytest.mark.aide(mean="1us")
@pytest.mark.asyncio
async def test_async_too_slow(aide_timer):
    await aide_timer.async_(async_target, iterations=3)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_planted=PLANTED)
    return pytester


def _report(pytester: pytest.Pytester) -> dict[str, dict]:
    data = json.loads((pytester.path / ".aide" / "report.json").read_text())
    return {check["name"]: check for check in data["checks"]}


def test_a_failing_check_shows_its_top_functions_and_writes_the_profile(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest("--aide-perf", "-p", "no:randomly", "--aide-confirm", "0")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "test_too_slow: mean * > 1.00 us",
            "profile of test_too_slow: * call(s), * per call profiled; top functions by own time*",
            "*% own * cumulative *  1 calls  *test_planted.py:5 planted_hot_spot",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  full profile: .aide/profiles/test_planted.py__test_too_slow.callgrind, "
            ".aide/profiles/test_planted.py__test_too_slow.pstats"
        ]
    )
    result.stdout.fnmatch_lines(["profile of test_async_too_slow: *", "*planted_hot_spot"])
    assert "Traceback" not in result.stdout.str()
    checks = _report(project)
    (profile,) = checks["test_too_slow"]["profiles"]
    hot = [f for f in profile["functions"] if f["function"] == "planted_hot_spot"]
    assert hot and hot[0]["calls"] == 1
    assert (project.path / ".aide" / profile["files"]["pstats"]).is_file()
    # A check that passed is not profiled under the default, --aide-explain fail.
    assert checks["test_fine"]["profiles"] == []
    assert checks["test_fine"]["results"][0]["mode"] == "perf"


def test_always_profiles_passing_checks_and_never_profiles_none(project: pytest.Pytester) -> None:
    project.runpytest("--aide-perf", "--aide-explain", "always", "-k", "fine")
    (profile,) = _report(project)["test_fine"]["profiles"]
    assert profile["name"] == "test_fine"
    shutil.rmtree(project.path / ".aide")
    project.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\naide_explain = never\n"
    )
    result = project.runpytest("--aide-perf", "--aide-confirm", "0", "-k", "too_slow")
    result.assert_outcomes(failed=2)
    assert "profile of" not in result.stdout.str()
    assert not (project.path / ".aide" / "profiles").exists()
    assert all(check["profiles"] == [] for check in _report(project).values())


def test_a_bad_choice_is_one_line(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf", "--aide-explain", "sometimes")
    result.stderr.fnmatch_lines(["*--aide-explain*invalid choice: 'sometimes'*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


SCENARIO_MODULE = """
def planted_hot_spot(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def diagnose():
    return planted_hot_spot(20000)
"""

SCENARIOS = """
[scenarios.diagnosis]
target = "hotmod:diagnose"
iterations = 3
thresholds = { mean = "1us" }

[scenarios.under_load]
target = "hotmod:diagnose"
load = { concurrency = 2, requests = 10 }
thresholds = { p95 = "1us" }
"""


def test_scenarios_and_loads_are_profiled_one_call_at_a_time(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hotmod=SCENARIO_MODULE)
    pytester.syspathinsert()
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "hot.toml").write_text(SCENARIOS)
    result = pytester.runpytest("--aide-perf", "--aide-confirm", "0", "scenarios")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["profile of diagnosis: *", "*  1 calls  *hotmod.py:1 planted_hot_spot"]
    )
    result.stdout.fnmatch_lines(["profile of under_load: *"])
    assert "Traceback" not in result.stdout.str()


MARKED_ONCE = """
import pytest
from hotmod import diagnose

RUNS = []

@pytest.mark.aide(mean="1us", retry={"max_attempts": 1})
def test_once(aide_timer):
    RUNS.append(1)
    if len(RUNS) > 1:
        raise RuntimeError("run twice")
    aide_timer(diagnose, iterations=3)
"""


def test_a_test_that_raises_when_profiled_keeps_its_verdict_and_says_why(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(hotmod=SCENARIO_MODULE, test_once=MARKED_ONCE)
    pytester.syspathinsert()
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_once: mean * > 1.00 us",
            "test_once: not profiled: the test raised RuntimeError: run twice",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_profiles_come_back_from_xdist_workers(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf", "--aide-confirm", "0", "-n", "2", "-k", "too_slow")
    result.assert_outcomes(failed=2)
    checks = _report(project)
    assert [p["name"] for p in checks["test_too_slow"]["profiles"]] == ["test_too_slow"]
    assert [p["name"] for p in checks["test_async_too_slow"]["profiles"]] == ["test_async_too_slow"]


SLOWED = """
import json
import os
import pytest

def planted_hot_spot(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def steady_part():
    return json.dumps([{"i": i} for i in range(300)])

def target():
    return planted_hot_spot(4000 * SCALE) + len(steady_part())

SCALE = 1

@pytest.mark.aide(name="diag")
def test_diag(aide_timer):
    aide_timer(target, iterations=8)
"""


def test_a_regression_is_explained_against_the_baselines_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_slowed=SLOWED)
    saved = pytester.runpytest(
        "--aide-perf", "--aide-save-baseline", "--aide-explain", "always", "-p", "no:randomly"
    )
    saved.assert_outcomes(passed=1)
    (path,) = (pytester.path / "baselines").rglob("*.json")
    stored = json.loads(path.read_text())
    (profile,) = stored["profiles"]
    assert profile["name"] == "diag" and profile["files"] == {}
    pytester.makepyfile(test_slowed=SLOWED.replace("SCALE = 1", "SCALE = 8"))
    result = pytester.runpytest("--aide-perf", "--aide-confirm", "0", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "diag: regressed +* % * vs baseline of *",
            "profile of diag: *",
            "differential profile of diag against the baseline of *: +*/call of own time in "
            "all, most of it in:",
            "  +*/call in *test_slowed.py:5 planted_hot_spot (+* %)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert path.read_text() == json.dumps(stored, indent=2, sort_keys=True) + "\n"


def test_the_report_with_profiles_follows_its_schema(project: pytest.Pytester) -> None:
    project.runpytest("--aide-perf", "--aide-confirm", "0", "-k", "test_too_slow")
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    schema = Path(__file__).parent.parent / "pytest_aide" / "report" / "report.schema.json"
    jsonschema.validate(report, json.loads(schema.read_text()))
    assert report["checks"][0]["profiles"][0]["functions"]


def test_the_markdown_and_html_reports_link_each_profile(project: pytest.Pytester) -> None:
    project.runpytest("--aide-perf", "--aide-confirm", "0", "-k", "test_too_slow")
    markdown = (project.path / ".aide" / "report.md").read_text()
    assert "## Profiles" in markdown
    assert (
        "### `test_too_slow` ([callgrind](profiles/test_planted.py__test_too_slow.callgrind), "
        "[pstats](profiles/test_planted.py__test_too_slow.pstats))"
    ) in markdown
    assert "planted_hot_spot`" in markdown
    page = (project.path / ".aide" / "report.html").read_text()
    assert "most own time in planted_hot_spot" in page
    assert '<a href="profiles/test_planted.py__test_too_slow.callgrind">callgrind</a>' in page


SKIPS_WHEN_RUN_AGAIN = """
import pytest
from hotmod import diagnose

RUNS = []

@pytest.mark.aide(mean="1us")
def test_skips_later(aide_timer):
    RUNS.append(1)
    if len(RUNS) > 1:
        pytest.skip("only once")
    aide_timer(diagnose, iterations=3)

@pytest.mark.aide(mean="1us")
def test_asserts_on_its_figures(aide_timer):
    result = aide_timer(diagnose, iterations=3)
    assert result.mode == "perf", "profiled"
"""


def test_a_skip_or_an_assertion_when_run_again_never_breaks_the_session(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(hotmod=SCENARIO_MODULE, test_again=SKIPS_WHEN_RUN_AGAIN)
    pytester.syspathinsert()
    result = pytester.runpytest("--aide-perf", "--aide-confirm", "0", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["test_skips_later: not profiled: the test raised Skipped: only once"]
    )
    # The assertion failed after the call was profiled: the profile is kept.
    result.stdout.fnmatch_lines(["profile of test_asserts_on_its_figures: *"])
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out


def test_a_regression_against_a_revision_is_explained_against_its_profile(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_slowed=SLOWED)
    pytester.makeini("[pytest]\npythonpath = .\n")
    for args in (["init", "-q"], ["config", "user.email", "a@example.com"]):
        subprocess.run(["git", *args], cwd=pytester.path, check=True)
    subprocess.run(["git", "config", "user.name", "a"], cwd=pytester.path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=pytester.path, check=True)
    subprocess.run(["git", "commit", "-qm", "good"], cwd=pytester.path, check=True)
    pytester.makepyfile(test_slowed=SLOWED.replace("SCALE = 1", "SCALE = 8"))
    result = pytester.runpytest("--aide-perf", "--aide-against", "HEAD", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "diag: regressed +* % * vs HEAD (*) (same job)*",
            "profile of diag: *",
            "differential profile of diag against HEAD * in the same job: +*/call of own time*",
            "  +*/call in *test_slowed.py:5 planted_hot_spot (+* %)",
        ]
    )
    assert "Traceback" not in result.stdout.str()


BENCHMARKS = """
import pytest
from hotmod import diagnose, planted_hot_spot

@pytest.mark.aide(mean="1us")
def test_plain(benchmark):
    assert benchmark(diagnose) > 0

@pytest.mark.aide(mean="1us")
def test_pedantic(benchmark):
    made = []
    def setup():
        made.append(1)
        return (20000,), {}
    assert benchmark.pedantic(planted_hot_spot, setup=setup, rounds=3) > 0
"""


def test_pytest_benchmark_tests_are_profiled_through_their_fixture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(hotmod=SCENARIO_MODULE, test_bench=BENCHMARKS)
    pytester.syspathinsert()
    # In an xdist worker of this suite, pytest-benchmark would read the worker's variable
    # and switch itself off in the session under test.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    result = pytester.runpytest("--aide-perf", "--aide-confirm", "0", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "test_plain: mean * > 1.00 us",
            "profile of test_plain: *",
            "*hotmod.py:1 planted_hot_spot",
        ]
    )
    result.stdout.fnmatch_lines(
        ["profile of test_pedantic: *", "*1 calls  *hotmod.py:1 planted_hot_spot"]
    )
    out = result.stdout.str()
    assert "setup" not in out.split("profile of test_pedantic")[1].split("full profile")[0]
    assert "Traceback" not in out and "not profiled" not in out
