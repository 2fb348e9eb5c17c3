"""A small SQLite store of process snapshots, with a pool of connections for concurrent reads.

The default store is an embedded database created on the fly in a temporary
directory (no server), filled with synthetic process records and removed at
exit. Reads follow the tuning guide's database advice: batch single queries
into one, select only the columns needed, and reuse pooled connections.
"""

from __future__ import annotations

import atexit
import queue
import random
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["POOL", "STORE", "ProcessStore", "busiest_processes", "process_history"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processes (
    pid INTEGER PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL,
    rss INTEGER NOT NULL, cmdline TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    pid INTEGER NOT NULL REFERENCES processes(pid), taken REAL NOT NULL,
    cpu_percent REAL NOT NULL, rss INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_pid ON samples (pid, taken);
CREATE INDEX IF NOT EXISTS processes_by_rss ON processes (rss);
"""


class ProcessStore:
    """Process snapshots in SQLite, read through a pool of ``pool_size`` connections."""

    def __init__(self, path: Path, pool_size: int = 4, processes: int = 500) -> None:
        self.path = path
        setup = sqlite3.connect(path)
        with setup:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.executescript(_SCHEMA)
            if setup.execute("SELECT count(*) FROM processes").fetchone()[0] == 0:
                _fill(setup, processes)
        setup.close()
        self.connections = [
            sqlite3.connect(path, check_same_thread=False) for _ in range(pool_size)
        ]
        self._idle: queue.Queue[sqlite3.Connection] = queue.Queue()
        for connection in self.connections:
            self._idle.put(connection)

    @contextmanager
    def connection(self, timeout: float = 5.0) -> Iterator[sqlite3.Connection]:
        """A pooled connection for the ``with`` block (waits up to ``timeout`` seconds)."""
        connection = self._idle.get(timeout=timeout)
        try:
            yield connection
        finally:
            self._idle.put(connection)

    def close(self) -> None:
        """Close every pooled connection."""
        for connection in self.connections:
            connection.close()


def _fill(db: sqlite3.Connection, count: int) -> None:
    rng = random.Random(1729)
    names = ["python", "postgres", "nginx", "node", "java", "redis", "sshd", "cron"]
    db.executemany(
        "INSERT INTO processes VALUES (?, ?, ?, ?, ?)",
        [
            (
                pid,
                rng.choice(names),
                rng.choice(["root", "www", "app"]),
                rng.randrange(1 << 20, 1 << 31),
                f"/usr/bin/{rng.choice(names)} --worker {pid} " + "x" * rng.randrange(200),
            )
            for pid in range(1, count + 1)
        ],
    )
    db.executemany(
        "INSERT INTO samples VALUES (?, ?, ?, ?)",
        [
            (pid, float(t), rng.uniform(0, 100), rng.randrange(1 << 20, 1 << 31))
            for pid in range(1, count + 1)
            for t in range(8)
        ],
    )


def busiest_processes(limit: int = 10, store: ProcessStore | None = None) -> list[tuple]:
    """The ``limit`` largest processes with their mean CPU over their samples.

    Two statements whatever ``limit`` is: the processes, then every sample of
    them in one batched query (not one query per process), and only the
    columns the report shows.
    """
    store = store or STORE
    with store.connection() as db:
        top = db.execute(
            "SELECT pid, name, owner, rss FROM processes ORDER BY rss DESC LIMIT ?", (limit,)
        ).fetchall()
        pids = [row[0] for row in top]
        marks = ", ".join("?" * len(pids))
        cpu = dict(
            db.execute(
                f"SELECT pid, avg(cpu_percent) FROM samples WHERE pid IN ({marks}) GROUP BY pid",
                pids,
            ).fetchall()
        )
    return [(pid, name, owner, rss, cpu.get(pid, 0.0)) for pid, name, owner, rss in top]


def process_history(pid: int, store: ProcessStore | None = None) -> list[tuple[float, float]]:
    """One process's samples, oldest first: ``(taken, cpu_percent)``."""
    store = store or STORE
    with store.connection() as db:
        return db.execute(
            "SELECT taken, cpu_percent FROM samples WHERE pid = ? ORDER BY taken", (pid,)
        ).fetchall()


def _default_store() -> ProcessStore:
    directory = Path(tempfile.mkdtemp(prefix="aide-store-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    store = ProcessStore(directory / "processes.sqlite3")
    atexit.register(store.close)
    return store


STORE = _default_store()
"""The embedded default store, made when this module is first imported."""
POOL = STORE.connections
"""Its pooled connections (what a check names to count the statements they run)."""
