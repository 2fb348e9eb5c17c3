"""What the history keeps of a result, and keeping the store small.

Every result is kept compacted: its statistics, counts and totals (to 6
significant digits) and a reservoir of :data:`RESERVOIR` samples evenly
spaced in time order (to 4), stored as compressed JSON; the newest runs keep
it whole as well. Knows nothing of pytest; :mod:`pytest_aide.history` owns
the tables.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

from pytest_aide.fileio import dumps
from pytest_aide.kinds.common import thin

__all__ = [
    "MEASURE_OF_DATA",
    "RESERVOIR",
    "compact",
    "figures",
    "forget_old",
    "measure_of",
    "migrate",
    "pack",
    "unpack",
    "vacuum",
]

RESERVOIR = 16
"""Samples a compacted result keeps, evenly spaced in time order."""


def figures(result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
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


_THINNED = {"timing": ("samples", "wall_samples"), "load": ("latencies",)}
"""The sample lists of each kind of result that compaction thins."""
_SAMPLE_LISTS = frozenset(name for names in _THINNED.values() for name in names)
_SAMPLE_DIGITS = 4
"""Significant digits of a compacted result's samples (0.1 % and finer is noise)."""


def _rounded(value: Any, digits: int = 6) -> Any:
    """``value`` with floats to ``digits`` significant digits and no None in a dict."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {
            k: _rounded(v, _SAMPLE_DIGITS if k in _SAMPLE_LISTS else digits)
            for k, v in value.items()
            if v is not None
        }
    return value


def compact(result: dict[str, Any], keep: int = RESERVOIR) -> dict[str, Any]:
    """``result`` (a ``to_dict`` form) with at most ``keep`` samples in each sample list.

    The statistics, counts and totals written beside the samples stay those of
    every sample (to 6 significant digits; the samples kept, to 4): read back,
    the result reports the same figures and compares on its reservoir.
    """
    return _rounded(_thinned(result, keep))


def _thinned(result: dict[str, Any], keep: int) -> dict[str, Any]:
    out = dict(result)
    if result.get("kind") == "sweep" and isinstance(result.get("levels"), list):
        out["levels"] = [_thinned(level, keep) for level in result["levels"]]
    for key in _THINNED.get(str(result.get("kind")), ()):
        if isinstance(result.get(key), list):
            out[key] = thin(result[key], keep)
    if out.get("kind") == "timing" and len(result.get("samples") or ()) > keep:
        out["samples_total"] = result.get("samples_total") or len(result["samples"])
    return out


MEASURE_OF_DATA = (
    "CASE kind WHEN 'timing' THEN COALESCE(json_extract(data, '$.measure'), 'wall') "
    "WHEN 'count' THEN json_extract(data, '$.measure') "
    "WHEN 'scaling' THEN json_extract(data, '$.clock') "
    "WHEN 'memory' THEN 'memory' ELSE 'wall' END"
)
"""What an older point's figures are on, read from the result it kept."""


def measure_of(result: dict[str, Any]) -> str:
    """What the figures :func:`_figures` takes from ``result`` are on."""
    kind = result.get("kind")
    if kind == "timing":
        return str(result.get("measure") or "wall")
    if kind == "count":
        return str(result.get("measure") or "instructions")
    if kind == "scaling":
        return str(result.get("clock") or "cpu")
    return "memory" if kind == "memory" else "wall"


def pack(result: dict[str, Any]) -> bytes:
    """A result as stored: its JSON, compressed (floats' digits halve)."""
    return zlib.compress(dumps(result, sort_keys=True, separators=(",", ":")).encode())


def unpack(data: str | bytes) -> dict[str, Any]:
    """A stored result: compressed JSON, or JSON text as version 3 stored it."""
    return json.loads(zlib.decompress(data) if isinstance(data, bytes) else data)


def forget_old(db: sqlite3.Connection, keep: int) -> int:
    """Drop the whole results of runs older than the newest ``keep``; how many runs."""
    old = db.execute(
        "SELECT id FROM runs WHERE COALESCE(samples, 1) != 0 ORDER BY id DESC LIMIT -1 OFFSET ?",
        (keep,),
    ).fetchall()
    db.executemany("DELETE FROM whole WHERE run = ?", old)
    db.executemany("UPDATE runs SET samples = 0 WHERE id = ?", old)
    return len(old)


def migrate(db: sqlite3.Connection, keep: int) -> None:
    """Version 3 to 4: every result compacted to ``kept``, the newest runs' to ``whole``."""
    for (run,) in db.execute("SELECT id FROM runs ORDER BY id DESC LIMIT ?", (keep,)).fetchall():
        rows = db.execute(
            "SELECT check_id, data FROM points WHERE run = ? AND data IS NOT NULL ORDER BY rowid",
            (run,),
        ).fetchall()
        db.executemany(
            "INSERT INTO whole (run, check_id, data) VALUES (?, ?, ?)",
            [(run, check_id, pack(unpack(data))) for check_id, data in rows],
        )
        db.execute("UPDATE runs SET samples = 1 WHERE id = ?", (run,))
    rows = [row for (row,) in db.execute("SELECT rowid FROM points WHERE data IS NOT NULL")]
    for start in range(0, len(rows), 500):  # a batch at a time: old files can be large
        chunk = rows[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found = db.execute(
            f"SELECT run, check_id, data FROM points WHERE rowid IN ({marks}) ORDER BY rowid",
            chunk,
        ).fetchall()
        db.executemany(
            "INSERT INTO kept (run, check_id, data) VALUES (?, ?, ?)",
            [(run, check_id, pack(compact(unpack(data)))) for run, check_id, data in found],
        )
    db.execute("UPDATE points SET data = NULL")


def vacuum(path: Path, timeout: float, free_share: float) -> None:
    """Rewrite the file without its free pages, once they are more than ``free_share`` of it."""
    with contextlib.suppress(sqlite3.Error):
        connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        try:
            free = connection.execute("PRAGMA freelist_count").fetchone()[0]
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            if free > free_share * pages:
                connection.execute("VACUUM")
        finally:
            connection.close()
