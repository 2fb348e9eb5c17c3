"""Reports: report.json, report.md, report.html, the history and the job summary.

report.json is checked against its schema, report.md against stored output and
report.html in headless Chromium; ``pytest-aide report``/``history`` too.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.check import Check
from pytest_aide.cli import main
from pytest_aide.fileio import NotRegularFile, dumps, read_bytes
from pytest_aide.history import History, HistoryError
from pytest_aide.report.html import plotly_asset
from pytest_aide.report.json import SCHEMA_FILE, build_report
from pytest_aide.report.markdown import render_markdown
from pytest_aide.results import (
    CountResult,
    CpuResult,
    LoadResult,
    MemoryResult,
    SweepResult,
    TimingResult,
)
from pytest_aide.verdict import compare, parse_thresholds

DATA = Path(__file__).parent / "data"

SUITE = """
import time
import pytest

def work(n=3000):
    return sum(i * i for i in range(n))

def sleepy():
    time.sleep(0.002)

@pytest.mark.aide(mean="10s")
def test_timed(aide_timer):
    aide_timer(work, iterations=5, warmup=1)

@pytest.mark.aide(p95="10s", error_rate_max="5%")
def test_load(aide_load):
    aide_load(sleepy, concurrency=[1, 2], requests=6)
    aide_load(sleepy, concurrency=2, requests=4, name="plain")

def test_memory(aide_memory):
    with aide_memory():
        [bytes(1000) for _ in range(100)]

@pytest.mark.aide(mean="1ns")
def test_too_slow(aide_timer):
    aide_timer(work, iterations=3, warmup=0)
"""


def _schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _validate(report: dict) -> None:
    jsonschema.validate(report, _schema(), format_checker=jsonschema.FormatChecker())


def _check(name: str, results: list, thresholds: dict, status_from: str = "passed") -> Check:
    check = Check(name, f"tests/test_app.py::{name}", parse_thresholds(thresholds))
    check.results = results
    check.outcome = status_from
    check.judge()
    return check


def _fixed_report() -> dict:
    """A report whose every figure is known: the input of the stored Markdown."""
    old = [0.010, 0.011, 0.0105, 0.0102, 0.0108, 0.0101, 0.0103, 0.0107]
    slower = [s * 1.5 for s in old]
    regressed = _check("test_checkout", [TimingResult("checkout", slower)], {"mean": "1s"})
    assert regressed.verdict is not None
    regressed.verdict.comparisons.append(compare("checkout", old, slower, tolerance=0.1))
    breached = _check("test_search", [TimingResult("search", [0.3, 0.31, 0.29])], {"mean": "0.2s"})
    load = LoadResult(
        "api",
        [0.01] * 95,
        errors=5,
        error_types={"ConnectionError": 5},
        error_messages=["ConnectionError: refused"],
        wall_time=2.0,
        concurrency=10,
    )
    loaded = _check("test_api", [load], {"error_rate_max": "10%", "p95": "1s"})
    sweep = SweepResult(
        "pool",
        [
            LoadResult("pool[1]", [0.02] * 50, wall_time=1.0, concurrency=1),
            LoadResult("pool[4]", [0.02] * 190, wall_time=1.0, concurrency=4),
            LoadResult("pool[8]", [0.04] * 200, wall_time=1.0, concurrency=8),
        ],
    )
    swept = _check("test_pool", [sweep], {})
    memory = MemoryResult("cache", peak_bytes=2_097_152, allocations=1234, leaked_bytes=4096)
    cpu = CpuResult("cache", samples=[90.0, 100.0, 110.0], interval=0.05)
    resources = _check("test_cache", [memory, cpu], {"memory_peak_max": "8MB"})
    skipped = _check("test_gpu", [], {}, status_from="skipped")
    machine = {
        "os": "Linux",
        "arch": "x86_64",
        "cores": 2,
        "cpu": "Example CPU",
        "python": "3.11.7",
        "implementation": "CPython",
        "packages": {"pytest": "9.2.0"},
    }
    checks = [swept, resources, loaded, breached, regressed, skipped]
    report = build_report(checks, profile="ci", machine=machine)
    report["created"] = "2026-11-25T12:00:00+00:00"
    report["system"] = {
        "start": {
            "cpu_percent": 3.0,
            "memory_percent": 40.0,
            "disk_percent": 50.0,
            "load_1min": 0.5,
            "cpus": 2.0,
        }
    }
    return report


def test_markdown_matches_the_stored_output() -> None:
    report = _fixed_report()
    _validate(report)
    expected = (DATA / "expected_report.md").read_text(encoding="utf-8")
    assert render_markdown(report) == expected


def test_markdown_puts_what_needs_attention_first() -> None:
    text = render_markdown(_fixed_report())
    order = [text.index(f"tests/test_app.py::{n}`") for n in ("test_search", "test_checkout")]
    assert order == sorted(order) and text.index("## Needs attention") < text.index("## Checks")
    rows = [line for line in text.splitlines() if line.startswith("| ") and " | `" in line]
    assert [row.split(" | ")[0] for row in rows[:3]] == ["| ❌ FAIL", "| 📉 REGRESSED", "| ✅ PASS"]


def test_session_writes_every_report_and_a_valid_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["reports: .aide/report.json, .aide/history.sqlite, .aide/report.md, .aide/report.html"]
    )
    aide = pytester.path / ".aide"
    report = json.loads((aide / "report.json").read_text(encoding="utf-8"))
    _validate(report)
    assert {r["kind"] for c in report["checks"] for r in c["results"]} == {
        "timing",
        "sweep",
        "load",
        "memory",
    }
    markdown = (aide / "report.md").read_text(encoding="utf-8")
    assert markdown == render_markdown(report)
    assert "test_too_slow: mean" in markdown.split("## Checks")[0]
    page = (aide / "report.html").read_text(encoding="utf-8")
    charts = ["distributions", "load", "sweep-0", "memory"]
    assert [c for c in charts if f'data-chart="{c}"' in page] == charts
    assert "https://" not in page.split("<script>")[0]  # nothing fetched before plotly.js


def test_json_schema_rejects_what_it_should() -> None:
    report = _fixed_report()
    report["checks"][0]["status"] = "OK"
    with pytest.raises(jsonschema.ValidationError, match="'OK' is not one of"):
        _validate(report)
    report = _fixed_report()
    del report["checks"][2]["results"][0]["latencies"]
    with pytest.raises(jsonschema.ValidationError, match="'latencies' is a required property"):
        _validate(report)


def test_job_summary_gets_the_markdown_appended(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(SUITE)
    pytester.runpytest("--aide-perf", "-k", "timed")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n# pytest-aide performance report\n")
    assert text.endswith((pytester.path / ".aide" / "report.md").read_text(encoding="utf-8"))


def test_history_survives_two_runs_and_feeds_the_trend(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(SUITE)
    for _ in range(2):
        pytester.runpytest("--aide-perf", "-k", "timed")
    history = pytester.path / ".aide" / "history.sqlite"
    capsys.readouterr()
    assert main(["history", "--path", str(history)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = "run created commit branch profile machine checks passed failed"
    assert lines[0].split() == header.split()
    assert [line.split()[0] for line in lines[1:]] == ["2", "1"]
    page = (pytester.path / ".aide" / "report.html").read_text(encoding="utf-8")
    assert 'data-chart="history"' in page


def test_corrupt_history_is_reported_and_loses_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    aide = pytester.path / ".aide"
    aide.mkdir()
    garbage = b"this is not sqlite" * 100
    (aide / "history.sqlite").write_bytes(garbage)
    result = pytester.runpytest("--aide-perf", "-k", "timed")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["reports: .aide/report.json, .aide/report.md, .aide/report.html"])
    shown = " ".join(result.stdout.str().split())  # a long path folds the line, indented
    assert (
        "/.aide/history.sqlite: not a usable pytest-aide history (file is not a database); "
        "it was left as it is: move it away or pass --aide-history to start a new one"
    ) in shown
    assert "warning: history: " in result.stdout.str()
    assert (aide / "history.sqlite").read_bytes() == garbage
    assert (aide / "report.html").is_file() and (aide / "report.md").is_file()


def test_an_applications_database_is_never_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    app = pytester.path / "app.sqlite"
    with sqlite3.connect(app) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users (name) VALUES ('ada')")
    before = app.read_bytes()
    result = pytester.runpytest("--aide-perf", "-k", "timed", "--aide-history", "app.sqlite")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "warning: history: */app.sqlite: an SQLite database that is not a pytest-aide "
            "history (tables: users); left untouched: pass --aide-history with another path"
        ]
    )
    assert app.read_bytes() == before
    assert sorted(p.name for p in pytester.path.glob("app.sqlite*")) == ["app.sqlite"]


def test_a_pipe_where_the_history_belongs_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    os.mkfifo(path)
    with pytest.raises(HistoryError, match=r"history.sqlite: not a regular file \(a named pipe\)"):
        History(path).append(REPORT, "m")


REPORT = {
    "created": "2026-11-21T10:00:00",
    "profile": "default",
    "totals": {"checks": 0, "passed": 0, "failed": 0},
    "checks": [],
}


def test_a_locked_history_is_not_called_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    History(path).append(REPORT, "m")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError) as raised:
            History(path, timeout=0.1).append(REPORT, "m")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked by another process" in str(raised.value)
    assert "not a usable" not in str(raised.value) and "move it away" not in str(raised.value)
    assert [run.id for run in History(path).runs()] == [1]


def test_a_full_disk_is_not_called_corrupt(tmp_path: Path) -> None:
    # SQLite's own "database or disk is full", raised for real by a page limit.
    db = sqlite3.connect(tmp_path / "full.sqlite")
    db.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.Error) as raised:
        db.execute("CREATE TABLE t (x TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 10)
    db.close()
    message = History(tmp_path / "history.sqlite")._problem(raised.value)
    assert "the disk is full" in message and "free some space" in message
    assert "move it away" not in message


def test_future_history_version_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    before = path.read_bytes()
    assert main(["history", "--path", str(path)]) == 2
    assert path.read_bytes() == before


V1_TABLES = """
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL,
    profile TEXT NOT NULL, machine TEXT NOT NULL, checks INTEGER NOT NULL,
    passed INTEGER NOT NULL, failed INTEGER NOT NULL);
CREATE TABLE points (run INTEGER NOT NULL REFERENCES runs(id), check_id TEXT NOT NULL,
    result TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, median REAL, p95 REAL,
    throughput REAL, memory_peak REAL);
INSERT INTO runs VALUES (1, '2026-11-20T10:00:00', 'default', 'm', 1, 1, 0);
INSERT INTO points VALUES (1, 't.py::a', 'a', 'timing', 'PASS', 0.01, 0.02, 100.0, NULL);
PRAGMA user_version = 1;
"""


def test_a_version_1_history_gains_counts_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1_TABLES)
    history = History(path)
    (old,) = history.points(["t.py::a"])  # read as it is, before any write
    assert old.median == 0.01 and old.count is None
    count = CountResult("a", "instructions", 1.5e6, calls=4).to_dict()
    timing = TimingResult("a", [0.01, 0.011, 0.012]).to_dict()
    report = {
        "created": "2026-11-21T10:00:00",
        "profile": "default",
        "totals": {"checks": 1, "passed": 1, "failed": 0},
        "checks": [{"id": "t.py::a", "status": "PASS", "results": [timing, count]}],
    }
    history.append(report, "m")
    points = history.points(["t.py::a"])
    assert [(p.run, p.kind, p.count) for p in points] == [
        (1, "timing", None),
        (2, "timing", None),
        (2, "count", 1.5e6),
    ]


def test_aide_history_moves_the_store(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    pytester.runpytest("--aide-perf", "-k", "timed", "--aide-history", "perf/runs.db")
    assert (pytester.path / "perf" / "runs.db").is_file()
    assert not (pytester.path / ".aide" / "history.sqlite").exists()


def test_unwritable_report_dir_warns_and_the_tests_still_count(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    (pytester.path / "blocked").write_text("a file, not a directory", encoding="utf-8")
    result = pytester.runpytest("--aide-perf", "-k", "timed", "--aide-report-dir", "blocked")
    result.assert_outcomes(passed=1)
    # The summary folds a line wider than the terminal (a long tmp path under xdist).
    unfolded = " ".join(" ".join(result.outlines).split())
    assert f"warning: cannot write {pytester.path}/blocked/report.json: " in unfolded, unfolded
    assert (pytester.path / "blocked").read_text(encoding="utf-8") == "a file, not a directory"


def test_report_command_renders_again(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(SUITE)
    pytester.runpytest("--aide-perf", "-k", "timed or memory")
    aide = pytester.path / ".aide"
    capsys.readouterr()
    assert main(["report", str(aide / "report.json")]) == 0
    assert capsys.readouterr().out == (aide / "report.md").read_text(encoding="utf-8")
    out = pytester.path / "again.html"
    assert main(["report", str(aide / "report.json"), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").count('class="chart"') == 2
    (pytester.path / "bad.json").write_text('{"kind": "pytest-aide-report", "schema": 7}')
    assert main(["report", str(pytester.path / "bad.json")]) == 2
    assert capsys.readouterr().err == (
        f"pytest-aide report: error: {pytester.path / 'bad.json'}: report schema 7 is newer "
        "than this pytest-aide reads (1)\n"
    )


def test_the_bundled_scenarios_page_is_light_and_loads_plotly_from_beside_it(
    pytester: pytest.Pytester,
) -> None:
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "aide_system", pytester.path / "aide_system")
    shutil.copytree(root / "scenarios", pytester.path / "scenarios")
    result = pytester.runpytest_subprocess("--aide-perf", "--aide-no-compare", "scenarios")
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)  # limits may break
    aide = pytester.path / ".aide"
    page = (aide / "report.html").read_text(encoding="utf-8")
    assert len(page.encode()) < 1_000_000
    name, text = plotly_asset()
    assert f'<script src="{name}"></script>' in page
    assert (aide / name).read_text(encoding="utf-8") == text
    assert page.count('class="chart"') >= 4  # distributions, load, sweep, memory at least
    written = (aide / name).stat().st_mtime_ns
    again = ("--aide-perf", "--aide-no-compare", "-k", "memory_analysis", "scenarios")
    pytester.runpytest_subprocess(*again)  # one uncounted scenario: no valgrind session
    assert (aide / name).stat().st_mtime_ns == written  # written once, not with every report
    assert sorted(p.name for p in aide.glob("plotly-*")) == [name]


def test_the_baseline_median_is_reported_and_drawn_beside_the_samples(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(SUITE.replace("iterations=5", "iterations=12"))
    pytester.runpytest("--aide-perf", "-k", "timed", "--aide-save-baseline")
    saved = json.loads((pytester.path / ".aide" / "report.json").read_text(encoding="utf-8"))
    (timing,) = saved["checks"][0]["results"]
    pytester.runpytest("--aide-perf", "-k", "timed", "--aide-confirm", "0")
    report = json.loads((pytester.path / ".aide" / "report.json").read_text(encoding="utf-8"))
    _validate(report)
    (comparison,) = report["checks"][0]["comparisons"]
    assert comparison["baseline_median"] == timing["stats"]["median"]
    page = (pytester.path / ".aide" / "report.html").read_text(encoding="utf-8")
    assert '"name":"baseline median"' in page
    assert "allowed slowdown" in page


def test_report_html_to_a_file_or_to_standard_output(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(SUITE)
    pytester.runpytest("--aide-perf", "-k", "timed")
    name, text = plotly_asset()
    out = pytester.path / "elsewhere" / "page.html"
    out.parent.mkdir()
    capsys.readouterr()
    assert (
        main(
            [
                "report",
                str(pytester.path / ".aide" / "report.json"),
                "--format",
                "html",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == [f"wrote {out}", f"wrote {out.parent / name}"]
    assert (out.parent / name).read_text(encoding="utf-8") == text
    assert main(["report", str(pytester.path / ".aide" / "report.json"), "--format", "html"]) == 0
    assert f"<script>{text}</script>" in capsys.readouterr().out  # nothing to put it beside


def _chromium() -> str | None:
    names = ("chromium", "chromium-browser", "google-chrome")
    return next((found for name in names if (found := shutil.which(name))), None)


def test_html_renders_its_charts_in_headless_chromium(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    pytester.makepyfile(SUITE)
    pytester.runpytest("--aide-perf", "-p", "no:randomly")
    page = (pytester.path / ".aide" / "report.html").as_uri()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={pytester.path / 'chromium-profile'}",
        "--virtual-time-budget=20000",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=180
    ).stdout
    # plotly draws each chart as an SVG of class main-svg; unrendered divs have none.
    assert dom.count('class="main-svg"') >= 4, dom[:500]
    assert dom.count('class="plot-container plotly"') == 4
    shots = request.config.rootpath / ".aide" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "report-html.png"
    subprocess.run(
        [
            browser,
            *flags,
            "--hide-scrollbars",
            "--window-size=1200,2600",
            f"--screenshot={shot}",
            page,
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")


def test_json_is_written_strictly() -> None:
    text = dumps({"ratio": float("nan"), "bounds": [float("inf"), -float("inf"), 1.5]})
    assert json.loads(text, parse_constant=_reject) == {"ratio": None, "bounds": [None, None, 1.5]}


def _reject(name: str) -> None:
    raise AssertionError(f"{name} written")


def test_a_device_is_not_read_as_a_file() -> None:
    with pytest.raises(NotRegularFile, match="not a regular file: a character device"):
        read_bytes(Path("/dev/zero"))
