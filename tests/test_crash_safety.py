"""Saving never leaves a torn file: SIGKILL a writer at random moments, and race four writers."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_writer import IDS, SHARED_ID, baseline, report

from pytest_aide.baselines import (
    STALE_TEMP_SECONDS,
    atomic_write_text,
    baseline_relpath,
    load_baseline,
)
from pytest_aide.history import History
from pytest_aide.report.html import plotly_asset
from pytest_aide.report.json import dump_report
from pytest_aide.report.markdown import render_markdown

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 50
STARTUP_LIMIT = 60


def _writer(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _generation(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    assert match, f"no generation in {text[:200]!r}"
    return int(match.group(1))


def _check_files(root: Path, seen: dict[str, int]) -> None:
    """Every file is a whole generation, never older than the last one seen there."""
    for nodeid in IDS:
        path = root / "baselines" / "m" / baseline_relpath(nodeid)
        text = path.read_text(encoding="utf-8")
        gen = int(load_baseline(path, nodeid).results[0].samples[0])
        assert text == baseline(nodeid, gen).to_text()
        assert gen >= seen.get(nodeid, 0)
        seen[nodeid] = gen
    reports = root / "reports"
    text = (reports / "report.json").read_text(encoding="utf-8")
    gen = int(json.loads(text)["profile"].removeprefix("gen"))
    assert text == dump_report(report(gen))
    markdown = (reports / "report.md").read_text(encoding="utf-8")
    assert markdown == render_markdown(report(_generation(markdown, r"profile `?gen(\d+)")))
    html = (reports / "report.html").read_text(encoding="utf-8")
    assert html.rstrip().endswith("</html>")
    assert len(set(re.findall(r"\bgen(\d+)", html))) == 1  # one generation throughout
    with sqlite3.connect(reports / "history.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    runs = History(reports / "history.sqlite").runs(limit=100_000)
    assert len(runs) >= seen.get("runs", 0)
    seen["runs"] = len(runs)
    asset, plotly_js = plotly_asset()
    for path in root.rglob("*"):
        if path.is_file():
            # Besides the outputs: hidden temporaries (never read) and SQLite's own
            # rollback journal, which the next connection uses to undo a torn append.
            assert (
                path.suffix in (".json", ".md", ".html", ".sqlite", ".sqlite-journal")
                or (path.name.startswith(".") and path.name.endswith(".tmp"))
                or path.name == asset
            ), path
            if path.name == asset:  # plotly.js beside the page: whole, or not there yet
                assert path.read_text(encoding="utf-8") == plotly_js


def test_sigkill_while_saving_never_tears_a_file(tmp_path: Path) -> None:
    seed = 20261126  # fixed: a failure replays the same kill moments
    rng = random.Random(seed)
    first = _writer("loop", tmp_path, 1)
    assert first.stdout is not None
    assert first.stdout.readline() == "ready\n"
    assert first.stdout.readline() == "1\n"  # one whole generation exists before any kill
    first.kill()
    first.wait()
    seen: dict[str, int] = {}
    _check_files(tmp_path, seen)
    completed = 1
    for _ in range(KILLS):
        writer = _writer("loop", tmp_path, completed + 1)
        assert writer.stdout is not None
        deadline = time.monotonic() + STARTUP_LIMIT
        assert writer.stdout.readline() == "ready\n"
        assert time.monotonic() < deadline
        time.sleep(rng.uniform(0, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        finished = [int(line) for line in writer.stdout.read().split()]
        completed = max([completed, *finished]) + 1  # the torn generation is never reused
        _check_files(tmp_path, seen)
    assert seen["runs"] > 1, f"no write was ever under way when killed (seed {seed})"


def test_a_stale_temp_file_is_swept_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "baseline.json"
    stale = tmp_path / ".baseline.json.abc123.tmp"
    fresh = tmp_path / ".baseline.json.def456.tmp"
    other = tmp_path / ".other.json.abc123.tmp"
    for path in (stale, fresh, other):
        path.write_text("{")
    old = time.time() - STALE_TEMP_SECONDS - 60
    for path in (stale, other):
        os.utime(path, (old, old))
    atomic_write_text(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert not stale.exists()
    assert fresh.exists()  # may be another writer's, at work right now
    assert other.exists()  # another file's: not this write's business


def test_four_processes_saving_into_one_directory_lose_nothing(tmp_path: Path) -> None:
    count = 25
    writers = [_writer("share", tmp_path, worker, count) for worker in range(4)]
    for writer in writers:
        assert writer.wait(timeout=300) == 0
    for worker in range(4):
        for i in range(count):
            nodeid = f"tests/test_w{worker}.py::test_{i}"
            path = tmp_path / baseline_relpath(nodeid)
            assert path.read_text() == baseline(nodeid, worker * 1000 + i, 20).to_text()
    shared = tmp_path / baseline_relpath(SHARED_ID)
    gen = int(load_baseline(shared, SHARED_ID).results[0].samples[0])
    assert gen % 1000 == count - 1  # the last save of one of the writers, whole
    assert shared.read_text() == baseline(SHARED_ID, gen, 20).to_text()
    runs = History(tmp_path / "history.sqlite").runs(limit=1000)
    assert len(runs) == 4 * count
    assert sorted({run.machine for run in runs}) == ["w0", "w1", "w2", "w3"]
    assert not list(tmp_path.rglob("*.tmp"))
