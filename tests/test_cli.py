"""``pytest-aide compare``: inputs, formats and exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_aide.baselines import Baseline, save_baseline
from pytest_aide.cli import main
from pytest_aide.results import CountResult, LoadResult, TimingResult

BASE = [0.010 + i * 1e-5 for i in range(30)]


def _report(path: Path, factor: float, ids: tuple[str, ...] = ("t.py::a", "t.py::b")) -> Path:
    checks = [
        {"id": i, "results": [TimingResult(i.split("::")[1], [x * factor for x in BASE]).to_dict()]}
        for i in ids
    ]
    path.write_text(json.dumps({"schema": 1, "created": "2026-11-20T10:00:00", "checks": checks}))
    return path


def _hostile_report(path: Path, number: str) -> Path:
    text = _report(path, 1).read_text()
    path.write_text(text.replace(repr(BASE[0]), number, 1))
    return path


def test_unchanged_runs_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["compare", str(_report(tmp_path / "a.json", 1)), str(_report(tmp_path / "b.json", 1))]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert re.split(r"\s{2,}", out.splitlines()[0]) == [
        "id",
        "old median",
        "new median",
        "new/old",
        "change [95 % CI]",
        "tolerance",
        "verdict",
    ]
    assert "t.py::a  " in out and "0 regressed, 0 improved, 2 unchanged (tolerance 10 %)" in out


def test_regression_exits_one_and_swapping_inverts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _report(tmp_path / "old.json", 1), _report(tmp_path / "new.json", 1.3)
    assert main(["compare", str(old), str(new)]) == 1
    assert "2 regressed" in capsys.readouterr().out
    assert main(["compare", str(new), str(old), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {c["status"] for c in payload["comparisons"]} == {"improved"}
    assert payload["comparisons"][0]["ratio"] == pytest.approx(1 / 1.3)


def test_tolerance_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _report(tmp_path / "old.json", 1), _report(tmp_path / "new.json", 1.3)
    assert main(["compare", str(old), str(new), "--tolerance", "50%"]) == 0
    assert "(tolerance 50 %)" in capsys.readouterr().out


def test_a_checks_own_regression_max_wins(tmp_path: Path) -> None:
    old, new = _report(tmp_path / "old.json", 1), _report(tmp_path / "new.json", 1.3)
    data = json.loads(new.read_text())
    data["checks"][0]["thresholds"] = {"regression_max": {"limit": 0.5}}
    new.write_text(json.dumps(data))
    payload_args = ["compare", str(old), str(new), "--format", "json"]
    assert main(payload_args) == 1  # t.py::b still regressed at the default 10 %
    assert main([*payload_args, "--tolerance", "40%"]) == 0


def test_markdown_and_one_sided_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _report(tmp_path / "old.json", 1, ("t.py::a", "t.py::gone"))
    new = _report(tmp_path / "new.json", 1, ("t.py::a", "t.py::added"))
    assert main(["compare", str(old), str(new), "--format", "md"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "| id | old median | new median | new/old | change [95 % CI] | tolerance | verdict |"
    )
    assert lines[1] == "|---|---|---|---|---|---|---|"
    assert lines[2].startswith("| t.py::a | 10.15 ms | 10.15 ms | 1.000 | +0.0 % [")
    assert lines[2].endswith(" | 10 % (default) | unchanged |")
    assert "- only in OLD: t.py::gone" in lines and "- only in NEW: t.py::added" in lines


def test_baseline_directories_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, factor in (("old", 1.0), ("new", 1.3)):
        result = TimingResult("test_x", [x * factor for x in BASE])
        save_baseline(
            tmp_path / name / "m" / "t.py" / "test_x.json",
            Baseline(id="t.py::test_x", results=[result], machine={}),
        )
    assert main(["compare", str(tmp_path / "old"), str(tmp_path / "new")]) == 1
    single = tmp_path / "new" / "m" / "t.py" / "test_x.json"
    assert main(["compare", str(tmp_path / "old"), str(single)]) == 1
    assert "t.py::test_x" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.json", "missing.json: no such file or directory"),
        (
            lambda p: (p / "bad.json").write_text("{oops") and p / "bad.json",
            "bad.json: not JSON (Expecting property name enclosed in double quotes: line 1 "
            "column 2 (char 1)): expected a pytest-aide report.json, a pytest-benchmark JSON "
            "file or a baseline file",
        ),
        (
            lambda p: (
                (p / "report.md").write_text("# pytest-aide performance report\n")
                and p / "report.md"
            ),
            "report.md: not JSON (Expecting value: line 1 column 1 (char 0)): expected a "
            "pytest-aide report.json",
        ),
        (lambda p: (p / "empty").mkdir() or p / "empty", "empty: no baseline or report files"),
        (
            lambda p: (
                (p / "future.json").write_text('{"schema": 9, "checks": []}') and p / "future.json"
            ),
            "future.json: report schema 9 is not one this pytest-aide reads",
        ),
        (
            lambda p: (p / "b.json").write_text('{"schema": 1, "id": "x"}') and p / "b.json",
            "b.json: baseline is missing field 'created'",
        ),
        (
            lambda p: _hostile_report(p / "nan.json", "NaN"),
            "nan.json: not a valid report: a.samples[0]: nan is not a finite number",
        ),
        (
            lambda p: _hostile_report(p / "huge.json", "1e999"),
            "huge.json: not a valid report: a.samples[0]: inf is not a finite number",
        ),
        (
            lambda p: os.mkfifo(p / "pipe.json") or p / "pipe.json",
            "pipe.json: not a regular file (a named pipe)",
        ),
    ],
)
def test_bad_input_exits_two_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    good = _report(tmp_path / "good.json", 1)
    bad = make(tmp_path)
    assert main(["compare", str(bad), str(good)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pytest-aide compare: error: ") and message in err
    assert "\n" not in err


def test_duplicate_ids_in_one_directory_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for machine in ("m1", "m2"):
        save_baseline(
            tmp_path / "all" / machine / "t.json",
            Baseline(id="t.py::x", results=[TimingResult("x", BASE)], machine={}),
        )
    assert main(["compare", str(tmp_path / "all"), str(_report(tmp_path / "r.json", 1))]) == 2
    assert "point at one machine's baseline directory" in capsys.readouterr().err


def test_reports_from_real_runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(
        """
import os

def work():
    return sum(i * i for i in range(int(20000 * float(os.environ.get("SCALE", "1")))))

def test_work(aide_timer):
    aide_timer(work, iterations=30)
"""
    )
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)
    shutil.copy(pytester.path / ".aide" / "report.json", pytester.path / "old.json")
    monkeypatch.setenv("SCALE", "6")  # far beyond run-to-run drift here (up to +80 %)
    pytester.runpytest("--aide-perf").assert_outcomes(passed=1)
    command = [sys.executable, "-m", "pytest_aide.cli", "compare", "old.json", ".aide/report.json"]
    done = subprocess.run(command, cwd=pytester.path, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "test_work" in done.stdout and "regressed" in done.stdout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("pytest-aide")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "compare" in done.stdout


def _counted_report(path: Path, instructions: float, factor: float = 1.0) -> Path:
    count = CountResult("a", "instructions", instructions, calls=8, valgrind="3.19.0")
    timing = TimingResult("a", [x * factor for x in BASE])
    checks = [{"id": "t.py::a", "results": [timing.to_dict(), count.to_dict()]}]
    path.write_text(json.dumps({"schema": 1, "created": "2026-11-20T10:00:00", "checks": checks}))
    return path


def test_counted_checks_are_judged_on_their_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _counted_report(tmp_path / "old.json", 1_000_000)
    # 2 % more instructions is within 3 %; 30 % more wall time is only reported.
    same = _counted_report(tmp_path / "same.json", 1_020_000, factor=1.3)
    assert main(["compare", str(old), str(same)]) == 0
    out = capsys.readouterr().out
    rows = [re.split(r"\s{2,}", line) for line in out.splitlines()]
    assert [
        "t.py::a (instructions)",
        "1 M instr",
        "1.02 M instr",
        "1.020",
        "+2.0 % exact",
        "3 % (counts' default)",
        "unchanged",
    ] in rows
    assert "regressed (info)" in out
    assert "(tolerance 10 %, counts 3 %)" in out
    grown = _counted_report(tmp_path / "grown.json", 1_040_000)
    assert main(["compare", str(old), str(grown), "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    by_measure = {c["measure"]: c for c in payload["comparisons"]}
    assert by_measure["instructions"]["status"] == "regressed"
    assert by_measure["instructions"]["gating"] and not by_measure["time"]["gating"]


def test_version_and_help_read_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert re.fullmatch(r"pytest-aide \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)
    for command in ([], ["compare"], ["report"], ["history"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "pytest-benchmark JSON" in text and "exit codes: 0 nothing regressed" in text
    assert "--format {text,md,json} text for a terminal" in text


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    old, new = _report(tmp_path / "a.json", 1, IDS), _report(tmp_path / "b.json", 1, IDS)
    argv = ["compare", str(old), str(new)]
    script = f"import sys; from pytest_aide.cli import main; sys.exit(main({argv!r}))"
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    writer = subprocess.run(
        [sys.executable, "-c", script], stdout=reader.stdin, stderr=subprocess.PIPE, text=True
    )
    reader.stdin.close()
    reader.wait()
    assert "Traceback" not in writer.stderr and "BrokenPipeError" not in writer.stderr


IDS = tuple(f"t.py::test_{i}" for i in range(3000))


def test_each_row_says_its_tolerance_and_where_it_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A check's own regression_max is shown on its row, not hidden behind the footer's."""
    old, new = _report(tmp_path / "old.json", 1), _report(tmp_path / "new.json", 1.8)
    data = json.loads(new.read_text())
    data["checks"][0]["thresholds"] = {"regression_max": {"limit": 4.0}}
    new.write_text(json.dumps(data))
    assert main(["compare", str(old), str(new)]) == 1  # t.py::b regressed at 10 %
    out = capsys.readouterr().out
    rows = {row[0]: row for row in (re.split(r"\s{2,}", line) for line in out.splitlines())}
    assert rows["t.py::a"][-2:] == ["400 % (regression_max in NEW)", "unchanged"]
    assert rows["t.py::b"][-2:] == ["10 % (default)", "regressed"]
    assert "(tolerance 10 %; 1 check(s) with a regression_max of their own)" in out
    assert main(["compare", str(old), str(new), "--tolerance", "5%", "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    origins = {c["id"]: c["tolerance_from"] for c in payload["comparisons"]}
    assert origins == {"t.py::a": "regression_max in NEW", "t.py::b": "--tolerance"}


def test_the_ratio_shown_is_the_ratio_of_the_figures_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skewed = [0.010] * 20 + [0.020] * 11  # a bimodal baseline: median 10 ms
    runs = [{"created": "2026-11-20", "medians": {"test_x": m}} for m in (0.009, 0.010, 0.011)]
    old = tmp_path / "old.json"
    save_baseline(
        old, Baseline(id="t.py::test_x", results=[TimingResult("test_x", skewed)], machine={})
    )
    data = json.loads(old.read_text())
    data["runs"] = runs  # three saved runs of one commit, as a refresh job leaves them
    old.write_text(json.dumps(data))
    new = tmp_path / "new.json"
    save_baseline(
        new, Baseline(id="t.py::test_x", results=[TimingResult("test_x", BASE)], machine={})
    )
    main(["compare", str(tmp_path / "old.json"), str(new), "--format", "json"])
    (row,) = json.loads(capsys.readouterr().out)["comparisons"]
    # Judged against three runs' medians: their geometric mean is the figure shown.
    assert row["old"] == pytest.approx((0.009 * 0.010 * 0.011) ** (1 / 3))
    assert row["new"] / row["old"] == pytest.approx(row["ratio"])
    main(["compare", str(tmp_path / "old.json"), str(new)])
    line = capsys.readouterr().out.splitlines()[1]
    before, after, ratio = re.split(r"\s{2,}", line)[1:4]
    assert before == "9.97 ms (3 runs)" and after == "10.15 ms" and ratio == "1.018"


def test_load_and_sweep_checks_are_listed_as_not_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sides = []
    for name in ("old", "new"):
        path = _report(tmp_path / f"{name}.json", 1)
        data = json.loads(path.read_text())
        load = LoadResult("served", [0.001] * 10, wall_time=0.1, concurrency=2)
        data["checks"].append({"id": "t.py::served", "results": [load.to_dict()]})
        path.write_text(json.dumps(data))
        sides.append(str(path))
    assert main(["compare", *sides]) == 0
    out = capsys.readouterr().out
    assert (
        "not compared: t.py::served: load results: the regression gate compares timings and "
        "counts; their limits are in each run's report"
    ) in out.splitlines()
    main(["compare", *sides, "--format", "json"])
    assert list(json.loads(capsys.readouterr().out)["not_compared"]) == ["t.py::served"]
