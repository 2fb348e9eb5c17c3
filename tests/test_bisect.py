"""pytest-aide bisect: real git repositories with a planted slowdown, measured commit by commit."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_aide.bisect import first_bad


@pytest.mark.parametrize("count", range(1, 9))
def test_the_search_finds_the_first_bad_index_asking_few_questions(count: int) -> None:
    for bad in range(count):
        asked: list[int] = []

        def regressed(index: int, bad: int = bad, asked: list[int] = asked) -> bool:
            asked.append(index)
            return index >= bad

        assert first_bad(count, regressed) == bad
        assert len(asked) <= max(count - 1, 0).bit_length()
        assert count - 1 not in asked  # BAD is known bad


WORK = """
def planted_hot_spot(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

SCALE = 1

def diagnose():
    return planted_hot_spot(3000 * SCALE)
"""

TEST = """
import pytest
from work import diagnose

@pytest.mark.aide(name="diag")
def test_diag(aide_timer):
    aide_timer(diagnose, iterations=5)

@pytest.mark.aide(name="other")
def test_other(aide_timer):
    aide_timer(sum, range(100), iterations=5)
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(pytester: pytest.Pytester) -> Path:
    path = pytester.path
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "aide@example.com")
    _git(path, "config", "user.name", "aide")
    (path / "work.py").write_text(WORK)
    (path / "test_checks.py").write_text(TEST)
    # The project's ini loads a plugin that crashes every session: bisect's own sessions,
    # and their workers, must run with the user's options (-o addopts=) as given.
    (path / "pytest.ini").write_text("[pytest]\npythonpath = .\naddopts = -p crashplug\n")
    (path / "crashplug.py").write_text(
        "def pytest_configure(config):\n    raise RuntimeError('crashplug: no coverage here')\n"
    )
    _git(path, "add", "-A")
    _git(path, "commit", "-qm", "first")
    for message in ("tidy one", "planted: twice the work", "tidy two"):
        text = (path / "work.py").read_text()
        if message.startswith("planted"):
            text = text.replace("SCALE = 1", "SCALE = 2")
        (path / "work.py").write_text(text + f"# {message}\n")
        _git(path, "commit", "-qam", message)
    return path


def _bisect(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Twice the work is plain in 3 rounds of pairing on wall time (instruction counts pair none).
    command = [sys.executable, "-m", "pytest_aide.cli", "bisect", *args, "--", "-o", "addopts="]
    command += ["--aide-against-rounds", "3"]
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_bisect_names_the_planted_commit_and_leaves_the_checkout_alone(repo: Path) -> None:
    head, status = _git(repo, "rev-parse", "HEAD"), _git(repo, "status", "--porcelain")
    planted = _git(repo, "rev-parse", "--short=7", "HEAD~1")
    done = _bisect(repo, "HEAD~3", "HEAD", "-k", "diag")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        lines[0] == "bisect HEAD~3..HEAD on instructions, each commit beside GOOD in the same job:"
    )
    assert any(f"{planted} 'planted: twice the work': regressed +" in line for line in lines)
    assert lines[-1].startswith(
        f"first regressed commit: {planted} 'planted: twice the work': +"
    ), done.stdout
    assert "on instructions against HEAD~3" in lines[-1]
    assert _git(repo, "rev-parse", "HEAD") == head
    assert _git(repo, "status", "--porcelain") == status
    assert len(_git(repo, "worktree", "list").splitlines()) == 1


def test_bisect_on_wall_time_pairs_each_commit_with_good(repo: Path) -> None:
    # Twice the work, measured beside GOOD in the same job: a paired ratio near 2 on a
    # busy machine as on an idle one (see benchmarks/gate_accuracy.py for the noise).
    planted = _git(repo, "rev-parse", "--short=7", "HEAD~1")
    done = _bisect(repo, "HEAD~3", "HEAD", "-k", "diag", "--measure", "time")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "bisect HEAD~3..HEAD on wall time, each commit beside GOOD in the same job:"
    assert lines[-1].startswith(f"first regressed commit: {planted} 'planted: twice the work': +")
    assert "on wall time against HEAD~3" in lines[-1], lines[-1]
    assert len(_git(repo, "worktree", "list").splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "HEAD", "-k", "diag"), "pytest-aide bisect: unknown revision 'nope'"),
        (
            ("HEAD", "HEAD~3", "-k", "diag"),
            "pytest-aide bisect: GOOD 'HEAD' is not an ancestor of BAD 'HEAD~3'",
        ),
        (
            ("HEAD~3", "HEAD", "-k", "missing_check", "--measure", "time"),
            "pytest-aide bisect: * no check matches -k missing_check",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(repo: Path, args: tuple[str, ...], message: str) -> None:
    done = _bisect(repo, *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and fnmatch.fnmatch(lines[0], message), lines
    assert len(_git(repo, "worktree", "list").splitlines()) == 1


def test_a_bad_that_did_not_regress_has_nothing_to_bisect(repo: Path) -> None:
    done = _bisect(repo, "HEAD~1", "HEAD", "-k", "diag", "--measure", "instructions")
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    assert done.returncode == 1
    assert "did not regress against GOOD" in done.stderr and "nothing to bisect" in done.stderr


SHAPES = {
    "marker": {
        "test_marked.py": "import pytest\nfrom work import diagnose\n\n"
        "@pytest.mark.benchmark\ndef test_marked():\n    diagnose()\n",
    },
    "asv": {
        "asv.conf.json": '{"version": 1, "benchmark_dir": "benchmarks"}\n',
        "benchmarks/__init__.py": "",
        "benchmarks/bench_work.py": "from work import diagnose\n\n"
        "def time_diagnose():\n    diagnose()\n",
    },
}


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.parametrize(("shape", "check"), [("marker", "test_marked"), ("asv", "time_diagnose")])
def test_bisect_finds_the_commit_in_a_suite_as_it_was_written(
    pytester: pytest.Pytester, shape: str, check: str
) -> None:
    path = pytester.path
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "aide@example.com")
    _git(path, "config", "user.name", "aide")
    (path / "work.py").write_text(WORK)
    (path / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    for name, text in SHAPES[shape].items():
        (path / name).parent.mkdir(exist_ok=True)
        (path / name).write_text(text)
    _git(path, "add", "-A")
    _git(path, "commit", "-qm", "first")
    for message in ("planted: twice the work", "tidy"):
        text = (path / "work.py").read_text()
        (path / "work.py").write_text(text.replace("SCALE = 1", "SCALE = 2") + f"# {message}\n")
        _git(path, "commit", "-qam", message)
    planted = _git(path, "rev-parse", "--short=7", "HEAD~1")
    command = [sys.executable, "-m", "pytest_aide.cli", "bisect", "HEAD~2", "HEAD", "-k", check]
    done = subprocess.run(command, cwd=path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith(f"first regressed commit: {planted} 'planted: twice the work': +"), last
