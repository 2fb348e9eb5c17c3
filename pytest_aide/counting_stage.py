"""Instruction counts (``--aide-measure instructions|cycles``, or a check's ``measure``).

:class:`CountingStage` is registered once collection shows a check to count. It
counts their measured calls in one valgrind session before the tests (in an
xdist worker, as each test comes), REV's too under ``--aide-against``, and
gives each check its counts before the verdict.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from pytest_aide.check import Check
from pytest_aide.countcache import cache_root
from pytest_aide.counting import COUNTED
from pytest_aide.measure.pair import Tree
from pytest_aide.pairing import pairable
from pytest_aide.verdict import Verdict
from pytest_aide.workers import trees, worker_args

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["COUNTING_NAME", "CountingStage", "counted"]

COUNTING_NAME = "aide-counting"


def counted(session: AideSession, items: list[pytest.Item]) -> dict[str, str]:
    """Node id -> measure of the items whose checks measure a count."""
    wanted = {i.nodeid: session.measure_of(i) for i in items if pairable(session, i)}
    return {nodeid: m for nodeid, m in wanted.items() if m in COUNTED}


class CountingStage:
    """Counts the checks that measure a count, here and (``--aide-against``) in REV."""

    def __init__(self, session: AideSession) -> None:
        self.session = session

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """Before the tests (serial runs): count every check that measures a count."""
        if self.session.workerinput is None and not session.config.option.collectonly:
            self.count(list(session.items))
        return (yield)

    def count(self, items: list[pytest.Item]) -> None:
        """Count the measured calls of the items whose checks measure a count."""
        aide = self.session
        wanted = counted(aide, items)
        if not wanted:
            return
        config, settings = aide.config, aide.settings
        tree = Tree("this tree", config.rootpath, config.inipath)
        items = [item for item in items if item.nodeid in wanted]
        args = worker_args(config, settings, items, config.rootpath)
        by_function = settings.explain == "always"  # a saved baseline keeps them
        aide.counting.count(tree, wanted, args, aide.progress, by_function)
        if aide.revision is not None:
            rev, _ = trees(config, aide.revision, items)
            args = worker_args(config, settings, items, rev.rootdir)
            root = cache_root(settings.count_cache, config.rootpath, os.environ)
            if root is not None:
                revision = aide.revision
                aide.counting_against.cache = (root, revision.commit, revision.worktree)
            aide.counting_against.count(rev, wanted, args, aide.progress, by_function)

    def before_verdict(self, item: pytest.Item, check: Check) -> None:
        """Give ``check`` its counts (and REV's), or say why it has none."""
        aide = self.session
        if aide.workerinput is not None and item.nodeid not in aide.counting.measures:
            self.count([item])  # an xdist worker counts each item as it comes
        check.count_notes += aide.counting.attach(item.nodeid, check)
        if aide.revision is not None:
            aide.counting_against.attach_against(item.nodeid, check, aide.revision.label)
        aide.gate.count_slugs.update(aide.counting.slugs(aide.gate.machine))

    def after_verdict(self, item: pytest.Item, check: Check, verdict: Verdict) -> None:
        """Nothing: the counts are the verdict's evidence."""
