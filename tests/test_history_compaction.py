"""A history that can hold years: old runs compacted on write, pruning on request."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pytest_aide.cli import main
from pytest_aide.history import HISTORY_SCHEMA, RESERVOIR, History, compact
from pytest_aide.results import LoadResult, SweepResult, TimingResult, result_from_dict


def _timing(n: int, scale: float = 1.0) -> TimingResult:
    samples = [scale * (1e-3 + 1e-6 * ((i * 7919) % 101)) for i in range(n)]
    return TimingResult("t", samples, measure="solo", wall_samples=[s * 1.1 for s in samples])


def _load(n: int) -> LoadResult:
    latencies = [0.01 + 1e-4 * ((i * 31) % 97) for i in range(n)]
    return LoadResult("l", latencies, errors=3, wall_time=2.0, concurrency=4)


def _report(created: str, branch: str = "main", n: int = 400) -> dict[str, Any]:
    sweep = SweepResult("s", [_load(n // 2), LoadResult("s", _load(n).latencies, concurrency=8)])
    results = [_timing(n).to_dict(), _load(n).to_dict(), sweep.to_dict()]
    return {
        "created": created,
        "profile": "default",
        "branch": branch,
        "totals": {"checks": 1, "passed": 1, "failed": 0},
        "checks": [{"id": "t.py::t", "status": "PASS", "results": results}],
    }


def _figures(data: dict[str, Any]) -> dict[str, float]:
    result = result_from_dict(data)
    if isinstance(result, SweepResult):
        return {
            f"{k}@{level.concurrency}": v
            for level in result.levels
            for k, v in level.metrics().items()
        }
    return result.metrics()


def test_runs_beyond_the_newest_keep_their_figures_and_a_reservoir(tmp_path: Path) -> None:
    store = History(tmp_path / "history.sqlite", keep_samples=2)
    for day in range(1, 5):
        store.append(_report(f"2026-11-0{day}T10:00:00+00:00"), "m")
    whole = {d["kind"]: d for d in _report("x")["checks"][0]["results"]}
    for run in (1, 2):  # compacted: statistics of every sample, 16 samples kept
        kept = {d["kind"]: d for d in store.results(run)["t.py::t"]}
        assert len(kept["timing"]["samples"]) == RESERVOIR == len(kept["timing"]["wall_samples"])
        assert kept["timing"]["samples_total"] == 400
        assert len(kept["load"]["latencies"]) == RESERVOIR and kept["load"]["completed"] == 400
        assert all(len(level["latencies"]) == RESERVOIR for level in kept["sweep"]["levels"])
        for kind in ("timing", "load", "sweep"):
            before, after = _figures(whole[kind]), _figures(kept[kind])
            assert before.keys() == after.keys()
            assert all(after[k] == pytest.approx(v, rel=1e-5) for k, v in before.items()), kind
    for run in (3, 4):  # the newest two keep every sample
        kept = {d["kind"]: d for d in store.results(run)["t.py::t"]}
        assert len(kept["timing"]["samples"]) == 400 and len(kept["load"]["latencies"]) == 400
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT id, samples FROM runs").fetchall() == [
            (1, 0),
            (2, 0),
            (3, 1),
            (4, 1),
        ]
    assert [p.median for p in store.points(["t.py::t"])][::3] == [_timing(400).median] * 4


def test_a_compacted_result_is_well_under_a_kilobyte() -> None:
    small = compact(_timing(1000).to_dict())
    assert len(json.dumps(small, sort_keys=True)) < 800
    assert compact(small) == small  # compacting twice changes nothing


V3_TABLES = """
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL,
    profile TEXT NOT NULL, machine TEXT NOT NULL, checks INTEGER NOT NULL,
    passed INTEGER NOT NULL, failed INTEGER NOT NULL, commit_sha TEXT, branch TEXT,
    dirty INTEGER);
CREATE TABLE points (run INTEGER NOT NULL REFERENCES runs(id), check_id TEXT NOT NULL,
    result TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, median REAL, p95 REAL,
    throughput REAL, memory_peak REAL, count REAL, data TEXT);
CREATE INDEX points_by_check ON points (check_id, run);
PRAGMA user_version = 3;
"""


def test_a_version_3_history_is_compacted_and_shrunk_on_its_first_write(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    data = json.dumps(_timing(1000).to_dict(), sort_keys=True)
    with sqlite3.connect(path) as db:
        db.executescript(V3_TABLES)
        for run in range(1, 41):
            db.execute(
                "INSERT INTO runs VALUES (?, '2026-11-20T10:00:00', 'default', 'm', 30, 30, 0, "
                "NULL, 'main', 0)",
                (run,),
            )
            db.executemany(
                "INSERT INTO points VALUES (?, ?, 't', 'timing', 'PASS', 0.001, 0.002, NULL, "
                "NULL, NULL, ?)",
                [(run, f"t.py::t{i}", data) for i in range(30)],
            )
    before = path.stat().st_size
    store = History(path, keep_samples=5)
    assert len(store.results(1)["t.py::t0"][0]["samples"]) == 1000  # read as it is
    store.append(_report("2026-11-21T10:00:00+00:00"), "m")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == HISTORY_SCHEMA
        flags = db.execute("SELECT samples FROM runs ORDER BY id").fetchall()
    assert flags == [(0,)] * 36 + [(1,)] * 5
    assert len(store.results(1)["t.py::t0"][0]["samples"]) == RESERVOIR
    assert len(store.results(40)["t.py::t0"][0]["samples"]) == 1000
    assert path.stat().st_size < before / 3


def test_prune_removes_old_runs_beyond_the_newest_and_keeps_each_branchs_latest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.sqlite"
    store = History(path)
    store.append(_report("2025-01-01T10:00:00+00:00", branch="release"), "m")
    for month in range(1, 10):
        store.append(_report(f"2025-0{month}-15T10:00:00+00:00"), "m")
    store.append(_report("2099-01-01T10:00:00+00:00"), "m")
    assert main(["history", "--path", str(path), "--prune", "--keep-runs", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pruned 7 of 11 runs (older than 365 days, beyond the newest 3): "), out
    assert [r.id for r in store.runs()] == [11, 10, 9, 1]  # 1: the release branch's newest
    assert store.points(["t.py::t"], limit=100)[0].run == 1
    # Within --keep-days nothing goes, however many runs there are.
    assert (
        main(
            [
                "history",
                "--path",
                str(path),
                "--prune",
                "--keep-runs",
                "0",
                "--keep-days",
                "1000000",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("pruned 0 of 4 runs")


def test_prune_without_a_history_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "none.sqlite"
    assert main(["history", "--path", str(path), "--prune"]) == 2
    err = capsys.readouterr().err
    assert err == f"pytest-aide history: error: {path}: no history yet (it is written by " + (
        "pytest --aide-perf)\n"
    )
    assert not path.exists()


SUITE = """
import pytest

def work(n=2000):
    return sum(i * i for i in range(n))

@pytest.mark.aide(mean="1h")
def test_kept(aide_timer):
    aide_timer(work, iterations=40, warmup=1)
"""


def test_keep_samples_option_compacts_and_a_compacted_run_still_gates(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    args = ("--aide-perf", "-p", "no:randomly", "--aide-confirm", "0")
    for _ in range(2):
        pytester.runpytest(*args, "--aide-history-keep-samples", "1").assert_outcomes(passed=1)
    store = History(pytester.path / ".aide" / "history.sqlite")
    (first,) = store.results(1)["test_suite.py::test_kept"]
    (second,) = store.results(2)["test_suite.py::test_kept"]
    assert (len(first["samples"]), first["samples_total"]) == (RESERVOIR, 40)
    assert len(second["samples"]) == 40
    # A tolerance no machine's drift between sessions reaches: the comparison is the point.
    result = pytester.runpytest(*args, "--aide-compare-run", "1", "--aide-tolerance", "900%")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    (comparison,) = report["checks"][0]["comparisons"]
    assert comparison["gating"] and comparison["baseline_date"].startswith("history run #1")
