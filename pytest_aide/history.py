"""The run history: every ``--aide-perf`` session's figures in one SQLite file.

Each run keeps its totals, the git commit, branch and whether the tree was
modified, and, per result, the figures a trend needs (median, p95,
throughput, memory peak, the count per call of a counted check), the check's
status and the whole result (every sample), so that a later session can be
gated against a stored run as against a baseline (``--aide-compare-run``).
The store is append-only; a file that is not a history database is
reported, never replaced.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_aide.baselines import write_problem
from pytest_aide.fileio import dumps, file_kind

__all__ = ["HISTORY_SCHEMA", "History", "HistoryError", "Point", "Run"]

HISTORY_SCHEMA = 3
"""Version of the tables below, stored in ``PRAGMA user_version`` (2 added ``count``;
3 added the runs' ``commit``, ``branch`` and ``dirty`` and the points' ``data``)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    profile TEXT NOT NULL,
    machine TEXT NOT NULL,
    checks INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    commit_sha TEXT,
    branch TEXT,
    dirty INTEGER
);
CREATE TABLE IF NOT EXISTS points (
    run INTEGER NOT NULL REFERENCES runs(id),
    check_id TEXT NOT NULL,
    result TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    median REAL,
    p95 REAL,
    throughput REAL,
    memory_peak REAL,
    count REAL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS points_by_check ON points (check_id, run);
"""
_COLUMNS = {
    "runs": (
        "id",
        "created",
        "profile",
        "machine",
        "checks",
        "passed",
        "failed",
        "commit_sha",
        "branch",
        "dirty",
    ),
    "points": (
        "run",
        "check_id",
        "result",
        "kind",
        "status",
        "median",
        "p95",
        "throughput",
        "memory_peak",
        "count",
        "data",
    ),
}
_ADDED = {
    2: {"points": ("count REAL",)},
    3: {"runs": ("commit_sha TEXT", "branch TEXT", "dirty INTEGER"), "points": ("data TEXT",)},
}
"""Columns each version added, to bring an older file up to date."""


class HistoryError(Exception):
    """The history file cannot be read or written; the message names it."""


@dataclass(frozen=True)
class Run:
    """One recorded session."""

    id: int
    created: str
    profile: str
    machine: str
    checks: int
    passed: int
    failed: int
    commit: str | None = None
    """The git commit the run measured; None outside git and in runs before version 3."""
    branch: str | None = None
    dirty: bool = False
    """True when tracked files differed from ``commit``."""

    def label(self) -> str:
        """``#12 1a2b3c4 (main) 2026-11-26``: the run as people name it."""
        parts = [f"#{self.id}"]
        if self.commit:
            parts.append(self.commit[:7] + ("+" if self.dirty else ""))
        if self.branch:
            parts.append(f"({self.branch})")
        return " ".join([*parts, self.created[:10]])


@dataclass(frozen=True)
class Point:
    """One result's figures in one run."""

    run: int
    created: str
    check_id: str
    result: str
    kind: str
    status: str
    median: float | None
    p95: float | None
    throughput: float | None
    memory_peak: float | None
    count: float | None = None
    """Instructions (or estimated cycles) per call, for a ``count`` point."""
    commit: str | None = None
    """The run's git commit, where it was recorded."""


def _figures(result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The result whose figures a trend shows, with its stats.

    A sweep shows its knee; a scaling check its largest size.
    """
    kind = result.get("kind")
    if kind == "sweep":
        knee = next(
            (r for r in result["levels"] if r.get("concurrency") == result.get("knee")), None
        )
        return (result["name"], knee.get("stats", {})) if knee else None
    if kind in ("timing", "load"):
        return result["name"], result.get("stats", {})
    if kind == "memory":
        return result["name"], {"memory_peak": result.get("peak_bytes")}
    if kind == "count":
        cycles = result.get("measure") == "cycles" and result.get("cycles") is not None
        return result["name"], {"count": result["cycles" if cycles else "instructions"]}
    if kind == "scaling" and result.get("medians"):  # its largest size's CPU time per call
        counts = result.get("counts")
        return result["name"], {"median": result["medians"][-1], "count": (counts or [None])[-1]}
    return None


def _run_columns(db: sqlite3.Connection) -> str:
    """The runs' columns to select: NULL for those an older file does not have yet."""
    have = {c for (c,) in db.execute("SELECT name FROM pragma_table_info('runs')")}
    return ", ".join(c if c in have else "NULL" for c in _COLUMNS["runs"])


def _run(row: tuple[Any, ...]) -> Run:
    *head, dirty = row
    return Run(*head, dirty=bool(dirty))


class History:
    """The SQLite history at ``path`` (created on first write)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        """Seconds to wait for another process's lock on the file."""

    @contextlib.contextmanager
    def _connect(self, create: bool) -> Iterator[sqlite3.Connection]:
        """One transaction on the store; what the file is is checked inside it first."""
        if self.path.exists() and not self.path.is_file():
            kind = file_kind(self.path.stat().st_mode)
            raise HistoryError(
                f"{self.path}: not a regular file ({kind}); left as it is: pass "
                "--aide-history with a file path"
            )
        if not create and not self.path.is_file():
            raise HistoryError(f"{self.path}: no history yet (it is written by pytest --aide-perf)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except OSError as exc:
            reason = write_problem(self.path, exc)
            raise HistoryError(f"{self.path}: cannot open the history: {reason}") from None
        except sqlite3.Error as exc:
            raise HistoryError(self._problem(exc)) from None
        try:
            connection.execute("BEGIN IMMEDIATE" if create else "BEGIN")
            try:
                self._prepare(connection, create)
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise HistoryError(self._problem(exc)) from None
        finally:
            connection.close()

    def _prepare(self, db: sqlite3.Connection, create: bool) -> None:
        """Check that the file is ours (or empty), and bring its tables up to date."""
        version = db.execute("PRAGMA user_version").fetchone()[0]
        names = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        tables = {
            name: {c for (c,) in db.execute("SELECT name FROM pragma_table_info(?)", (name,))}
            for (name,) in names
        }
        if version > HISTORY_SCHEMA:
            raise HistoryError(
                f"{self.path}: history version {version} is newer than this "
                f"pytest-aide reads ({HISTORY_SCHEMA}); left untouched"
            )
        own = set(_COLUMNS) | {"sqlite_sequence"}
        foreign = sorted(set(tables) - own)
        if version == 0 and not tables:
            if not create:
                raise HistoryError(f"{self.path}: no history yet (it is an empty database)")
            for statement in _TABLES.split(";"):
                if statement.strip():
                    db.execute(statement)  # not executescript: it would commit first
            db.execute(f"PRAGMA user_version = {HISTORY_SCHEMA}")
            return
        expected = {name: set(columns) for name, columns in _COLUMNS.items()}
        for since, added in _ADDED.items():
            if version < since:
                for table, columns in added.items():
                    expected[table] -= {column.split()[0] for column in columns}
        if foreign or version == 0 or any(tables.get(n) != c for n, c in expected.items()):
            what = f"tables: {', '.join(sorted(tables))}" if tables else "no tables"
            raise HistoryError(
                f"{self.path}: an SQLite database that is not a pytest-aide history ({what}); "
                "left untouched: pass --aide-history with another path"
            )
        if create and version < HISTORY_SCHEMA:
            for since, added in _ADDED.items():
                if version < since:
                    for table, columns in added.items():
                        for column in columns:
                            db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
            db.execute(f"PRAGMA user_version = {HISTORY_SCHEMA}")

    def _problem(self, exc: sqlite3.Error) -> str:
        """What went wrong, with advice that fits: locked and full are not corrupt."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
            return (
                f"{self.path}: the history is locked by another process ({text}); this run "
                "was not recorded and the file was left as it is: run again once it is free"
            )
        if name == "SQLITE_FULL" or "disk is full" in text:
            return (
                f"{self.path}: the disk is full ({text}); this run was not recorded and the "
                "history was left as it was: free some space"
            )
        if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or (
            "readonly" in text or "unable to open" in text
        ):
            return f"{self.path}: cannot write the history ({text}); it was left as it is"
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or isinstance(
            exc, sqlite3.DatabaseError
        ):
            return (
                f"{self.path}: not a usable pytest-aide history ({text}); it was left as it "
                "is: move it away or pass --aide-history to start a new one"
            )
        return f"{self.path}: cannot use the history: {text}"

    def append(self, report: dict[str, Any], machine: str) -> int:
        """Record one ``report.json`` as a run; returns its id."""
        totals = report["totals"]
        with self._connect(create=True) as db:
            dirty = report.get("dirty")
            cursor = db.execute(
                "INSERT INTO runs (created, profile, machine, checks, passed, failed, "
                "commit_sha, branch, dirty) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    report["created"],
                    report["profile"],
                    machine,
                    totals["checks"],
                    totals["passed"],
                    totals["failed"] + totals.get("errors", 0) + totals.get("not_compared", 0),
                    report.get("commit"),
                    report.get("branch"),
                    None if dirty is None else int(bool(dirty)),
                ),
            )
            run = cursor.lastrowid
            assert run is not None
            rows = []
            for check in report["checks"]:
                for result in check["results"]:
                    figures = _figures(result)
                    if figures is None:
                        continue
                    name, stats = figures
                    rows.append(
                        (
                            run,
                            check["id"],
                            name,
                            result["kind"],
                            check["status"],
                            stats.get("median"),
                            stats.get("p95"),
                            stats.get("throughput"),
                            stats.get("memory_peak"),
                            stats.get("count"),
                            dumps(result, sort_keys=True),
                        )
                    )
            db.executemany("INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return run

    def runs(self, limit: int = 20) -> list[Run]:
        """The latest ``limit`` runs, newest first."""
        with self._connect(create=False) as db:
            rows = db.execute(
                f"SELECT {_run_columns(db)} FROM runs ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_run(row) for row in rows]

    def find_run(self, selector: str, machine: str | None = None) -> Run:
        """The run ``selector`` names: its number, ``latest``, or a commit (a prefix will do).

        ``latest`` and a commit pick the newest such run, on ``machine`` when one is
        given and it has one there. Raises :class:`HistoryError` saying what exists.
        """
        with self._connect(create=False) as db:
            rows = [_run(row) for row in db.execute(f"SELECT {_run_columns(db)} FROM runs")]
        if not rows:
            raise HistoryError(f"{self.path}: no runs recorded yet")
        commits = sorted({r.commit[:7] for r in rows if r.commit})
        of_commit = f"no run of a commit starting {selector!r} (commits: " + (
            ", ".join(commits[-5:]) + ")" if commits else "none recorded)"
        )
        if selector == "latest":
            found, what = rows, ""
        elif selector.isdigit() and any(r.id == int(selector) for r in rows):
            found, what = [r for r in rows if r.id == int(selector)], ""
        elif selector.isdigit() and len(selector) < 4:
            found, what = [], f"no run {selector} (runs {rows[0].id} to {rows[-1].id})"
        else:
            # An abbreviated commit may be all digits ("5247369"): git abbreviates to 4 or more.
            found = [r for r in rows if r.commit and r.commit.startswith(selector.lower())]
            what = of_commit
            if selector.isdigit():
                what = f"no run {selector} (runs {rows[0].id} to {rows[-1].id}) and {of_commit}"
        if not found:
            raise HistoryError(f"{self.path}: {what}")
        here = [r for r in found if r.machine == machine]
        return (here or found)[-1]

    def results(self, run: int) -> dict[str, list[dict[str, Any]]]:
        """Every result recorded in run ``run``, whole, by check id."""
        with self._connect(create=False) as db:
            if db.execute("PRAGMA user_version").fetchone()[0] < 3:
                return {}  # runs recorded before results were kept whole
            rows = db.execute(
                "SELECT check_id, data FROM points WHERE run = ? AND data IS NOT NULL", (run,)
            ).fetchall()
        found: dict[str, list[dict[str, Any]]] = {}
        for check_id, data in rows:
            found.setdefault(check_id, []).append(json.loads(data))
        return found

    def check_ids(self) -> list[str]:
        """Every check id the history has recorded, sorted."""
        with self._connect(create=False) as db:
            rows = db.execute("SELECT DISTINCT check_id FROM points ORDER BY check_id")
            return [check_id for (check_id,) in rows]

    def points(self, check_ids: list[str], limit: int = 50) -> list[Point]:
        """Each check's figures over its latest ``limit`` runs, oldest first."""
        if not check_ids or not self.path.is_file():
            return []
        marks = ", ".join("?" * len(check_ids))
        with self._connect(create=False) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            rows = db.execute(
                "SELECT p.run, r.created, p.check_id, p.result, p.kind, p.status, p.median, "
                "p.p95, p.throughput, p.memory_peak, "
                f"{'p.count' if version > 1 else 'NULL'}, "
                f"{'r.commit_sha' if version > 2 else 'NULL'} FROM points p JOIN runs r "
                "ON r.id = p.run "
                f"WHERE p.check_id IN ({marks}) AND p.run > "
                "(SELECT COALESCE(MAX(id), 0) FROM runs) - ? ORDER BY p.run",
                (*check_ids, limit),
            ).fetchall()
        return [Point(*row) for row in rows]
