"""A commit's instruction counts kept between sessions: REV is counted once.

``--aide-against REV`` counts REV's checks in a worktree of the commit, and
``pytest-aide bisect`` does it at every step for GOOD. A commit's count
depends on its files (the commit names them), on what runs them (the
interpreter, valgrind, the installed packages, pytest-aide itself) and on how
(the measure, the allocator, the worker's arguments). An entry is keyed by a
hash of all of these and the node id, and holds that item's counted calls; a
session whose every REV item is found starts no valgrind for REV.

Only a clean checkout of a commit is cached (REV's worktree always is), only
counts without a problem, and never counts made to keep traces or to explain
by function. Entries unread for :data:`MAX_AGE_DAYS` are removed. A cache
that cannot be read or written is no cache: counting goes on as without one.

Knows nothing of pytest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pytest_aide.measure.counts import Count

__all__ = ["MAX_AGE_DAYS", "CountCache", "cache_root"]

MAX_AGE_DAYS = 30
"""Entries not used for this long are removed when the cache is written."""


def cache_root(setting: str | None, rootdir: Path, environ: Mapping[str, str]) -> Path | None:
    """The cache's directory: ``--aide-count-cache``, ``none`` for none, else the user's cache."""
    if setting is not None and setting.strip().lower() == "none":
        return None
    if setting:
        return rootdir / Path(setting).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-aide" / "counts"


@functools.cache
def _installed() -> str:
    """Every installed distribution and its version, as one hash."""
    names = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@functools.cache
def _own_code() -> str:
    """A hash of pytest-aide's own modules, the harness that counts.

    A development install keeps its version number while its code changes.
    """
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _events(kept: dict[str, float]) -> dict[str, float]:
    return {str(name): float(value) for name, value in kept.items()}


class CountCache:
    """Counts of one commit's items, as made by one interpreter, valgrind and set of packages."""

    def __init__(
        self,
        root: Path,
        commit: str,
        tree: Path,
        *,
        valgrind: str,
        measure: str,
        allocator: str,
        args: Sequence[str],
    ) -> None:
        """``tree`` is the checkout the items run in: its path is left out of the key."""
        parts = [
            "1",
            commit,
            valgrind,
            measure,
            allocator,
            sys.version,
            str(Path(sys.executable).resolve()),
            _installed(),
            _own_code(),
            *(arg.replace(str(tree), "<tree>") for arg in args),
        ]
        self.root = root
        self._context = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        self._expired = False

    def _path(self, nodeid: str) -> Path:
        key = hashlib.sha256(f"{self._context}\0{nodeid}".encode()).hexdigest()
        return self.root / key[:2] / f"{key}.json"

    def get(self, nodeid: str) -> list[Count] | None:
        """The item's counted calls, in the order the test made them; None if not kept."""
        path = self._path(nodeid)
        try:
            entry = json.loads(path.read_text())
            counts = [
                Count(nodeid, c["label"], int(c["calls"]), _events(c["events"]))
                for c in entry["counts"]
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used: kept for another MAX_AGE_DAYS
        return counts or None

    def put(self, nodeid: str, counts: Sequence[Count]) -> None:
        """Keep the item's counted calls, if every one was counted."""
        if not counts or any(c.problem is not None or not c.calls for c in counts):
            return
        entry = {
            "nodeid": nodeid,
            "counts": [{"label": c.label, "calls": c.calls, "events": c.events} for c in counts],
        }
        path = self._path(nodeid)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(entry))
            os.replace(partial, path)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            return
        self._expire()

    def _expire(self) -> None:
        """Remove entries unused for :data:`MAX_AGE_DAYS` (once: a session puts many)."""
        if self._expired:
            return
        self._expired = True
        oldest = time.time() - MAX_AGE_DAYS * 86400
        with contextlib.suppress(OSError):
            for path in self.root.glob("*/*.json"):
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < oldest:
                        path.unlink()
