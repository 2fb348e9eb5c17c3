"""Installing pytest-aide changes nothing in a session that does not use it.

pytest-benchmark and pytest-asyncio are extras, not dependencies: a project
that has neither sees no header line and no warning of theirs. These sessions
run with plugin autoloading off and both packages made unimportable, as on a
machine where only pytest-aide (with its dependencies) is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = """
import importlib.abc, sys

class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"pytest_benchmark", "pytest_asyncio"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture
def bare(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project whose sessions load pytest-aide and no other installed plugin."""
    site = pytester.mkdir("site")
    (site / "sitecustomize.py").write_text(BLOCKER)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(
        test_plain="def test_plain():\n    assert sum(range(10)) == 45\n",
        test_timed=(
            "def test_timed(aide_timer):\n"
            "    result = aide_timer(sorted, list(range(100)), iterations=5)\n"
            "    assert result.value[0] == 0\n"
        ),
    )
    return pytester


def test_the_extras_are_not_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split(";")[0].strip() for dep in project["dependencies"]}
    assert not names & {"pytest-benchmark", "pytest-asyncio"}
    assert project["optional-dependencies"]["benchmark"] == ["pytest-benchmark>=4.0"]
    assert project["optional-dependencies"]["asyncio"] == ["pytest-asyncio>=1.0"]


def test_a_session_that_does_not_use_aide_sees_nothing_of_it(bare: pytest.Pytester) -> None:
    result = bare.runpytest_subprocess("-p", "pytest_aide.plugin", "test_plain.py")
    result.assert_outcomes(passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "No module named" not in output  # the blocker is in force, and nothing needed them
    assert "benchmark:" not in output
    assert "asyncio:" not in output
    assert "Warning" not in output
    assert "aide:" not in output and "aide performance" not in output


def test_aide_measures_without_the_extras(bare: pytest.Pytester) -> None:
    result = bare.runpytest_subprocess("-p", "pytest_aide.plugin", "--aide-perf")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*aide performance summary*", "*test_timed*PASS*"])
    assert (bare.path / ".aide" / "report.json").is_file()


def test_benchmark_json_without_pytest_benchmark_is_one_line(bare: pytest.Pytester) -> None:
    result = bare.runpytest_subprocess(
        "-p", "pytest_aide.plugin", "--aide-perf", "--aide-benchmark-json", "bench.json"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --aide-benchmark-json *: install pytest-benchmark (pip install 'pytest-aide*')"]
    )
    assert "Traceback" not in result.stderr.str()
    assert not (bare.path / "bench.json").exists()
