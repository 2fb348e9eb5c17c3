"""Shared set-up for pytest-aide's own tests."""

from __future__ import annotations

import os
import sys

import pytest

pytest_plugins = ["pytester"]

# Every worker, count and pytester session this suite starts imports pytest-aide,
# pytest and their plugins afresh; where the machine says not to keep bytecode
# (PYTHONDONTWRITEBYTECODE), each would compile them again, under valgrind too.
# Users' machines keep it, and so do the sessions these tests start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than cores, as a third of the suite's time is waiting.

    Targets that sleep, confirmation back-offs and worker sessions starting up
    leave a core idle; a third worker on two cores took the suite from 758 s to 602 s.
    """
    return (os.cpu_count() or 1) + 1


# Files whose tests run valgrind sessions, venvs or whole suites (30-60 s each): started
# first, so that no worker is left with one of them while the others have finished.
HEAVY_FIRST = (
    "test_attribution.py",
    "test_bisect.py",
    "test_counts.py",
    "test_against_layouts.py",
    "test_suites.py",
    "test_xdist.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heaviest files' tests first, each file's tests in their own order."""
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _quiet_inner_sessions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester sessions have no ini file; give them pytest-asyncio's loop scope."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when created
        # Nor hypothesis's plugin: no inner session uses it, and it imports hypothesis at
        # every session's end (a second and more under valgrind, in each count worker).
        monkeypatch.setenv(
            "PYTEST_ADDOPTS",
            "-o asyncio_default_fixture_loop_scope=function -p no:hypothesispytest",
        )
        # Inner sessions must not append to the real job summary of a GitHub Actions run.
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        # A wide terminal, so rows keep every column; tests/test_terminal.py sets its own.
        monkeypatch.setenv("COLUMNS", "250")
