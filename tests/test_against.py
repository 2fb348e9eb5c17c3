"""``--aide-against REV``: the same job measures REV and this tree, interleaved."""

from __future__ import annotations

import json
import subprocess

import pytest

MODULE = "def work(scale=1.0):\n    return sum(i * i for i in range(int(5000 * scale)))\n"


def git(pytester: pytest.Pytester, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=pytester.path, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(aide_mod=MODULE)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "s.toml").write_text(
        '[scenarios.work]\ntarget = "aide_mod:work"\nthresholds = { mean = "1h" }\n'
    )
    pytester.makepyfile(
        test_timed="from aide_mod import work\n\n"
        "def test_timed(aide_timer):\n    aide_timer(work)\n"
    )
    git(pytester, "init", "-q")
    git(pytester, "-c", "user.email=a@b", "-c", "user.name=a", "add", "-A")
    git(pytester, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "base")
    return pytester


def test_a_slowed_tree_is_flagged_against_the_revision(repo: pytest.Pytester) -> None:
    # x6 is far outside any noise, so this does not depend on the machine's speed.
    repo.makepyfile(aide_mod=MODULE.replace("5000 * scale", "30000 * scale"))
    # Three rounds of fresh workers (at most six) are enough to tell x6 from nothing.
    result = repo.runpytest(
        "--aide-perf",
        "--aide-against",
        "HEAD",
        "--aide-against-rounds",
        "3",
        "-o",
        "aide_explain=never",
    )
    result.assert_outcomes(failed=2)
    rounds = json.loads((repo.path / ".aide" / "report.json").read_text())["against"]["rounds"]
    assert 3 <= rounds <= 6
    result.stdout.fnmatch_lines_random(
        [
            "work: regressed +* %* (95 % CI +*..+* %) vs HEAD (*) (same job), tolerance 10 %",
            "test_timed: regressed +* % * vs HEAD (*) (same job), tolerance 10 %",
            "profile: default; machine: *; against: HEAD (*) (same job)",
        ]
    )
    assert git(repo, "worktree", "list").count("\n") == 1  # the temporary worktree is gone


def test_an_unchanged_tree_passes(repo: pytest.Pytester) -> None:
    result = repo.runpytest("--aide-perf", "--aide-against", "HEAD", "--aide-tolerance", "50%")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["same-job pairing: 2 check(s) run in both trees, * rounds of fresh workers, *"]
    )
    text = (repo.path / ".aide" / "report.json").read_text()
    assert '"against": "HEAD (' in text
    report = json.loads(text)
    assert report["against"]["paired_checks"] == 2 and report["against"]["rounds"] >= 8
    for check in report["checks"]:
        (sources,) = check["against_sources"].values()
        assert sources["clock"] in ("cpu", "wall")
        # Each side's callable came from its own checkout.
        assert sources["a"] != sources["b"]
        assert sources["b"].startswith(str(repo.path))


def test_smoke_mode_ignores_it(repo: pytest.Pytester) -> None:
    repo.runpytest("--aide-against", "no-such-rev").assert_outcomes(passed=2)


def test_unknown_revision(repo: pytest.Pytester) -> None:
    result = repo.runpytest("--aide-perf", "--aide-against", "no-such-rev")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --aide-against no-such-rev: unknown revision 'no-such-rev'"]
    )


def test_not_a_repository(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--aide-perf", "--aide-against", "HEAD")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --aide-against HEAD: * is not inside a git repository"])


def test_git_missing(repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo.path / "no-bin-here"))
    result = repo.runpytest("--aide-perf", "--aide-against", "HEAD")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --aide-against HEAD: git is not installed"])


def test_a_check_missing_at_the_revision_is_reported_not_compared(repo: pytest.Pytester) -> None:
    repo.makepyfile(aide_new="def fresh():\n    return 1\n")
    (repo.path / "scenarios" / "s.toml").write_text(
        '[scenarios.fresh]\ntarget = "aide_new:fresh"\n'
    )
    result = repo.runpytest("--aide-perf", "--aide-against", "HEAD", "scenarios")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["note: fresh: not compared against HEAD (*): not found at HEAD (*)"]
    )


def test_closures_and_fixtures_are_compared(repo: pytest.Pytester) -> None:
    # A test whose callable is a closure over a fixture: paired at the level of the item.
    repo.makepyfile(
        test_closure="import pytest\nfrom aide_mod import work\n\n"
        "@pytest.fixture\ndef scale():\n    return 1.0\n\n"
        "def test_closure(aide_timer, scale):\n"
        "    result = aide_timer(lambda: work(scale))\n"
        "    assert result.value > 0\n"
    )
    subprocess.run(["git", "add", "-A"], cwd=repo.path, check=True)
    git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "closure")
    repo.makepyfile(aide_mod=MODULE.replace("5000 * scale", "30000 * scale"))
    result = repo.runpytest(
        "--aide-perf",
        "--aide-against",
        "HEAD",
        "test_closure.py",
        "--aide-against-rounds",
        "3",
        "--aide-explain",
        "never",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["test_closure: regressed +* % * vs HEAD (*) (same job), tolerance 10 %"]
    )


def test_a_changed_file_named_like_a_stdlib_module_is_not_taken_for_it(
    repo: pytest.Pytester,
) -> None:
    # tools/bisect.py changed since HEAD; the standard library's bisect, which both sides
    # import from one file, is not that file (this once failed every same-job comparison).
    (repo.path / "tools").mkdir()
    (repo.path / "tools" / "bisect.py").write_text("import bisect\n")
    repo.makepyfile(aide_mod="import bisect\n" + MODULE)
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "tools")
    result = repo.runpytest(
        "--aide-perf",
        "--aide-against",
        "HEAD~1",
        "--aide-tolerance",
        "50%",
        "--aide-against-rounds",
        "3",
    )
    result.assert_outcomes(passed=2)
    assert "both sides imported" not in result.stdout.str()
