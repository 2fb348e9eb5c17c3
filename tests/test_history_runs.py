"""The history as something to compare against: commits, samples, --aide-compare-run, trends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_aide.cli import main
from pytest_aide.history import History, HistoryError

SUITE = """
import pytest

def work(n=2000):
    return sum(i * i for i in range(n))

@pytest.mark.aide(mean="1h")
def test_kept(aide_timer):
    aide_timer(work, iterations=12, warmup=1)
"""


def _git(project: pytest.Pytester, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=project.path, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A git repository on branch ``main`` with one timed check, committed."""
    pytester.makepyfile(test_history_suite=SUITE)
    pytester.makefile(".gitignore", ".aide/\n__pycache__/\n")
    _git(pytester, "init", "-q", "-b", "main")
    _git(pytester, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(pytester, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return pytester


def _perf(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--aide-perf", "-p", "no:randomly", "--aide-confirm", "0", *args)


def test_a_run_records_its_commit_branch_date_and_every_sample(project: pytest.Pytester) -> None:
    _perf(project).assert_outcomes(passed=1)
    head = _git(project, "rev-parse", "HEAD")
    store = History(project.path / ".aide" / "history.sqlite")
    (run,) = store.runs()
    assert (run.commit, run.branch, run.dirty) == (head, "main", False)
    assert run.label().startswith(f"#1 {head[:7]} (main) 20")
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    assert (report["commit"], report["branch"], report["dirty"]) == (head, "main", False)
    (kept,) = store.results(run.id)["test_history_suite.py::test_kept"]
    (measured,) = report["checks"][0]["results"]
    assert kept["samples"] == measured["samples"] and len(kept["samples"]) == 12


def test_compare_run_gates_against_a_stored_run_as_against_a_baseline(
    project: pytest.Pytester,
) -> None:
    _perf(project).assert_outcomes(passed=1)
    head = _git(project, "rev-parse", "HEAD")
    # Each session is recorded too: "latest" and a commit pick the newest run there is.
    for selector, number in (("1", 1), ("latest", 2), (head[:7], 3)):
        result = _perf(project, "--aide-compare-run", selector)
        label = f"history run #{number} {head[:7]} (main) 20"
        result.stdout.fnmatch_lines([f"profile: default; machine: *; against: {label}*"])
        report = json.loads((project.path / ".aide" / "report.json").read_text())
        (comparison,) = report["checks"][0]["comparisons"]
        assert comparison["result"] == "test_kept" and comparison["gating"]
        assert comparison["baseline_date"].startswith(label)  # "vs baseline of history run #1..."
        assert report["compared_with"].startswith(label)
    # Without it, the same session has no baseline files to compare with.
    _perf(project)
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    assert report["checks"][0]["comparisons"] == []


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("9", "no run 9 (runs 1 to 1)"),
        ("deadbee", "no run of a commit starting 'deadbee' (commits: *)"),
    ],
)
def test_a_run_that_is_not_there_is_one_line(
    project: pytest.Pytester, selector: str, message: str
) -> None:
    _perf(project).assert_outcomes(passed=1)
    result = _perf(project, "--aide-compare-run", selector)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --aide-compare-run {selector}: */.aide/history.sqlite: {message}"]
    )
    assert "Traceback" not in result.stderr.str()


def test_a_commit_abbreviated_to_digits_is_found_as_a_commit(tmp_path: Path) -> None:
    store = History(tmp_path / "history.sqlite")
    totals = {"checks": 0, "passed": 0, "failed": 0}
    for commit in ("5247369" + "a" * 33, "f" * 40):
        store.append(
            {
                "created": "2026-11-26",
                "profile": "default",
                "totals": totals,
                "checks": [],
                "commit": commit,
            },
            "m",
        )
    assert store.find_run("2").commit == "f" * 40  # a run number first
    assert store.find_run("5247369").id == 1  # then, from four digits on, a commit
    with pytest.raises(HistoryError, match=r"no run 7 \(runs 1 to 2\)$"):
        store.find_run("7")
    with pytest.raises(
        HistoryError, match=r"no run 1234 .* and no run of a commit starting '1234'"
    ):
        store.find_run("1234")


def test_compare_run_without_a_history_is_one_line(project: pytest.Pytester) -> None:
    result = _perf(project, "--aide-compare-run", "latest")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --aide-compare-run latest: *: no history yet *"])
    assert not (project.path / ".aide" / "history.sqlite").exists()


def test_history_check_prints_its_trend_with_commits(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    _perf(project)
    (project.path / "test_history_suite.py").write_text(SUITE.replace("2000", "2500"))
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    _perf(project)
    first, second = _git(project, "rev-list", "--reverse", "HEAD").split()
    path = str(project.path / ".aide" / "history.sqlite")
    capsys.readouterr()
    assert main(["history", "--path", path, "test_history_suite.py::test_kept"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "test_history_suite.py::test_kept"
    assert lines[1].split()[:4] == ["run", "created", "commit", "branch"]
    assert [line.split()[2] for line in lines[2:]] == [first[:7], second[:7]]
    assert all(" main " in line and " median " in line and "PASS" in line for line in lines[2:])
    assert main(["history", "--path", path]) == 0
    runs = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in runs[1:]] == [second[:7], first[:7]]
    assert main(["history", "--path", path, "test_history_suite.py::test_kep"]) == 2
    assert "did you mean 'test_history_suite.py::test_kept'?" in capsys.readouterr().err
    page = (project.path / ".aide" / "report.html").read_text()
    assert f"#1 {first[:7]}" in page and f"#2 {second[:7]}" in page
