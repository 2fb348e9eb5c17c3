"""The run history: every ``--aide-perf`` session's figures in one SQLite file.

Each run keeps its totals, the git commit, branch and whether the tree was
modified, and, per result, the figures a trend needs (median, p95,
throughput, memory peak, the count per call of a counted check), the check's
status and the result, so that a later session can be gated against a
stored run as against a baseline (``--aide-compare-run``). Each result is
kept compacted, its statistics and a fixed reservoir of :data:`RESERVOIR`
samples (under a kilobyte per check and run); the newest runs
(``keep_samples``, 20 by default) also keep it whole, every sample, in the
``whole`` table, dropped when the run falls out of that window. Results are
stored as compressed JSON.
Runs are removed only when asked (:meth:`History.prune`); a file that is not
a history database is reported, never replaced.
"""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

from pytest_aide.baselines import write_problem
from pytest_aide.compaction import (
    MEASURE_OF_DATA,
    RESERVOIR,
    compact,
    figures,
    forget_old,
    measure_of,
    migrate,
    pack,
    unpack,
    vacuum,
)
from pytest_aide.fileio import file_kind

__all__ = [
    "DEFAULT_KEEP_SAMPLES",
    "HISTORY_SCHEMA",
    "RESERVOIR",
    "History",
    "HistoryError",
    "Point",
    "Pruned",
    "Run",
    "compact",
    "durations",
]

HISTORY_SCHEMA = 5
"""Version of the tables below, stored in ``PRAGMA user_version`` (2 added ``count``;
3 added the runs' ``commit``, ``branch`` and ``dirty`` and the points' ``data``;
4 added the runs' ``samples``, 0 once the run's results were compacted, and the points'
``measure``, what a figure is on: ``solo``, ``wall``, ``cpu``, ``instructions``...;
5 added the points' ``seconds``, the wall time of the check's test, for ``--aide-shard``)."""

DEFAULT_KEEP_SAMPLES = 20
"""Newest runs whose results keep every sample (``aide_history_keep_samples``)."""

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
    dirty INTEGER,
    samples INTEGER
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
    data TEXT,
    measure TEXT,
    seconds REAL
);
CREATE INDEX IF NOT EXISTS points_by_check ON points (check_id, run);
"""
_V4_TABLES = "".join(
    f"""
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL REFERENCES runs(id),
    check_id TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS {name}_by_run ON {name} (run);"""
    for name in ("kept", "whole")
)
"""Version 4's tables: every run's results compacted (``kept``), the newest runs' whole.
The points keep only the figures, so that reading every series is a quick scan."""
_TABLES += _V4_TABLES
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
        "samples",
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
        "measure",
        "seconds",
    ),
    "kept": ("id", "run", "check_id", "data"),
    "whole": ("id", "run", "check_id", "data"),
}
_ADDED = {
    2: {"points": ("count REAL",)},
    3: {"runs": ("commit_sha TEXT", "branch TEXT", "dirty INTEGER"), "points": ("data TEXT",)},
    4: {"runs": ("samples INTEGER",), "points": ("measure TEXT",)},
    5: {"points": ("seconds REAL",)},
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
class Pruned:
    """What :meth:`History.prune` did."""

    removed: int
    runs: int
    """Runs before pruning."""
    size_before: int
    size_after: int


def _when(created: str) -> datetime:
    """A run's ``created`` time, in UTC when it says no zone."""
    when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


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
    measure: str | None = None
    """What the figures are on (``solo``, ``wall``, ``cpu``, ``instructions``, ``cycles``,
    ``memory``); None in runs recorded before history version 4 that kept no result."""


def _run_columns(db: sqlite3.Connection) -> str:
    """The runs' columns a :class:`Run` holds: NULL for those an older file does not have."""
    have = {c for (c,) in db.execute("SELECT name FROM pragma_table_info('runs')")}
    return ", ".join(c if c in have else "NULL" for c in _COLUMNS["runs"][:-1])


def _run(row: tuple[Any, ...]) -> Run:
    *head, dirty = row
    return Run(*head, dirty=bool(dirty))


def _problem(path: Path, exc: sqlite3.Error) -> str:
    """What went wrong, with advice that fits: locked and full are not corrupt."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return (
            f"{path}: the history is locked by another process ({text}); this run "
            "was not recorded and the file was left as it is: run again once it is free"
        )
    if name == "SQLITE_FULL" or "disk is full" in text:
        return (
            f"{path}: the disk is full ({text}); this run was not recorded and the "
            "history was left as it was: free some space"
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or (
        "readonly" in text or "unable to open" in text
    ):
        return f"{path}: cannot write the history ({text}); it was left as it is"
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or isinstance(
        exc, sqlite3.DatabaseError
    ):
        return (
            f"{path}: not a usable pytest-aide history ({text}); it was left as it "
            "is: move it away or pass --aide-history to start a new one"
        )
    return f"{path}: cannot use the history: {text}"


def _grouped(
    rows: list[tuple[str, str, str, str, int, float | None]], runs: Collection[int] | None
) -> dict[tuple[str, str, str, str], tuple[list[int], list[float]]]:
    """Rows of (check id, result, kind, measure, run, figure) as series, oldest run first."""
    grouped: dict[tuple[str, str, str, str], tuple[list[int], list[float]]] = {}
    for check_id, result, kind, measured, run, value in rows:
        if value is None or value <= 0 or (runs is not None and run not in runs):
            continue
        key = (check_id, result, kind, measured)
        entry = grouped.get(key)
        if entry is None:
            entry = grouped[key] = ([], [])
        entry[0].append(run)
        entry[1].append(value)
    for key, (ids, values) in grouped.items():
        if any(a > b for a, b in pairwise(ids)):  # rows out of run order
            ordered = sorted(zip(ids, values, strict=True))
            grouped[key] = ([i for i, _ in ordered], [v for _, v in ordered])
    return grouped


class History:
    """The SQLite history at ``path`` (created on first write)."""

    def __init__(
        self, path: Path, timeout: float = 10.0, keep_samples: int = DEFAULT_KEEP_SAMPLES
    ) -> None:
        self.path = path
        self.timeout = timeout
        """Seconds to wait for another process's lock on the file."""
        self.keep_samples = keep_samples
        """Newest runs whose results keep every sample; older ones are compacted on write."""
        self._migrated = False

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
        if version < 4:
            del expected["kept"], expected["whole"]
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
            if version < 4:
                for statement in _V4_TABLES.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("UPDATE runs SET samples = 0")
                with contextlib.suppress(sqlite3.OperationalError):  # an SQLite without JSON
                    db.execute("UPDATE points SET measure = " + MEASURE_OF_DATA)
                migrate(db, self.keep_samples)
                self._migrated = True
            db.execute(f"PRAGMA user_version = {HISTORY_SCHEMA}")

    def _problem(self, exc: sqlite3.Error) -> str:
        return _problem(self.path, exc)

    def append(self, report: dict[str, Any], machine: str) -> int:
        """Record one ``report.json`` as a run; returns its id.

        Runs that fall out of the newest ``keep_samples`` are compacted in the same
        transaction (all of them when an older file is first written to).
        """
        totals = report["totals"]
        with self._connect(create=True) as db:
            dirty = report.get("dirty")
            cursor = db.execute(
                "INSERT INTO runs (created, profile, machine, checks, passed, failed, "
                "commit_sha, branch, dirty, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
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
            rows, kept, whole = [], [], []
            for check in report["checks"]:
                for result in check["results"]:
                    shown = figures(result)
                    if shown is None:
                        continue
                    name, stats = shown
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
                            None,
                            measure_of(result),
                            check.get("seconds"),
                        )
                    )
                    kept.append((run, check["id"], pack(compact(result))))
                    whole.append((run, check["id"], pack(result)))
            db.executemany(f"INSERT INTO points VALUES ({', '.join('?' * 13)})", rows)
            db.executemany("INSERT INTO kept (run, check_id, data) VALUES (?, ?, ?)", kept)
            db.executemany("INSERT INTO whole (run, check_id, data) VALUES (?, ?, ?)", whole)
            forget_old(db, self.keep_samples)
        if self._migrated:  # a file from before compaction: give back what it freed
            vacuum(self.path, self.timeout, 0.25)
        return run

    def prune(self, keep_runs: int, keep_days: float, now: datetime | None = None) -> Pruned:
        """Remove the runs older than ``keep_days`` beyond the newest ``keep_runs``.

        The newest run of each branch always stays. The file is then rewritten to
        its new size.
        """
        now = now or datetime.now(timezone.utc)
        with self._connect(create=True) as db:
            query = f"SELECT {_run_columns(db)} FROM runs ORDER BY id"
            rows = [_run(row) for row in db.execute(query)]
            newest = {r.branch: r.id for r in rows}
            kept = {r.id for r in rows[-keep_runs:]} if keep_runs > 0 else set()
            gone = [
                r.id
                for r in rows
                if r.id not in kept
                and r.id != newest[r.branch]
                and (now - _when(r.created)).total_seconds() > keep_days * 86400
            ]
            db.executemany("DELETE FROM points WHERE run = ?", [(run,) for run in gone])
            db.executemany("DELETE FROM whole WHERE run = ?", [(run,) for run in gone])
            db.executemany("DELETE FROM kept WHERE run = ?", [(run,) for run in gone])
            db.executemany("DELETE FROM runs WHERE id = ?", [(run,) for run in gone])
        before = self.path.stat().st_size
        if gone:
            vacuum(self.path, self.timeout, 0)
        return Pruned(len(gone), len(rows), before, self.path.stat().st_size)

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
        """Every result recorded in run ``run`` by check id: whole, or compacted if old."""
        with self._connect(create=False) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < 3:
                return {}  # runs recorded before results were kept
            rows = []
            for table in ("whole", "kept") if version > 3 else ():
                query = f"SELECT check_id, data FROM {table} WHERE run = ? ORDER BY id"
                rows = rows or db.execute(query, (run,)).fetchall()
            if not rows:  # before version 4: whole, in the points
                rows = db.execute(
                    "SELECT check_id, data FROM points WHERE run = ? AND data IS NOT NULL "
                    "ORDER BY rowid",
                    (run,),
                ).fetchall()
        found: dict[str, list[dict[str, Any]]] = {}
        for check_id, data in rows:
            found.setdefault(check_id, []).append(unpack(data))
        return found

    def series(
        self, runs: Collection[int] | None = None
    ) -> dict[tuple[str, str, str, str], tuple[list[int], list[float]]]:
        """Every series' run ids and figures, oldest first, over ``runs`` (default: all).

        A series is keyed by check id, result, kind and measure; its figure per run
        is the count per call, a load's p95, a memory peak, else the median. One
        scan of the points, for ``pytest-aide trend``.
        """
        with self._connect(create=False) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            measure = "COALESCE(measure, 'wall')" if version > 3 else "'wall'"
            count = "count" if version > 1 else "NULL"
            figure = (
                f"CASE kind WHEN 'count' THEN {count} WHEN 'memory' THEN memory_peak "
                "WHEN 'load' THEN COALESCE(p95, median) WHEN 'sweep' THEN COALESCE(p95, median) "
                "ELSE median END"
            )
            rows = db.execute(
                f"SELECT check_id, result, kind, {measure}, run, {figure} FROM points"
            ).fetchall()
        return _grouped(rows, runs)

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
                f"{'r.commit_sha' if version > 2 else 'NULL'}, "
                f"{'p.measure' if version > 3 else 'NULL'} FROM points p JOIN runs r "
                "ON r.id = p.run "
                f"WHERE p.check_id IN ({marks}) AND p.run > "
                "(SELECT COALESCE(MAX(id), 0) FROM runs) - ? ORDER BY p.run, p.rowid",
                (*check_ids, limit),
            ).fetchall()
        return [Point(*row) for row in rows]


def durations(history: History, runs: int = 5) -> dict[str, float]:
    """Each check's seconds (its test's wall time): the median over the newest ``runs``."""
    with history._connect(create=False) as db:
        if db.execute("PRAGMA user_version").fetchone()[0] < 5:
            return {}
        rows = db.execute(
            "SELECT check_id, MAX(seconds) FROM points WHERE seconds IS NOT NULL AND run IN "
            "(SELECT id FROM runs ORDER BY id DESC LIMIT ?) GROUP BY run, check_id",
            (runs,),
        ).fetchall()
    taken: dict[str, list[float]] = {}
    for check_id, seconds in rows:
        taken.setdefault(check_id, []).append(float(seconds))
    return {check_id: statistics.median(values) for check_id, values in taken.items()}
