"""asv suites run as pytest items under --aide-perf: real asv-style files, no asv needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NO_XDIST = ("-p", "no:xdist", "-p", "no:randomly")

CONFIG = """{
    // asv's configuration allows comments
    "version": 1,
    "project": "demo",
    "benchmark_dir": "benchmarks"
}
"""

COMMON = """
import json, pathlib

def work(n):
    return sum(i * i for i in range(n))

def note(event):
    path = pathlib.Path("events.json")
    events = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps(events + [event]))
"""

SUITE = """
from .common import note, work

def setup(*args):
    note("module setup")

def time_plain():
    work(300)

class TimeSuite:
    params = ([100, 1000], [True, False])
    param_names = ["n", "flag"]

    def setup(self, n, flag):
        if n == 1000 and not flag:
            raise NotImplementedError("not for this combination")
        note(f"class setup {n} {flag}")
        self.n = n

    def teardown(self, n, flag):
        note(f"teardown {n} {flag}")

    def time_bfs(self, n, flag):
        work(self.n)

    def track_value(self, n, flag):
        return n * 2

    track_value.unit = "widgets"


class Skipping:
    params = [1, 2, 3]
    skip_params = [(2,)]

    def track_one(self, p):
        return p


class Sizes:
    def mem_list(self):
        return [0] * 1000

    def peakmem_list(self):
        return bytearray(4_000_000)


class Cached:
    def setup_cache(self):
        note("setup_cache")
        return list(range(300))

    def time_sum(self, data):
        sum(data)

    def track_len(self, data):
        return len(data)


def timeraw_import():
    return "import json", "import sys"

timeraw_import.repeat = 3
"""


def _suite(pytester: pytest.Pytester, suite: str = SUITE) -> None:
    Path(pytester.path, "asv.conf.json").write_text(CONFIG)
    bench = pytester.mkpydir("benchmarks")
    (bench / "common.py").write_text(COMMON)
    (bench / "bench_graph.py").write_text(suite)


def _checks(pytester: pytest.Pytester) -> dict[str, dict]:
    report = json.loads(Path(pytester.path, ".aide", "report.json").read_text())
    return {c["id"]: c for c in report["checks"]}


def _events(pytester: pytest.Pytester) -> list[str]:
    return json.loads(Path(pytester.path, "events.json").read_text())


def _flat(result: pytest.RunResult) -> str:
    return " ".join(line.strip() for line in result.stdout.lines)


def test_items_read_like_asv_names(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest("--aide-perf", "--collect-only", "-q", *NO_XDIST)
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids == [
        "benchmarks/bench_graph.py::time_plain",
        "benchmarks/bench_graph.py::TimeSuite::time_bfs[100-True]",
        "benchmarks/bench_graph.py::TimeSuite::time_bfs[100-False]",
        "benchmarks/bench_graph.py::TimeSuite::time_bfs[1000-True]",
        "benchmarks/bench_graph.py::TimeSuite::time_bfs[1000-False]",
        "benchmarks/bench_graph.py::TimeSuite::track_value[100-True]",
        "benchmarks/bench_graph.py::TimeSuite::track_value[100-False]",
        "benchmarks/bench_graph.py::TimeSuite::track_value[1000-True]",
        "benchmarks/bench_graph.py::TimeSuite::track_value[1000-False]",
        "benchmarks/bench_graph.py::Skipping::track_one[1]",
        "benchmarks/bench_graph.py::Skipping::track_one[2]",
        "benchmarks/bench_graph.py::Skipping::track_one[3]",
        "benchmarks/bench_graph.py::Sizes::mem_list",
        "benchmarks/bench_graph.py::Sizes::peakmem_list",
        "benchmarks/bench_graph.py::Cached::time_sum",
        "benchmarks/bench_graph.py::Cached::track_len",
        "benchmarks/bench_graph.py::timeraw_import",
    ]
    # Without --aide-perf the suite is not collected: a plain run is unchanged.
    plain = pytester.runpytest("--collect-only", "-q", *NO_XDIST)
    assert "bench_graph" not in plain.stdout.str()


def test_every_kind_is_measured_and_recorded(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    result.assert_outcomes(passed=14, skipped=3)
    assert "benchmarks as the suite wrote them: 17 asv benchmark(s)" in _flat(result)
    checks = _checks(pytester)
    prefix = "benchmarks/bench_graph.py::"

    def results(name: str) -> list[dict]:
        return checks[prefix + name]["results"]

    (timed,) = results("TimeSuite::time_bfs[100-True]")
    assert timed["kind"] == "timing" and len(timed["samples"]) >= 3
    (raw,) = results("timeraw_import")
    assert raw["kind"] == "timing" and len(raw["samples"]) == 3  # its repeat
    (track,) = results("TimeSuite::track_value[1000-True]")
    assert (track["kind"], track["value"], track["unit"]) == ("track", 2000.0, "widgets")
    (size,) = results("Sizes::mem_list")
    assert size["measure"] == "size" and 8000 <= size["value"] <= 9000
    memory, peak = results("Sizes::peakmem_list")
    assert memory["kind"] == "memory" and peak["measure"] == "peakmem"
    assert peak["value"] == memory["peak_bytes"] >= 4_000_000
    (length,) = results("Cached::track_len")
    assert length["value"] == 300.0  # setup_cache's value, passed first
    for skipped in ("TimeSuite::time_bfs[1000-False]", "Skipping::track_one[2]"):
        assert checks[prefix + skipped]["status"] == "SKIP"
    events = _events(pytester)
    assert events.count("setup_cache") == 1  # once for both benchmarks of the class
    assert events.count("class setup 100 True") == events.count("teardown 100 True") == 2
    assert "class setup 1000 False" not in events and "teardown 1000 False" not in events
    first = events.index("class setup 100 True")
    assert events[first - 1] == "module setup"  # the module's setup runs first


def test_stored_baselines_gate_each_kind(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    # time_plain is CPU-bound and unchanged: separate runs of it drift by up to +80 % here
    # (benchmarks/drift.py), so its limit is far wider than that; time_bfs grows x30.
    pytester.makepyprojecttoml(
        '[tool.aide.checks."benchmarks/bench_graph.py::time_plain"]\n'
        'thresholds = { regression_max = "300%" }\n'
    )
    pytester.runpytest("--aide-perf", "--aide-save-baseline", *NO_XDIST).assert_outcomes(
        passed=14, skipped=3
    )
    again = pytester.runpytest("--aide-perf", *NO_XDIST)
    again.assert_outcomes(passed=14, skipped=3)
    slower = SUITE.replace("work(self.n)", "work(self.n * 30)").replace("n * 2", "n * 3")
    slower = slower.replace("[0] * 1000", "[0] * 2000").replace("4_000_000", "8_000_000")
    Path(pytester.path, "benchmarks", "bench_graph.py").write_text(slower)
    result = pytester.runpytest("--aide-perf", *NO_XDIST, "--aide-explain", "never")
    out = _flat(result)
    assert "track_value[100-True]: regressed +50.0 % track vs baseline" in out
    assert "mem_list: regressed +" in out and "% size vs baseline" in out
    assert "peakmem_list: regressed +" in out and "% peakmem vs baseline" in out
    checks = _checks(pytester)
    assert checks["benchmarks/bench_graph.py::TimeSuite::time_bfs[1000-True]"]["status"] == (
        "REGRESSED"
    )
    assert checks["benchmarks/bench_graph.py::time_plain"]["status"] == "PASS"


def test_against_a_revision_pairs_time_and_compares_numbers_and_never_passes_the_rest(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester)
    # The configuration elsewhere than the rootdir: the worker sessions must be told it too.
    Path(pytester.path, "asv.conf.json").unlink()
    Path(pytester.mkdir("perf"), "asv.conf.json").write_text(
        CONFIG.replace('"benchmarks"', '"../benchmarks"')
    )
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
    ):
        assert pytester.run(*command).ret == 0
    slower = SUITE.replace("work(300)", "work(300 * 4)").replace("n * 2", "n * 3")
    slower = slower.replace(
        "class Sizes:", "class Sizes:\n    def track_new(self):\n        return 1\n"
    )
    Path(pytester.path, "benchmarks", "bench_graph.py").write_text(slower)
    result = pytester.runpytest_subprocess(
        "--aide-perf",
        "--aide-asv",
        "perf/asv.conf.json",
        "--aide-against",
        "HEAD",
        "-k",
        "time_plain or track_len or track_value or mem_list or timeraw or track_new",
        *NO_XDIST,
        "--aide-against-rounds",
        "3",
        "--aide-explain",
        "never",
    )
    result.assert_outcomes(failed=5, passed=4, skipped=1)  # mem_list picks peakmem_list too
    result.stdout.fnmatch_lines(["track_value?100-True? * +50.00% track * REGRESSED"])
    checks = _checks(pytester)
    prefix = "benchmarks/bench_graph.py::"
    (paired,) = checks[prefix + "time_plain"]["comparisons"]
    assert paired["status"] == "regressed" and paired["against"].startswith("HEAD (")
    # A number is yielded once in REV's tree and compared as a count is.
    (tracked,) = checks[prefix + "TimeSuite::track_value[100-True]"]["comparisons"]
    assert (tracked["status"], tracked["measure"], tracked["ratio"]) == ("regressed", "track", 1.5)
    assert tracked["against"].startswith("HEAD (")
    for same in ("Cached::track_len", "Sizes::mem_list", "Sizes::peakmem_list"):
        (compared,) = checks[prefix + same]["comparisons"]
        assert checks[prefix + same]["status"] == "PASS" and compared["ratio"] == 1.0
    new = checks[prefix + "Sizes::track_new"]
    assert new["status"] == "PASS" and "not in HEAD" in " ".join(new["notes"])
    raw = checks[prefix + "timeraw_import"]
    assert raw["status"] == "NOT COMPARED"
    assert "timeraw_ benchmarks run in fresh interpreters" in raw["uncompared"][0]


def test_timeout_stops_a_benchmark_that_runs_on(pytester: pytest.Pytester) -> None:
    _suite(
        pytester,
        "import time\n\ndef time_forever():\n    time.sleep(30)\n\ntime_forever.timeout = 0.5\n"
        "\ndef track_fine():\n    return 1\n",
    )
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    result.assert_outcomes(passed=1, failed=1)
    assert "time_forever: timed out: stopped after 500.00 ms (timeout from asv timeout)" in (
        _flat(result)
    )


def test_bad_benchmarks_are_one_line_each_and_the_rest_run(pytester: pytest.Pytester) -> None:
    _suite(pytester, "def track_text():\n    return 'many'\n\ndef track_fine():\n    return 1\n")
    Path(pytester.path, "benchmarks", "bench_broken.py").write_text("import not_a_module\n")
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    result.assert_outcomes(passed=1, failed=2)
    out = _flat(result)
    assert "benchmarks/bench_graph.py::track_text: track_ returned 'many', not a number" in out
    assert (
        "benchmarks/bench_broken.py: asv benchmark module cannot be imported: "
        "ModuleNotFoundError: No module named 'not_a_module'"
    ) in out
    assert "pytest_aide/" not in result.stdout.str()


def test_a_bad_configuration_is_one_line(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    Path(pytester.path, "asv.conf.json").write_text("{ not json")
    result = pytester.runpytest("--aide-perf", *NO_XDIST)
    assert "aide: asv suite not collected: asv.conf.json: not valid JSON:" in _flat(result)
    asked = pytester.runpytest("--aide-perf", "--aide-asv", "asv.conf.json", *NO_XDIST)
    assert asked.ret == pytest.ExitCode.USAGE_ERROR
    asked.stderr.fnmatch_lines(["ERROR: asv.conf.json: not valid JSON:*"])


def test_classes_as_parameters_read_by_name(pytester: pytest.Pytester) -> None:
    _suite(
        pytester,
        "class Kinds:\n    params = [dict, list]\n\n    def track_made(self, kind):\n"
        "        return len(kind())\n",
    )
    result = pytester.runpytest("--aide-perf", "--collect-only", "-q", *NO_XDIST)
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids == [
        "benchmarks/bench_graph.py::Kinds::track_made[dict]",
        "benchmarks/bench_graph.py::Kinds::track_made[list]",
    ]
    assert "measured nothing" not in result.stdout.str()  # collecting measures nothing


def test_aide_asv_names_a_suite_elsewhere(pytester: pytest.Pytester) -> None:
    root = pytester.mkdir("perf")
    (root / "asv.conf.json").write_text(CONFIG.replace('"benchmarks"', '"suite"'))
    suite = root / "suite"
    suite.mkdir()
    (suite / "__init__.py").write_text("")
    (suite / "bench_one.py").write_text("def track_one():\n    return 1\n")
    result = pytester.runpytest("--aide-perf", "--aide-asv", "perf/asv.conf.json", *NO_XDIST)
    result.assert_outcomes(passed=1)
    assert "perf/suite/bench_one.py::track_one" in _checks(pytester)


MUTATING = """
from .common import note

class Popping:
    number = 1
    repeat = (3, 4, 10.0)
    warmup_time = 0

    def setup(self):
        self.items = list(range(50))
        note("setup")

    def teardown(self):
        note("teardown")

    def time_pop(self):
        assert len(self.items) == 50, "called again without setting up afresh"
        self.items.pop()
"""


def test_number_times_exact_calls_set_up_afresh_before_each_sample(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester, MUTATING)
    result = pytester.runpytest("--aide-perf", "-k", "time_pop", *NO_XDIST)
    result.assert_outcomes(passed=1)
    (timed,) = _checks(pytester)["benchmarks/bench_graph.py::Popping::time_pop"]["results"]
    # repeat's (min, max, time) bounds 4 samples of number=1 call each, no warm-up.
    assert (len(timed["samples"]), timed["calls_per_sample"], timed["warmup"]) == (4, 1, 0)
    # asv sets up once, then tears down and sets up again before every later sample.
    assert _events(pytester) == ["setup"] + ["teardown", "setup"] * 3 + ["teardown"]


def test_under_xdist_every_kind_is_relayed_and_a_time_benchmark_is_explained(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    _suite(pytester)
    result = pytester.runpytest_subprocess(
        "--aide-perf",
        "-n",
        "2",
        "-p",
        "no:randomly",
        "--aide-explain",
        "always",
        "-k",
        "time_plain or track_len or mem_list",
    )
    result.assert_outcomes(passed=4)  # mem_list picks peakmem_list too
    checks = _checks(pytester)
    prefix = "benchmarks/bench_graph.py::"
    assert {c["declared"] for c in checks.values()} == {"asv"}
    assert checks[prefix + "Cached::track_len"]["results"][0]["value"] == 300.0
    assert checks[prefix + "Sizes::mem_list"]["results"][0]["measure"] == "size"
    (profile,) = checks[prefix + "time_plain"]["profiles"]
    assert profile["name"] == "time_plain"
    assert any(f["function"] == "work" for f in profile["functions"])  # common.py's, called
