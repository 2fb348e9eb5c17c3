"""Queries per call: the SQL statements a check's calls execute, counted and grouped.

A check names its databases: a stdlib :class:`sqlite3.Connection` (traced with
``set_trace_callback``), an SQLAlchemy ``Engine`` (its ``before_cursor_execute``
event, when SQLAlchemy is installed), or a list, tuple or set of those (a pool's
connections). Statements are grouped by their shape, literals replaced by
``?``, so that an N+1 pattern shows as one statement run N times per call.

A sqlite3 connection has one trace callback: one set by the code under test is
replaced while the check measures, and cleared afterwards.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_aide.results import QueryResult
from pytest_aide.targets import TargetError, import_named

__all__ = ["QueryError", "QueryWatch", "WatchedDatabase", "resolve_databases", "statement_shape"]

_LITERALS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b|\bX'[0-9A-Fa-f]*'"""
)
_IN_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACE = re.compile(r"\s+")
_TOP = 10


def statement_shape(sql: str) -> str:
    """``sql`` with its literals as ``?`` and its spacing folded: one line per kind of query."""
    shape = _LITERALS.sub("?", sql)
    shape = _IN_LIST.sub("(?, ...)", shape)
    return _SPACE.sub(" ", shape).strip()


class QueryError(ValueError):
    """A database name that cannot be traced; the message is one line."""


@dataclass(frozen=True)
class WatchedDatabase:
    """A connection or engine, the name it is shown by, and what it is."""

    name: str
    kind: str
    """``sqlite3`` or ``sqlalchemy``."""
    handles: tuple[Any, ...]
    """The sqlite3 connections, or the one engine."""


def _sqlalchemy_engine(obj: object) -> bool:
    try:
        from sqlalchemy.engine import Engine
    except ImportError:
        return False
    return isinstance(obj, Engine)


def _watched(name: str | None, obj: object) -> WatchedDatabase:
    """``obj`` as a database to trace; ``name`` None: named after what it is."""
    if isinstance(obj, sqlite3.Connection):
        return WatchedDatabase(name or "sqlite3.Connection", "sqlite3", (obj,))
    if _sqlalchemy_engine(obj):
        return WatchedDatabase(name or repr(obj), "sqlalchemy", (obj,))
    if isinstance(obj, (list, tuple, set, frozenset)):
        pool = list(obj)
        if pool and all(isinstance(item, sqlite3.Connection) for item in pool):
            shown = name or f"{len(pool)} sqlite3 connections"
            return WatchedDatabase(shown, "sqlite3", tuple(pool))
    described = getattr(obj, "__qualname__", None) or type(obj).__name__
    raise QueryError(
        f"{name or type(obj).__name__!r} is not a database to count queries on: {described} "
        "is not a sqlite3.Connection, an SQLAlchemy Engine or a list of sqlite3 connections"
    )


def resolve_databases(
    specs: Sequence[object], search_path: Path | None = None
) -> list[WatchedDatabase]:
    """The databases ``specs`` name: ``"pkg.mod:attr"`` strings, or the objects themselves."""
    found = []
    for spec in specs:
        if not isinstance(spec, str):
            found.append(_watched(None, spec))
            continue
        try:
            obj = import_named(spec, search_path)
        except TargetError as exc:
            raise QueryError(str(exc)) from None
        found.append(_watched(spec, obj))
    return found


class QueryWatch:
    """Counts statements on the named databases between :meth:`start` and :meth:`stop`."""

    def __init__(self, name: str, databases: Sequence[WatchedDatabase]) -> None:
        self.name = name
        self.databases = list(databases)
        self._lock = threading.Lock()
        self._shapes: Counter[str] = Counter()
        self._listening: list[tuple[Any, Any]] = []
        self._tracing: list[sqlite3.Connection] = []

    def _seen(self, sql: str) -> None:
        shape = statement_shape(sql)
        with self._lock:
            self._shapes[shape] += 1

    def _on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._seen(statement)

    def start(self) -> None:
        """Count from now (again from zero when called twice, e.g. after warmup)."""
        with self._lock:
            self._shapes.clear()
        if self._listening or self._tracing:
            return
        for database in self.databases:
            for handle in database.handles:
                if database.kind == "sqlalchemy":
                    from sqlalchemy import event

                    event.listen(handle, "before_cursor_execute", self._on_execute)
                    self._listening.append((handle, event))
                    continue
                try:
                    handle.set_trace_callback(self._seen)
                except sqlite3.ProgrammingError as exc:
                    self.detach()
                    raise QueryError(
                        f"{database.name!r}: cannot trace the connection: {exc} (open it with "
                        "check_same_thread=False to measure it from the test's thread)"
                    ) from None
                self._tracing.append(handle)

    def detach(self) -> None:
        """Stop tracing (the figures stay until :meth:`stop` or the next :meth:`start`)."""
        for handle, event in self._listening:
            event.remove(handle, "before_cursor_execute", self._on_execute)
        for connection in self._tracing:
            try:
                connection.set_trace_callback(None)
            except sqlite3.Error:
                continue  # closed meanwhile, or another thread's
        self._listening, self._tracing = [], []

    def stop(self, calls: int) -> QueryResult:
        """Stop counting; ``calls`` is how many measured calls ran (the per-call divisor)."""
        self.detach()
        with self._lock:
            shapes = self._shapes.most_common()
        total = sum(count for _, count in shapes)
        return QueryResult(
            self.name,
            statements=total,
            calls=max(calls, 1),
            distinct=len(shapes),
            top=[{"statement": shape, "count": count} for shape, count in shapes[:_TOP]],
            databases=[database.name for database in self.databases],
        )
