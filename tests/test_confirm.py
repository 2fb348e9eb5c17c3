"""Confirm before failing (``--aide-confirm``, ``retry=``).

The logic on given sequences first, then every route through real pytest sessions.

The sessions decide with sleeps far beyond their limits (a sleep is never
shorter than asked, and a busy machine only lengthens it) or with no-ops far
below them, so no state of the machine changes an outcome here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_aide.confirm import Attempt, Confirmation, RetryError, Retrying, RetryPolicy
from pytest_aide.stats import RatioEstimate
from pytest_aide.verdict import (
    Comparison,
    Evidence,
    decide,
    looks_changed,
    looks_regressed,
    parse_thresholds,
    suspicions,
)

# -- the pure logic ---------------------------------------------------------------------


def test_waits_double_up_to_the_cap_and_jitter_moves_them_either_way() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=10.0, jitter=0.5)
    assert [policy.delay(n, 0.5) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert policy.delay(1, 0.0) == 0.5
    assert policy.delay(1, 0.999) == pytest.approx(1.499)
    assert policy.delay(5, 0.999) == 10.0  # jitter never passes the cap
    assert RetryPolicy(jitter=0.0).delay(2, 0.9) == 2.0


def test_a_retry_table_overrides_only_what_it_names() -> None:
    default = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=10.0, jitter=0.5)
    policy = RetryPolicy.from_mapping({"max_attempts": 5, "base_delay": "200ms"}, default)
    assert policy == RetryPolicy(5, 0.2, 10.0, 0.5)
    assert RetryPolicy.from_mapping({"jitter": True}, default).jitter == 0.5
    assert RetryPolicy.from_mapping({"jitter": False}, default).jitter == 0.0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"attempts": 3}, "unknown key 'attempts' (did you mean 'max_attempts'?)"),
        ({"pause": 3}, "unknown key 'pause' (known: max_attempts, base_delay, max_delay, jitter)"),
        ({"max_attempts": 0}, "max_attempts: expected a whole number of at least 1, got 0"),
        ({"max_attempts": 2.5}, "max_attempts: expected a whole number of at least 1, got 2.5"),
        ({"base_delay": "soon"}, "base_delay: "),
        ({"jitter": 2}, "jitter: expected true, false or a fraction from 0 to 1, got 2"),
        ({"base_delay": "5s", "max_delay": "1s"}, "max_delay 1.00 s is shorter than base_delay"),
        (3, "expected a table such as { max_attempts = 3 }, got int"),
    ],
)
def test_a_bad_retry_table_says_which_key(table: object, message: str) -> None:
    with pytest.raises(RetryError) as raised:
        RetryPolicy.from_mapping(table, RetryPolicy())
    assert str(raised.value).startswith(message)


def _run(policy: RetryPolicy, found: list[set[str]]) -> Confirmation:
    """Feed attempts finding ``found[i]`` until the logic stops asking for more."""
    retrying = Retrying(policy, Attempt(1, 0.0, 1.0, {k: f"x: {k}" for k in found[0]}))
    for number, keys in enumerate(found[1:], start=2):
        if retrying.done:
            break
        retrying.add(Attempt(number, float(number), 1.0, {k: f"x: {k}" for k in keys}))
    return retrying.result(seconds=7.0)


@pytest.mark.parametrize(
    ("found", "confirmed", "decided_by"),
    [
        ([{"a"}, {"a"}, {"a"}], {"a"}, 3),  # broken every time: confirmed
        ([{"a"}, set(), {"a"}], set(), 2),  # cleared at the second attempt: stop there
        ([{"a", "b"}, {"b", "c"}, {"b"}], {"b"}, 3),  # only the limit broken every time
        ([{"a", "b"}, {"a"}, {"b"}], set(), 3),  # each broken, never both: not confirmed
        ([{"a"}, {"a"}, {"a"}, {"a"}], {"a"}, 3),  # never more than max_attempts
    ],
)
def test_a_limit_fails_only_when_every_attempt_breaks_it(
    found: list[set[str]], confirmed: set[str], decided_by: int
) -> None:
    result = _run(RetryPolicy(max_attempts=3), found)
    assert result.confirmed == confirmed
    assert result.decided_by == decided_by == len(result.attempts)
    assert result.outcome == ("confirmed" if confirmed else "not confirmed")


def test_an_exception_in_a_retry_stops_it_and_confirms_nothing() -> None:
    retrying = Retrying(RetryPolicy(max_attempts=5), Attempt(1, 0.0, 1.0, {"a": "x: a"}))
    retrying.add(Attempt(2, 1.0, 0.1, raised="ValueError('boom')"))
    assert retrying.done
    result = retrying.result(1.5)
    assert result.outcome == "raised" and result.confirmed == set()


def test_a_failure_no_noise_explains_ends_the_retries() -> None:
    retrying = Retrying(RetryPolicy(max_attempts=5), Attempt(1, 0.0, 1.0, {"a": "x: a"}))
    retrying.add(Attempt(2, 1.0, 1.0, {"a": "x: a"}, hard="x: memory_peak 9 MB > 1 MB"))
    assert retrying.done and retrying.result(1.0).confirmed == {"a"}


class _Result:
    def __init__(self, name: str, **metrics: float) -> None:
        self.name = name
        self._metrics = metrics

    def metrics(self) -> dict[str, float]:
        return self._metrics


def _evidence(confirmed: frozenset[str] | None, **metrics: float) -> Evidence:
    thresholds = parse_thresholds({"mean": "1s", "memory_peak_max": "1MB"})
    return Evidence("diag", [_Result("diag", **metrics)], thresholds, confirmed=confirmed)


def test_wall_time_limits_are_suspects_and_memory_fails_at_once() -> None:
    verdict = decide(_evidence(None, mean=2.0, memory_peak=2e6))
    suspects, hard = suspicions(verdict)
    assert list(suspects) == ["diag:mean"]
    assert hard == ["diag: memory_peak 2.00 MB > 1.00 MB"]  # in the units written


def test_the_verdict_keeps_only_confirmed_wall_time_failures() -> None:
    cleared = decide(_evidence(frozenset(), mean=2.0, memory_peak=2e6))
    assert [b.threshold.key for b in cleared.breaches] == ["memory_peak_max"]
    confirmed = decide(_evidence(frozenset({"diag:mean"}), mean=2.0, memory_peak=0))
    assert [b.threshold.key for b in confirmed.breaches] == ["mean"]
    assert not decide(_evidence(frozenset(), mean=2.0, memory_peak=0)).breaches


def test_a_cleared_stored_regression_is_shown_but_does_not_gate() -> None:
    regressed = Comparison("diag", RatioEstimate(1.5, 1.4, 1.6, 0.95, 20, 20), 0.1, "2026-11-20")
    same_job = Comparison("diag", RatioEstimate(1.5, 1.4, 1.6, 0.95, 20, 20), 0.1, "", True, "v1")
    assert list(suspicions(decide(Evidence("diag", [], {}, [regressed])))[0]) == ["diag:regression"]
    verdict = decide(Evidence("diag", [], {}, [regressed], confirmed=frozenset()))
    assert verdict.passed and verdict.comparisons[0].gating is False
    # A same-job comparison is never measured again: it is the confirmation.
    assert suspicions(decide(Evidence("diag", [], {}, [same_job])))[1]


def test_a_stored_reading_is_paired_unless_its_interval_lies_within_the_tolerance() -> None:
    def stored(ratio: float, low: float, high: float = 0.0, **kwargs: object) -> Comparison:
        estimate = RatioEstimate(ratio, low, high or ratio + 0.2, 0.95, 20, 20)
        return Comparison("diag", estimate, 0.1, "2026-11-20", **kwargs)  # type: ignore[arg-type]

    assert stored(1.25, 0.9).status == "unchanged" and looks_regressed(stored(1.25, 0.9))
    assert looks_regressed(stored(1.25, 1.1))  # significant too
    assert not looks_regressed(stored(1.05, 0.9))  # within the tolerance
    assert not looks_regressed(stored(1.25, 0.9, gating=False))  # another machine's
    assert not looks_regressed(stored(1.25, 0.9, against="v1"))  # already the same job
    assert not looks_regressed(stored(1.25, 0.9, undecided="not enough samples (1 vs 1)"))
    # Pairing is skipped only when the stored interval shows the change is within 1 ± 10 %.
    assert not looks_changed(stored(1.0, 0.95, 1.06)) and not looks_changed(
        stored(0.93, 0.91, 0.96)
    )
    assert looks_changed(stored(1.0, 0.95, 1.12))  # a 10 % slowdown cannot be ruled out
    assert looks_changed(stored(0.99, 0.85, 1.05))  # nor a change far faster (below 1 / 1.1)
    assert looks_changed(stored(1.05, 0.9)) and not looks_regressed(stored(1.05, 0.9))
    # Far faster than the baseline is worth a look too: a slowdown may hide behind it.
    assert looks_changed(stored(0.8, 0.7)) and not looks_regressed(stored(0.8, 0.7))
    assert not looks_changed(stored(1.25, 0.9, gating=False))
    assert not looks_changed(stored(1.25, 0.9, against="v1"))


def test_a_same_job_pairing_says_what_the_stored_reading_said_and_what_it_found() -> None:
    def comparison(ratio: float, low: float, high: float, against: str | None) -> Comparison:
        estimate = RatioEstimate(ratio, low, high, 0.95, 20, 20)
        return Comparison("diag", estimate, 0.05, "" if against else "2026-11-20", True, against)

    def lines(stored: Comparison, paired: Comparison) -> list[str]:
        suspected = {"diag:regression": stored.line()}
        confirmed = {"diag:regression"} if paired.status == "regressed" else set()
        return Confirmation(
            "same-job",
            suspected,
            confirmed,
            seconds=12.0,
            against="1a2b3c4",
            paired=[paired],
            stored=[stored],
        ).lines("diag")

    wide, same = comparison(1.02, 0.85, 1.22, None), comparison(1.004, 0.99, 1.02, "1a2b3c4")
    assert lines(wide, same) == [
        "diag: stored baseline said +2.0 %, too uncertain to rule out ±5 %; same job says "
        "+0.4 % [-1.0, +2.0]: within the tolerance (against 1a2b3c4, 12.0 s confirming)"
    ]
    slowed = comparison(1.11, 1.08, 1.14, "1a2b3c4")
    assert lines(wide, slowed)[0].startswith("diag: regressed +11.0 % [+8.0, +14.0]: confirmed")
    faster = comparison(0.2, 0.15, 0.25, None)  # baseline saved on a far busier day
    assert lines(faster, same)[0].startswith(
        "diag: stored baseline said -80.0 %, beyond ±5 %; same job says +0.4 %"
    )
    flagged = comparison(1.4, 1.2, 1.6, None)
    assert "not confirmed (machine noise; against 1a2b3c4" in lines(flagged, same)[0]


def test_a_confirmation_survives_its_plain_form() -> None:
    result = _run(RetryPolicy(max_attempts=3), [{"a"}, {"a"}, {"a"}])
    again = Confirmation.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert again.lines("diag")[0] == (
        "diag: a: confirmed in every attempt (3 attempts, 7.0 s confirming)"
    )


# -- real sessions ----------------------------------------------------------------------

FAST_RETRY = '{"base_delay": "10ms", "max_delay": "20ms"}'

FLAKY = f"""
import time
import pytest

RUNS = {{"noisy": 0, "raises": 0}}

@pytest.mark.aide(mean="0.2s", retry={FAST_RETRY})
def test_noisy_once(aide_timer):
    # Slow on the first attempt only, as a check hit by a noisy spell.
    RUNS["noisy"] += 1
    aide_timer(time.sleep, 0.3 if RUNS["noisy"] == 1 else 0, iterations=2, warmup=0)

@pytest.mark.aide(mean="0.1s", retry={FAST_RETRY})
def test_always_slow(aide_timer):
    aide_timer(time.sleep, 0.15, iterations=2, warmup=0)

@pytest.mark.aide(mean="0.2s", retry={FAST_RETRY})
def test_raises_in_a_retry(aide_timer):
    RUNS["raises"] += 1
    if RUNS["raises"] > 1:
        raise ValueError("the target broke on its second run")
    aide_timer(time.sleep, 0.3, iterations=2, warmup=0)
"""


def _report(pytester: pytest.Pytester) -> dict[str, dict]:
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    return {check["name"]: check for check in report["checks"]}


def test_a_suspected_limit_is_measured_again_before_it_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_perf=FLAKY)
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "test_always_slow: mean * > 0.10 s",
            "test_always_slow: mean * > 0.10 s: confirmed in every attempt "
            "(3 attempts, * s confirming)",
            "test_always_slow:   attempt 1 at +0.0 s (*): mean * > 0.10 s",
            "test_always_slow:   attempt 3 at +*",
        ]
    )
    result.stdout.fnmatch_lines(["*ValueError: the target broke on its second run*"])
    result.stdout.fnmatch_lines(
        [
            "confirm: test_noisy_once: mean * > 0.20 s: not confirmed (machine noise): "
            "broken in 1 of 2 attempts (2 attempts, * s confirming)",
            "confirm: test_noisy_once:   attempt 2 at +* s (*): within limits",
            "confirm: 3 suspected check(s) measured again, * s confirming (--aide-confirm)",
        ]
    )
    checks = _report(pytester)
    noisy = checks["test_noisy_once"]
    assert noisy["status"] == "PASS" and noisy["failures"] == []
    confirmation = noisy["confirmation"]
    assert confirmation["kind"] == "retry" and confirmation["outcome"] == "not confirmed"
    assert [a["number"] for a in confirmation["attempts"]] == [1, 2]
    assert confirmation["decided_by"] == 2 and confirmation["seconds"] > 0
    assert list(confirmation["attempts"][0]["suspects"]) == ["test_noisy_once:mean"]
    assert confirmation["attempts"][1]["suspects"] == {}
    # The check's figures are the deciding attempt's.
    assert noisy["results"][0]["stats"]["mean"] < 0.2

    slow = checks["test_always_slow"]
    assert slow["status"] == "FAIL" and slow["confirmation"]["confirmed"] == [
        "test_always_slow:mean"
    ]
    assert len(slow["confirmation"]["attempts"]) == 3
    raised = checks["test_raises_in_a_retry"]["confirmation"]
    assert raised["outcome"] == "raised" and "ValueError" in raised["attempts"][1]["raised"]

    markdown = (pytester.path / ".aide" / "report.md").read_text()
    attention = markdown.split("## Needs attention")[1].split("## Checks")[0]
    assert "test_noisy_once" in attention and "not confirmed (machine noise)" in attention
    assert "Time spent confirming suspected failures:" in markdown
    page = (pytester.path / ".aide" / "report.html").read_text()
    assert "not confirmed (machine noise)" in page


def test_confirm_zero_fails_at_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_perf="""
        import time
        import pytest

        @pytest.mark.aide(mean="0.1s")
        def test_always_slow(aide_timer):
            aide_timer(time.sleep, 0.15, iterations=2, warmup=0)
        """
    )
    result = pytester.runpytest("--aide-perf", "--aide-confirm", "0")
    result.assert_outcomes(failed=1)
    assert "confirm:" not in result.stdout.str() and "attempt" not in result.stdout.str()
    assert _report(pytester)["test_always_slow"]["confirmation"] is None


def test_a_retry_table_overrides_the_option_and_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naide_confirm = 0\n")
    pytester.makepyfile(
        test_perf="""
        import time
        import pytest

        @pytest.mark.aide(mean="0.1s", retry={"max_attempts": 4, "base_delay": "1ms"})
        def test_own(aide_timer):
            aide_timer(time.sleep, 0.15, iterations=1, warmup=0)

        @pytest.mark.aide(mean="0.1s")
        def test_ini(aide_timer):
            aide_timer(time.sleep, 0.15, iterations=1, warmup=0)
        """
    )
    pytester.runpytest("--aide-perf").assert_outcomes(failed=2)
    checks = _report(pytester)
    assert len(checks["test_own"]["confirmation"]["attempts"]) == 4
    assert checks["test_ini"]["confirmation"] is None


def test_benchmark_tests_and_scenarios_are_measured_again(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest-benchmark switches itself off in xdist workers, which this suite may run in.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(
        test_bench="""
        import time
        import pytest

        @pytest.mark.aide(mean="1ms", retry={"base_delay": "1ms", "max_delay": "1ms"})
        def test_bench(benchmark):
            benchmark.pedantic(time.sleep, args=(0.01,), rounds=3)
        """,
        slowmod="""
        import time

        def work():
            time.sleep(0.01)
        """,
    )
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "s.toml").write_text(
        "[scenarios.slow]\ntarget = 'slowmod:work'\niterations = 2\nwarmup = 0\n"
        "thresholds = { mean = '1ms' }\nretry = { max_attempts = 2, base_delay = '1ms' }\n"
    )
    result = pytester.runpytest("--aide-perf", "-p", "no:xdist", "--benchmark-json=bench.json")
    result.assert_outcomes(failed=2)
    assert "FixtureAlreadyUsed" not in result.stdout.str()
    checks = _report(pytester)
    assert len(checks["test_bench"]["confirmation"]["attempts"]) == 3
    assert len(checks["slow"]["confirmation"]["attempts"]) == 2
    # pytest-benchmark lists the test once: the retry's use replaced the first.
    listed = json.loads((pytester.path / "bench.json").read_text())["benchmarks"]
    assert [b["name"] for b in listed] == ["test_bench"]


def test_xdist_workers_send_their_confirmations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_perf=FLAKY)
    result = pytester.runpytest("--aide-perf", "-n", "2")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["confirm: test_noisy_once: *not confirmed (machine noise)*"])
    checks = _report(pytester)
    assert checks["test_noisy_once"]["confirmation"]["outcome"] == "not confirmed"
    assert checks["test_always_slow"]["confirmation"]["outcome"] == "confirmed"


# -- stored baselines: the same-job route and its fallbacks -------------------------------

WORK = """
import os
import time

def work():
    time.sleep(0.01 * float(os.environ.get("AIDE_TEST_SCALE", "1")))
"""

STORED = """
from work import work

def test_diag(aide_timer):
    aide_timer(work, iterations=10, warmup=1)
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


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A git repository whose one check's baseline is saved at its first commit."""
    pytester.makepyfile(work=WORK, test_perf=STORED)
    pytester.makeini("[pytest]\naide_confirm = 2\n")
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", "work.py", "test_perf.py", "tox.ini")
    _git(pytester.path, "commit", "-qm", "work")
    pytester.runpytest("--aide-perf", "--aide-save-baseline").assert_outcomes(passed=1)
    return pytester


def _baseline(pytester: pytest.Pytester) -> Path:
    (path,) = (pytester.path / "baselines").rglob("test_diag.json")
    return path


def test_a_real_regression_is_confirmed_against_the_baseline_commit(repo: pytest.Pytester) -> None:
    commit = _git(repo.path, "rev-parse", "HEAD")[:7]
    (repo.path / "work.py").write_text(WORK.replace("0.01 *", "0.06 *"))
    result = repo.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"test_diag: regressed +* %* (95 % CI *) vs {commit} (same job), tolerance 10 %",
            f"test_diag: regressed +* % [[]+*, +*[]]: confirmed against {commit} in the same job "
            "(stored baseline said +* %; * s confirming)",
        ]
    )
    confirmation = _report(repo)["test_diag"]["confirmation"]
    assert confirmation["kind"] == "same-job" and confirmation["outcome"] == "confirmed"
    assert confirmation["against"] == commit and confirmation["paired"][0]["ratio"] > 3


def test_the_machine_slowing_down_is_not_confirmed(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDE_TEST_SCALE", "6")  # both trees wait longer: not the code
    result = repo.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "confirm: test_diag: stored baseline said +* %, same job says * "
            "not confirmed (machine noise; against *, * s confirming)"
        ]
    )
    check = _report(repo)["test_diag"]
    assert check["status"] == "PASS"
    gating = [c["gating"] for c in check["comparisons"]]
    assert sorted(gating) == [False, True]  # the stored one shown, the same-job one gates


@pytest.mark.parametrize("why", ["missing commit", "dirty tree", "no commit"])
def test_without_a_usable_commit_the_check_is_measured_again(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    path = _baseline(repo)
    data = json.loads(path.read_text())
    if why == "missing commit":
        data["commit"] = "0123456789abcdef0123456789abcdef01234567"
        expected = "the stored baseline's commit 0123456 cannot be measured here"
    elif why == "dirty tree":
        data["dirty"] = True
        expected = "the stored baseline was measured on a modified tree at"
    else:
        del data["commit"], data["dirty"]
        expected = "the stored baseline records no commit: measured again instead"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("AIDE_TEST_SCALE", "6")
    result = repo.runpytest("--aide-perf", "-o", "aide_confirm=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{expected}*"])
    confirmation = _report(repo)["test_diag"]["confirmation"]
    assert confirmation["kind"] == "retry" and confirmation["outcome"] == "confirmed"
    assert len(confirmation["attempts"]) == 2
    assert path.read_text() == json.dumps(data)  # never rewritten


def test_a_far_faster_reading_that_cannot_be_checked_says_why(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A machine far faster than the baseline's could hide a slowdown: the reading is
    # worth measuring beside the baseline's commit; when that cannot be done, the stored
    # verdict stands and a note says so (it once vanished without a word).
    path = _baseline(repo)
    data = json.loads(path.read_text())
    data["commit"] = "0123456789abcdef0123456789abcdef01234567"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("AIDE_TEST_SCALE", "0.05")  # sleeps: no machine is that noisy
    result = repo.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["note: test_diag: the stored baseline's commit 0123456 cannot be measured here*"]
    )
    check = _report(repo)["test_diag"]
    assert check["status"] == "IMPROVED" and check["confirmation"] is None


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_a_counted_checks_wall_time_is_never_measured_again(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        work=WORK,
        test_perf=STORED.replace(
            "def test", "@pytest.mark.aide(measure='instructions')\ndef test"
        ).replace("from work", "import pytest\nfrom work"),
    )
    pytester.runpytest("--aide-perf", "--aide-save-baseline").assert_outcomes(passed=1)
    monkeypatch.setenv("AIDE_TEST_SCALE", "6")
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(passed=1)  # x6 longer sleeps, the same count: its count gates
    assert _report(pytester)["test_diag"]["confirmation"] is None


def test_load_checks_are_confirmed_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_confirmed_load="""
        import pytest

        @pytest.mark.aide(throughput_min=1e12, retry={"max_attempts": 2, "base_delay": "1ms"})
        def test_load(aide_load):
            aide_load(lambda: None, concurrency=2, requests=20)
        """
    )
    result = pytester.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["test_load: throughput * < * confirmed in every attempt *"])
    assert len(_report(pytester)["test_load"]["confirmation"]["attempts"]) == 2


def test_a_reading_far_faster_than_the_baseline_is_measured_beside_its_commit(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The baseline saved on a "busy day" (x6); now the machine is quick and the code
    # slower by x3: the stored reading says faster, the same job says slower.
    shutil.rmtree(repo.path / "baselines")
    monkeypatch.setenv("AIDE_TEST_SCALE", "6")
    repo.runpytest("--aide-perf", "--aide-save-baseline").assert_outcomes(passed=1)
    monkeypatch.delenv("AIDE_TEST_SCALE")
    (repo.path / "work.py").write_text(WORK.replace("0.01 *", "0.03 *"))
    result = repo.runpytest("--aide-perf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_diag: regressed +* % [[]*]: confirmed against * in the same job "
            "(stored baseline said -* %; * s confirming)"
        ]
    )
