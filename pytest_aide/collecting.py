"""Collection: scenario files as items, the ``aide`` mark on every check, ``--aide-only``.

:class:`Collection` is registered beside the session whether or not ``--aide-perf``
is given: scenario files are collected (and run once) in every session, and
``-m aide`` selects the same checks either way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import pytest

from pytest_aide.collect import Host, ScenarioFileCollector, ScenarioItem, UnreadableScenarios
from pytest_aide.config import CheckPatterns, display_path, selects
from pytest_aide.fileio import absolute
from pytest_aide.suites import declared

__all__ = ["AIDE_FIXTURES", "COLLECTION_NAME", "Collection", "measures"]

COLLECTION_NAME = "aide-collection"
AIDE_FIXTURES = ("aide_timer", "aide_memory", "aide_cpu", "aide_load")
"""The fixtures that measure: a test using one is a performance check."""


def measures(item: pytest.Item) -> bool:
    """Whether the test measures: an aide fixture, a ``benchmark`` fixture or marker."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(set(AIDE_FIXTURES) & fixtures) or declared(item) is not None


class Collecting(Host, Protocol):
    """What collection needs of the session (which imports this module)."""

    config: pytest.Config
    scenario_dirs: list[Path]
    check_patterns: CheckPatterns
    pyproject_shown: str
    pattern_warnings: list[str]

    def is_check(self, item: pytest.Item) -> bool:
        """Whether ``item`` is a check of this session."""


class Collection:
    """Collects scenario files, marks and selects performance checks."""

    def __init__(self, session: Collecting) -> None:
        self.session = session

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        """Never collect from the baseline and report directories: they hold no tests.

        (An unreadable one would otherwise stop collection with a bare traceback.)
        """
        settings = self.session.settings
        if collection_path in (settings.baseline_dir, settings.report_dir):
            return True
        return None

    def pytest_collect_directory(
        self, path: Path, parent: pytest.Collector
    ) -> pytest.Collector | None:
        """A scenario directory that cannot be read is one error item, not a traceback."""
        resolved = absolute(path)
        if not any(resolved.is_relative_to(d) for d in self.session.scenario_dirs):
            return None
        if os.access(path, os.R_OK | os.X_OK):
            return None
        shown = display_path(path, self.session.config.rootpath)
        problem = f"{shown}: cannot read the scenario directory (permission denied)"
        return UnreadableScenarios.from_parent(
            parent, path=path, host=self.session, problem=problem
        )

    def pytest_collect_file(
        self, file_path: Path, parent: pytest.Collector
    ) -> ScenarioFileCollector | None:
        """Collect ``*.toml`` files under the scenario directories."""
        if file_path.suffix != ".toml":
            return None
        resolved = absolute(file_path)
        if any(resolved.is_relative_to(d) for d in self.session.scenario_dirs):
            return ScenarioFileCollector.from_parent(parent, path=file_path, host=self.session)
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Mark every performance check ``aide``; apply ``--aide-only`` / ``--aide-skip``.

        Runs before ``-m`` and ``-k`` select, so ``-m aide`` finds scenario items and
        unmarked tests that use an aide fixture too.
        """
        self.session.pattern_warnings = self._unmatched(config, items)
        perf = [item for item in items if self._is_performance_check(item)]
        for item in perf:
            if item.get_closest_marker("aide") is None:
                item.add_marker(pytest.mark.aide(_implied=True))
        if not (self.session.settings.only or self.session.settings.skip):
            return
        chosen = set(map(id, perf))
        kept = [i for i in items if (id(i) in chosen) == self.session.settings.only]
        dropped = [i for i in items if (id(i) in chosen) != self.session.settings.only]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def _unmatched(self, config: pytest.Config, items: list[pytest.Item]) -> list[str]:
        """A line for each ``[tool.aide.checks]`` pattern that selects no collected test.

        A path pattern outside what this session collected (``pytest tests/a.py``
        with a pattern for ``tests/b.py``) is not expected to match and is not named.
        """
        lines = []
        asked = [absolute(config.rootpath / str(a).split("::")[0]) for a in config.args]
        for pattern, _ in self.session.check_patterns:
            where = f'{self.session.pyproject_shown}: [tool.aide.checks."{pattern}"]'
            found = [i for i in items if selects(pattern, i.nodeid)]
            measuring = [i for i in found if measures(i)]
            if not found:
                if "/" in pattern or pattern.endswith(".py"):
                    path = absolute(config.rootpath / pattern.split("::")[0])
                    if not any(path.is_relative_to(a) or a.is_relative_to(path) for a in asked):
                        continue
                lines.append(f"{where} matches no collected test")
            elif not measuring:
                lines.append(
                    f"{where} matches {len(found)} collected test(s), none of which measures "
                    "(no aide fixture and no benchmark fixture)"
                )
        return lines

    def _is_performance_check(self, item: pytest.Item) -> bool:
        """A scenario item, a check (marked, or in pyproject), or a test using an aide fixture."""
        if isinstance(item, ScenarioItem) or self.session.is_check(item):
            return True
        return bool(set(AIDE_FIXTURES) & set(getattr(item, "fixturenames", ())))
