"""Shared set-up for pytest-aide's own tests."""

from __future__ import annotations

import itertools
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


# CPU seconds per test of the files whose tests run valgrind sessions, venvs or
# whole suites (measured with the suite under way; the rest take about a second).
HEAVY = {
    "test_attribution.py": 10.0,
    "test_counts.py": 10.8,
    "test_against_layouts.py": 9.9,
    "test_bisect.py": 7.3,
    "test_xdist.py": 7.4,
    "test_against.py": 5.7,
    "test_suites.py": 3.5,
    "test_locust.py": 3.5,
}
TOGETHER = {"test_attribution.py"}
"""Files whose tests share a module-scoped venv: one worker runs all of them."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each xdist worker's share starts with its part of the heavy tests.

    ``--dist worksteal`` hands each worker a contiguous slice of the collection
    and lets idle workers take the tail of a busy one's slice. The heavy tests
    are dealt out so that every slice begins with an even share of them (no
    worker is left alone with a 40-second test at the end) and the light ones
    fill the slices behind them. Every worker computes the same order.
    """
    heavy = [item for item in items if item.path.name in HEAVY]
    light = [item for item in items if item.path.name not in HEAVY]
    heavy.sort(key=lambda item: -HEAVY[item.path.name])  # stable: a file's tests keep order
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    sizes, left = [], len(items)
    for i in range(workers):  # the slices worksteal cuts
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    groups: dict[str, list[pytest.Item]] = {}
    for item in heavy:
        key = item.path.name if item.path.name in TOGETHER else item.nodeid
        groups.setdefault(key, []).append(item)
    slices: list[list[pytest.Item]] = [[] for _ in sizes]
    loads = [0.0] * len(sizes)
    for group in groups.values():
        free = [i for i in range(len(sizes)) if len(slices[i]) + len(group) <= sizes[i]]
        chosen = min(free or range(len(sizes)), key=lambda i: loads[i])
        slices[chosen] += group
        loads[chosen] += HEAVY[group[0].path.name] * len(group)
    rest = iter(light)
    for share, size in zip(slices, sizes, strict=True):
        share += itertools.islice(rest, size - len(share))
    items[:] = [item for share in slices for item in share] + list(rest)


@pytest.fixture(autouse=True)
def _quiet_inner_sessions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester sessions have no ini file; give them pytest-asyncio's loop scope."""
    # Each test's sessions keep REV's counts in a cache of their own, outside the
    # project (pytester's HOME is the project itself).
    cache = request.getfixturevalue("tmp_path_factory").mktemp("user-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
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
