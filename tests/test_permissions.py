"""Paths the user may not read or write: one line each, the other checks go on, nothing changes.

Root reads and writes anything, and these machines run the suite as root, so
every session here runs as an ordinary user: ``setpriv`` drops to ``nobody``
in the subprocess (a suite run by an ordinary user runs them as itself).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = """
from work import work

def test_a(aide_timer):
    aide_timer(work)

def test_b(aide_timer):
    aide_timer(work)
"""

_PROBE = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'], check=True)"


def _user() -> tuple[int, int]:
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no ordinary user on this machine to drop to")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    return entry.pw_uid, entry.pw_gid


def _prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    uid, gid = _user()
    setpriv = shutil.which("setpriv") or "setpriv"
    return [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]


def _runs(python: str) -> bool:
    done = subprocess.run([*_prefix(), python, "-c", _PROBE], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture(scope="session")
def python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An interpreter the ordinary user can run (and re-run) with this tree's packages.

    This one, if the user can reach it; else a venv made from the system's
    Python of the same version, with this environment's site-packages added.
    """
    _user()
    if _runs(sys.executable):
        yield sys.executable
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if base is None or not _runs(base):
        pytest.skip(f"no {version} the ordinary user can run")
    home = Path(tempfile.mkdtemp(prefix="aide-user-venv-"))
    venv = home / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "aide_parent.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(parents))
    )
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else 0o644)
    chosen = str(venv / "bin" / "python")
    if not _runs(chosen):
        pytest.skip("the ordinary user cannot run a venv of the system's Python")
    yield chosen
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def project() -> Iterator[Path]:
    """A project the ordinary user owns, outside root's private temporary directories."""
    uid, gid = _user()
    path = Path(tempfile.mkdtemp(prefix="aide-perm-"))
    (path / "work.py").write_text("def work():\n    return sum(range(300))\n")
    (path / "test_t.py").write_text(TESTS)
    (path / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (path / "scenarios").mkdir()
    (path / "scenarios" / "s.toml").write_text('[scenarios.s]\ntarget = "work:work"\n')
    _own(path, uid, gid)
    yield path
    for sub in [path, *path.rglob("*")]:
        if not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def _own(path: Path, uid: int, gid: int) -> None:
    for sub in [path, *path.rglob("*")]:
        os.chown(sub, uid, gid)
    path.chmod(0o755)


def _run(python: str, project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIDE_"))}
    environ.update({"COLUMNS": "300", "HOME": str(project), **env})
    command = [*_prefix(), python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += ["-p", "no:memray"]  # pytest-memray: not what is tested here
    done = subprocess.run(
        [*command, "--aide-perf", "--aide-explain=never", *args],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "INTERNALERROR" not in out and "pytest_aide/" not in out, out
    assert "Traceback" not in out, out
    return done


def _snapshot(path: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}


def _saved(python: str, project: Path) -> Path:
    done = _run(python, project, "--aide-save-baseline")
    assert done.returncode == 0, done.stdout
    return project / "baselines"


def test_a_baseline_dir_the_user_cannot_write(python: str, project: Path) -> None:
    baselines = project / "baselines"
    baselines.mkdir()  # root's, 755: the user may read it, not write it
    (baselines / "README").write_text("kept\n")
    done = _run(python, project, "--aide-save-baseline")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    lines = [
        line
        for line in done.stdout.splitlines()
        if "cannot save baseline" in line and not line.startswith("FAILED")
    ]
    assert len(lines) == 3, done.stdout  # one per check, each naming its file
    assert any(
        line.startswith("test_a: baselines/")
        and "test_a.json: cannot save baseline: Permission denied" in line
        for line in lines
    )
    assert _snapshot(baselines) == {baselines / "README": b"kept\n"}


@pytest.mark.parametrize("which", ["baseline dir", "machine subdir"])
def test_a_baseline_the_user_cannot_read_is_not_compared(
    python: str, project: Path, which: str
) -> None:
    baselines = _saved(python, project)
    before = _snapshot(baselines)
    locked = baselines if which == "baseline dir" else next(baselines.iterdir())
    locked.chmod(0)
    done = _run(python, project)
    locked.chmod(0o755)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert "checks: 3, passed: 0, failed: 0, not compared: 3" in done.stdout
    assert (
        "not compared: test_a: baselines/" in done.stdout
        and "test_a.json: cannot read the baseline (permission denied)" in done.stdout
    )
    assert _snapshot(baselines) == before


def test_a_report_dir_the_user_cannot_write(python: str, project: Path) -> None:
    reports = project / ".aide"
    reports.mkdir()  # root's
    (reports / "report.json").write_text("{}\n")
    done = _run(python, project)
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert f"warning: cannot write {reports / 'report.json'}: Permission denied" in done.stdout
    assert "3 passed" in done.stdout
    assert _snapshot(reports) == {reports / "report.json": b"{}\n"}


def test_a_history_file_the_user_cannot_write(python: str, project: Path) -> None:
    reports = project / ".aide"
    reports.mkdir()
    os.chown(reports, *_user())
    history = reports / "history.sqlite"
    history.write_bytes(b"")  # root's, 644
    done = _run(python, project)
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert f"history: {history}: cannot write the history" in done.stdout
    assert "it was left as it is" in done.stdout
    assert (reports / "report.json").is_file() and history.read_bytes() == b""


@pytest.mark.parametrize("which", ["file", "dir"])
def test_scenarios_the_user_cannot_read(python: str, project: Path, which: str) -> None:
    locked = project / "scenarios" / ("s.toml" if which == "file" else "")
    locked.chmod(0)
    done = _run(python, project)
    locked.chmod(0o755)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    expected = (
        "scenarios/s.toml: cannot read file: Permission denied"
        if which == "file"
        else "scenarios: cannot read the scenario directory (permission denied)"
    )
    assert expected in done.stdout
    assert "2 passed, 1 error" in done.stdout  # the tests still ran


def test_home_and_tmpdir_the_user_cannot_use(python: str, project: Path) -> None:
    locked = Path(tempfile.mkdtemp(prefix="aide-locked-"))
    try:
        os.chown(locked, *_user())
        locked.chmod(0)
        done = _run(python, project, HOME=str(locked), TMPDIR=str(locked))
    finally:
        locked.chmod(0o700)
        shutil.rmtree(locked, ignore_errors=True)
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert "3 passed" in done.stdout
