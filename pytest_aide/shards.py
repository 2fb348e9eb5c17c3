"""Shards: a suite split across CI jobs (``--aide-shard K/N``) and joined (``pytest-aide merge``).

Every shard computes the same split from the same inputs: the collected node
ids and, when the history has them, each check's seconds (its test's wall
time in recent runs). With durations, the tests go longest first to the
shard with the least work so far (ties to the lowest shard), so the shards
end together; a test the history has not seen is taken to last the median
of those it has. Without durations, a test's shard follows from a hash of
its node id alone, so adding a test moves no other.

Merging refuses what would not be one run: reports that are not shards,
shards of another split, a shard missing or given twice, a check in two
shards, and shards of different commits, measures, profiles, machine types
or revisions compared against. Each refusal is one line.

Knows nothing of pytest.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pytest_aide.check import Check, totals

__all__ = ["ShardError", "assign", "merge", "parse_shard"]


class ShardError(Exception):
    """Shards cannot be merged as given; the message is one line."""


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` -> (K, N), 1 <= K <= N; argparse's type for ``--aide-shard``."""
    index, slash, count = text.strip().partition("/")
    try:
        if not slash:
            raise ValueError
        k, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N such as 2/3, got {text!r}") from None
    if n < 1 or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be between 1 and N (N >= 1)")
    return k, n


def _by_id(nodeid: str, count: int) -> int:
    digest = hashlib.sha256(nodeid.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def assign(nodeids: Sequence[str], count: int, durations: Mapping[str, float]) -> dict[str, int]:
    """Node id -> its shard (1 to ``count``), balanced on ``durations`` when there are any."""
    known = {n: durations[n] for n in nodeids if n in durations}
    if not known:
        return {nodeid: _by_id(nodeid, count) for nodeid in nodeids}
    guess = statistics.median(known.values())
    loads = [0.0] * count
    shards: dict[str, int] = {}
    for nodeid in sorted(nodeids, key=lambda n: (-known.get(n, guess), n)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        loads[lightest] += known.get(nodeid, guess)
        shards[nodeid] = lightest + 1
    return shards


_SAME = (
    ("commit", "commits"),
    ("measure", "measures"),
    ("profile", "profiles"),
    ("slug", "machine types"),
)


def _shard_of(path: str, report: dict[str, Any]) -> tuple[int, int]:
    shard = report.get("shard")
    if not isinstance(shard, dict) or "index" not in shard or "count" not in shard:
        raise ShardError(f"{path}: not a shard's report (run pytest with --aide-shard K/N)")
    return int(shard["index"]), int(shard["count"])


def _check_alike(reports: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """One line for the first thing two shards differ in."""
    first_path, first = reports[0]
    for key, what in _SAME:
        for path, report in reports[1:]:
            if report.get(key) != first.get(key):
                raise ShardError(
                    f"shards of different {what}: {first_path} has {first.get(key)!r}, "
                    f"{path} has {report.get(key)!r}"
                )
    theirs = (first.get("against") or {}).get("commit")
    for path, report in reports[1:]:
        if (report.get("against") or {}).get("commit") != theirs:
            raise ShardError(f"shards compared against different revisions: {first_path}, {path}")


def _check_complete(reports: Sequence[tuple[str, dict[str, Any]]]) -> int:
    """The shard count, once every shard 1..N is here exactly once."""
    given = {path: _shard_of(path, report) for path, report in reports}
    counts = {n for _, n in given.values()}
    if len(counts) > 1:
        shown = ", ".join(f"{path} is {k}/{n}" for path, (k, n) in given.items())
        raise ShardError(f"shards of different splits: {shown}")
    (count,) = counts
    seen: dict[int, str] = {}
    for path, (index, _) in given.items():
        if index in seen:
            raise ShardError(f"shard {index}/{count} given twice: {seen[index]} and {path}")
        seen[index] = path
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in seen]
    if missing:
        raise ShardError(
            f"shard {', '.join(missing)} missing: a merge of part of a suite would pass "
            "the checks it never ran"
        )
    return count


def merge(reports: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One report of the shards' ``(path, report.json data)``; :class:`ShardError` if not."""
    if not reports:
        raise ShardError("no report.json given")
    count = _check_complete(reports)
    _check_alike(reports)
    ordered = sorted(reports, key=lambda entry: _shard_of(*entry)[0])
    checks: list[dict[str, Any]] = []
    where: dict[str, str] = {}
    for path, report in ordered:
        for check in report.get("checks") or []:
            if check["id"] in where:
                raise ShardError(f"{check['id']} is in two shards: {where[check['id']]} and {path}")
            where[check["id"]] = path
            checks.append(check)
    first = ordered[0][1]
    merged = {key: value for key, value in first.items() if key not in ("checks", "shard")}
    merged["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    merged["checks"] = checks
    merged["totals"] = totals([Check.from_dict(check) for check in checks])
    merged["shard"] = {"merged": count, "reports": [path for path, _ in ordered]}
    merged["crashed_workers"] = [w for _, r in ordered for w in r.get("crashed_workers") or []]
    if first.get("against"):
        merged["against"] = {
            **first["against"],
            "paired_checks": sum(r["against"].get("paired_checks", 0) for _, r in ordered),
            "seconds": round(sum(r["against"].get("seconds", 0.0) for _, r in ordered), 3),
        }
    return merged
