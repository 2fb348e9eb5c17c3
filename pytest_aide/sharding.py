"""``--aide-shard K/N``: this session runs its share of the collected tests.

:class:`Sharding` is registered only with the option. After every other
selection (``-k``, ``-m``, ``--aide-only``) it keeps the tests
:func:`pytest_aide.shards.assign` gives shard K, balanced on the history's
durations, and deselects the rest, as ``-k`` would. Every shard of one
commit computes the same split. A shard's run is a part of one run: it does
not append itself to the history (``pytest-aide merge --history`` appends
the whole).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_aide.history import History, HistoryError, durations
from pytest_aide.shards import assign

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["SHARDING_NAME", "Sharding"]

SHARDING_NAME = "aide-sharding"


class Sharding:
    """Keeps this shard's tests; says how the split was made."""

    def __init__(self, session: AideSession) -> None:
        self.session = session
        self.balanced_on = "node ids"
        self.kept = 0
        self.of = 0

    def _durations(self) -> dict[str, float]:
        path = self.session.settings.history_file
        if not path.is_file():
            return {}
        try:
            return durations(History(path))
        except HistoryError:
            return {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Deselect the tests of the other shards."""
        assert self.session.settings.shard is not None
        index, count = self.session.settings.shard
        durations = self._durations()
        shards = assign([item.nodeid for item in items], count, durations)
        if any(item.nodeid in durations for item in items):
            self.balanced_on = "their durations in the history"
        kept = [item for item in items if shards[item.nodeid] == index]
        dropped = [item for item in items if shards[item.nodeid] != index]
        self.kept, self.of = len(kept), len(items)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def describe(self) -> dict[str, object]:
        """The report's ``shard`` entry."""
        assert self.session.settings.shard is not None
        index, count = self.session.settings.shard
        return {
            "index": index,
            "count": count,
            "tests": self.kept,
            "of": self.of,
            "balanced_on": self.balanced_on,
        }
