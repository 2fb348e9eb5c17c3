"""Instruction counts: measured calls of real pytest items, counted under real valgrind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.history import History
from pytest_aide.measure.counts import (
    CountError,
    count_items,
    estimate_cycles,
    find_valgrind,
    read_dump,
)
from pytest_aide.measure.pair import Tree

MODULE = """\
def unit():
    total = 0
    for i in range(2000):
        total += i * i
    return total

def work(k):
    for _ in range(k):
        unit()

def noop():
    pass

def broken():
    raise KeyError("gone")

_calls = []

def late():
    _calls.append(1)
    if len(_calls) > 40:  # after the warm-up and the probe: inside the counted batch
        raise KeyError("late")
"""

TESTS = """\
import pytest
from count_mod import broken, late, noop, unit, work

def test_unit(aide_timer):
    aide_timer(unit)

def test_one_unit(aide_timer):
    aide_timer(work, 1)

def test_ten_units(aide_timer):
    aide_timer(work, 10)

def test_noop(benchmark):
    benchmark(noop)

def test_setup_is_not_counted(benchmark):
    benchmark.pedantic(work, setup=lambda: (work(50), ((1,), {}))[1], rounds=3)

@pytest.mark.asyncio
async def test_async(aide_timer):
    async def job():
        return unit()
    assert (await aide_timer.async_(job)).value == sum(i * i for i in range(2000))

def test_closure(aide_timer):
    units = 3
    aide_timer(lambda: work(units))

def test_raises(aide_timer):
    aide_timer(broken)

def test_raises_while_counted(aide_timer):
    aide_timer(late)
"""


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest-benchmark switches itself off in a session that looks like an xdist worker.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _valgrind():
    try:
        return find_valgrind()
    except CountError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have valgrind (.ci/run installs it): {exc}")
        pytest.skip(str(exc))


def _tree(root: Path) -> Tree:
    root.mkdir()
    (root / "count_mod.py").write_text(MODULE)
    (root / "test_counts.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    return Tree("this tree", root, root / "pytest.ini")


def _count(tmp_path: Path, names: list[str], cycles: bool = False, run: str = "a"):
    tree = _tree(tmp_path / run)
    ids = [f"test_counts.py::{name}" for name in names]
    result = count_items(
        tree,
        ids,
        ["-p", "no:randomly", "-p", "no:cacheprovider", "test_counts.py"],
        valgrind=_valgrind(),
        out_dir=tmp_path / f"{run}-dumps",
        cycles=cycles,
    )
    return {c.label: c for c in result.counts.values()}, result


def test_only_the_measured_calls_are_counted(tmp_path: Path) -> None:
    names = ["test_unit", "test_one_unit", "test_ten_units", "test_noop"]
    names += ["test_setup_is_not_counted", "test_async"]
    counts, run = _count(tmp_path, names)
    assert run.missing == {}
    for count in counts.values():
        assert count.problem is None, count.problem
        assert count.calls >= 1
    unit = counts["test_unit"].instructions
    assert unit > 10_000
    # Ten units read ten times one unit: start-up, pytest, warm-up and the loop are not counted.
    one = counts["test_one_unit"].instructions
    ten = counts["test_ten_units"].instructions
    assert ten / one == pytest.approx(10, rel=0.005), (unit, one, ten)
    assert counts["test_noop"].instructions < 0.001 * unit
    # pedantic's setup (50 units) runs between counted calls of one unit.
    assert counts["test_setup_is_not_counted"].instructions / one == pytest.approx(1, rel=0.005)
    assert counts["test_async"].instructions / unit == pytest.approx(1, rel=0.05)
    tag, events = read_dump(Path(counts["test_unit"].trace))
    assert tag.startswith("aide-") and events["Ir"] > unit


def test_counts_repeat_whatever_ran_before_and_cycles_add_the_caches(tmp_path: Path) -> None:
    names = ["test_unit", "test_closure"]
    first, _ = _count(tmp_path, names, run="a")
    second, _ = _count(tmp_path, ["test_ten_units", *names[::-1]], run="b")
    for name in names:
        spread = abs(first[name].instructions / second[name].instructions - 1)
        # Under the C allocator this loop reads the same to ~0.01 % in any place; under
        # pymalloc it read 2.5-3 % more as the first counted test than later on.
        assert spread <= 0.01, (name, first[name].instructions, second[name].instructions)
        assert first[name].cycles is None
    ratio = first["test_closure"].instructions / first["test_unit"].instructions
    assert ratio == pytest.approx(3, rel=0.05)
    cached, _ = _count(tmp_path, ["test_unit"], cycles=True, run="c")
    unit = cached["test_unit"]
    assert unit.cycles is not None and unit.cycles >= unit.instructions
    assert {"Dr", "Dw", "I1mr", "D1mr", "DLmr"} <= set(unit.events)


def test_a_call_that_raises_while_counted_is_a_problem(tmp_path: Path) -> None:
    counts, _ = _count(tmp_path, ["test_raises", "test_noop", "test_unit"])
    assert "KeyError" in (counts["test_raises"].problem or "")
    assert counts["test_unit"].problem is None and counts["test_unit"].instructions > 0
    # A batch that raised while counting was on leaves the next count as exact as ever.
    after, _ = _count(tmp_path, ["test_raises_while_counted", "test_unit"], run="b")
    assert "KeyError: 'late'" in (after["test_raises_while_counted"].problem or "")
    spread = after["test_unit"].instructions / counts["test_unit"].instructions - 1
    assert abs(spread) <= 0.02, (after["test_unit"].instructions, counts["test_unit"].instructions)


def test_items_not_collected_are_named(tmp_path: Path) -> None:
    _, run = _count(tmp_path, ["test_unit", "test_gone"])
    assert run.missing == {"test_counts.py::test_gone": "not collected in the counting session"}


def test_a_missing_valgrind_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CountError) as missing:
        find_valgrind(str(tmp_path / "no-such-valgrind"))
    assert str(missing.value) == (
        f"valgrind not found ({tmp_path / 'no-such-valgrind'}): install it "
        "(apt-get install valgrind) or measure time (--aide-measure time)"
    )
    fake = tmp_path / "valgrind"
    fake.write_text("#!/bin/sh\necho 'valgrind-3.9.0'\n")
    fake.chmod(0o755)
    with pytest.raises(CountError, match=r"valgrind 3\.9\.0 at .* is too old"):
        find_valgrind(str(fake))


def test_cycle_estimate_weights() -> None:
    events = {"Ir": 100, "Dr": 40, "Dw": 20, "I1mr": 4, "D1mr": 6, "D1mw": 2, "ILmr": 1}
    events |= {"DLmr": 2, "DLmw": 0}
    # 160 accesses: 12 miss L1, of which 3 go to RAM: 148 + 5 * 9 + 35 * 3.
    assert estimate_cycles(events) == 148 + 45 + 105


SESSION_TESTS = """
import pytest

def work(n):
    return sum(i * i for i in range(n))

@pytest.mark.aide(measure="instructions", instructions_max="1k")
def test_over_its_count(aide_timer):
    aide_timer(work, 2000)

@pytest.mark.aide(measure="instructions", instructions_max="100M")
def test_within_its_count(benchmark):
    benchmark(work, 2000)

def test_timed_only(aide_timer):
    aide_timer(work, 10, iterations=3)
"""


def test_a_session_counts_the_checks_that_ask(pytester: pytest.Pytester) -> None:
    _valgrind()
    pytester.makepyfile(test_session=SESSION_TESTS)
    result = pytester.runpytest(
        "--aide-perf",
        "-p",
        "no:randomly",
        "--aide-report-dir=out",
        "--aide-keep-traces",
        "--aide-benchmark-json=bench.json",
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.re_match_lines(
        [r"test_over_its_count: instructions \d+(\.\d+)? [kM] instr > 1 k instr"]
    )
    # Every counted call's callgrind output is kept, listed, and readable by callgrind_annotate.
    result.stdout.re_match_lines(
        [r"callgrind output kept: \S+/out/traces/callgrind.test_within_its_count.out "]
    )
    trace = pytester.path / "out" / "traces" / "callgrind.test_within_its_count.out"
    annotated = subprocess.run(["callgrind_annotate", str(trace)], capture_output=True, text=True)
    assert annotated.returncode == 0 and "PROGRAM TOTALS" in annotated.stdout
    markdown = (pytester.path / "out" / "report.md").read_text()
    assert "## Counts (valgrind)" in markdown
    assert re.search(
        r"\| `test_within_its_count` \| instructions \| \d+(\.\d+)? [kM] instr per call", markdown
    )
    page = (pytester.path / "out" / "report.html").read_text()
    assert re.search(r"test_over_its_count: \d+(\.\d+)? [kM] instr per call", page)
    bench = json.loads((pytester.path / "bench.json").read_text())
    info = {b["name"]: b["extra_info"] for b in bench["benchmarks"]}
    assert info["test_within_its_count"]["aide_instructions"] > 10_000
    assert info["test_within_its_count"]["aide_count"].endswith(
        "counted by valgrind " + _valgrind().version + ")"
    )
    assert "aide_instructions" not in info["test_timed_only"]
    history = History(pytester.path / "out" / "history.sqlite")
    points = history.points(["test_session.py::test_within_its_count"])
    assert [p.kind for p in points] == ["timing", "count"] and points[1].count > 10_000
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    schema = Path(__file__).parents[1] / "pytest_aide" / "report" / "report.schema.json"
    jsonschema.validate(report, json.loads(schema.read_text()))
    kinds = {c["name"]: [r["kind"] for r in c["results"]] for c in report["checks"]}
    assert kinds == {
        "test_over_its_count": ["timing", "count"],
        "test_within_its_count": ["timing", "count"],
        "test_timed_only": ["timing"],
    }
    count = report["checks"][1]["results"][1]
    assert count["measure"] == "instructions" and count["calls"] >= 1
    assert count["instructions"] > 10_000 and count["valgrind"]


def test_without_valgrind_the_session_stops_before_measuring_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_session=SESSION_TESTS.replace('instructions_max="1k"', ""))
    missing = pytester.path / "no-valgrind"
    result = pytester.runpytest(
        "--aide-perf", "--aide-measure=cycles", f"--aide-valgrind={missing}", "-p", "no:randomly"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --aide-measure cycles: valgrind not found ({missing}): install it "
            "(apt-get install valgrind) or measure time (--aide-measure time)"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / ".aide").exists()  # nothing measured, nothing written


GATED = """
import pytest
from gated_mod import work

@pytest.mark.aide(measure="instructions")
def test_counted(aide_timer):
    aide_timer(work)

@pytest.mark.aide(measure="instructions", regression_max="20%")
def test_counted_loosely(aide_timer):
    aide_timer(work)
"""


def _gated(pytester: pytest.Pytester, size: int) -> None:
    pytester.makepyfile(
        # A loop that allocates little: how the allocator's state moves a count on a busy
        # machine is measured in benchmarks/count_determinism.py, not here.
        gated_mod=(
            f"def work():\n    total = 0\n    for i in range({size}):\n"
            "        total += (i * i) % 7\n    return total\n"
        ),
        test_gated=GATED,
    )


def _commit(pytester: pytest.Pytester) -> None:
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(
            ["git", "-c", "user.email=a@b", "-c", "user.name=a", *args],
            cwd=pytester.path,
            check=True,
            capture_output=True,
        )


def test_counts_are_saved_beside_wall_time_and_gate_at_three_percent(
    pytester: pytest.Pytester,
) -> None:
    valgrind = _valgrind()
    pytester.makeini("[pytest]\npythonpath = .\n")
    _gated(pytester, 3000)
    saved = pytester.runpytest("--aide-perf", "--aide-save-baseline", "-p", "no:randomly")
    saved.assert_outcomes(passed=2)
    dirs = sorted(p.name for p in (pytester.path / "baselines").iterdir())
    assert len(dirs) == 2, dirs
    counted = next(d for d in dirs if d.startswith("instructions-"))
    assert counted.endswith(f"-valgrind-{valgrind.version.split('.')[0]}")
    assert "cpython" in counted and "cpu" not in counted.split("-")  # no core count, no CPU model
    for root in dirs:
        assert (pytester.path / "baselines" / root / "test_gated.py" / "test_counted.json").exists()

    same = pytester.runpytest("--aide-perf", "-p", "no:randomly")
    same.assert_outcomes(passed=2)
    # Steady to ~0.01 % for a loop like this one; 2 % leaves room for the heap's moods.
    same.stdout.re_match_lines([r"test_counted .* [+-][01]\.\d\d% instructions .* PASS"])
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    schema = Path(__file__).parents[1] / "pytest_aide" / "report" / "report.schema.json"
    jsonschema.validate(report, json.loads(schema.read_text()))
    first = report["checks"][0]["comparisons"]
    by_measure = {c["measure"]: c for c in first}
    assert by_measure["instructions"]["gating"]
    assert by_measure["instructions"]["ratio"] == pytest.approx(1, abs=0.02)
    assert not by_measure["time"]["gating"]  # a counted check's wall time is only reported

    _gated(pytester, 3300)  # 10 % more work: beyond 3 %, within the loose check's 20 %
    grown = pytester.runpytest("--aide-perf", "-p", "no:randomly")
    grown.assert_outcomes(passed=1, failed=1)
    grown.stdout.re_match_lines(
        [r"test_counted: regressed \+\d+\.\d % instructions vs baseline of \S+, tolerance 3 %"]
    )
    grown.stdout.re_match_lines([r"test_counted_loosely .* \+\d+\.\d\d% instructions .* PASS"])
    if sys.version_info >= (3, 12):  # counted per Python function: tests/test_attribution.py
        grown.stdout.fnmatch_lines(
            [
                "test_counted: no differential by instructions: the baseline of *'s count has no "
                "figures per Python function (saved under --aide-explain always on CPython 3.12 "
                "or newer, it has)"
            ]
        )
    else:
        grown.stdout.fnmatch_lines(
            [
                "test_counted: no differential by instructions: this run's count has no "
                "figures per Python function (CPython 3.12 or newer counts them)"
            ]
        )

    # Without valgrind the counts asked for cannot be made: a usage error before measuring.
    missing = pytester.runpytest("--aide-perf", "-p", "no:randomly", "--aide-valgrind=none/x")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["ERROR: *: valgrind not found (none/x): install it *"])


def test_against_a_revision_counts_both_trees_and_gates_on_the_counts(
    pytester: pytest.Pytester,
) -> None:
    valgrind = _valgrind()
    pytester.makeini("[pytest]\npythonpath = .\n")
    _gated(pytester, 3000)
    _commit(pytester)
    # A valgrind that notes each counting session: REV's counts are kept between sessions.
    sessions = pytester.path / "counting-sessions.log"
    logged = pytester.path / "logged-valgrind"
    logged.write_text(
        f'#!/bin/sh\ncase "$*" in *--tool=*) echo counted >> "{sessions}";; esac\n'
        f'exec "{valgrind.path}" "$@"\n'
    )
    logged.chmod(0o755)
    noted = f"--aide-valgrind={logged}"

    def sessions_run() -> int:
        return len(sessions.read_text().splitlines()) if sessions.exists() else 0

    same = pytester.runpytest("--aide-perf", "--aide-against", "HEAD", "-p", "no:randomly", noted)
    same.assert_outcomes(passed=2)
    assert sessions_run() == 2  # this tree and HEAD's
    assert "count cache" not in same.stdout.str()
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    comparisons = report["checks"][0]["comparisons"]
    counted = [c for c in comparisons if c["measure"] == "instructions"]
    assert len(counted) == 1 and counted[0]["gating"] and counted[0]["against"].startswith("HEAD")
    assert counted[0]["ratio"] == pytest.approx(1, abs=0.02)
    # Counted in both trees, and not timed there: the count decides, the pairing would not.
    assert not [c for c in comparisons if c["measure"] == "time"], comparisons
    assert "same-job pairing" not in same.stdout.str()
    timed = pytester.runpytest(
        "--aide-perf",
        "--aide-against",
        "HEAD",
        "--aide-against-time",
        "-p",
        "no:randomly",
        "--aide-against-rounds",
        "3",
        noted,
    )
    timed.assert_outcomes(passed=2)
    timed.stdout.fnmatch_lines(["same-job pairing: 2 check(s) run in both trees, *"])
    timed.stdout.fnmatch_lines(["counts of HEAD (*): 2 check(s) read from the count cache*"])
    assert sessions_run() == 3  # this tree only: HEAD's counts were kept
    comparisons = json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"][0]
    times = [c for c in comparisons["comparisons"] if c["measure"] == "time"]
    assert times and not any(c["gating"] for c in times)

    _gated(pytester, 3300)  # 10 % more work in this tree only
    grown = pytester.runpytest(
        "--aide-perf",
        "--aide-against",
        "HEAD",
        "-p",
        "no:randomly",
        "--aide-explain",
        "never",
        noted,
    )
    grown.assert_outcomes(passed=1, failed=1)
    grown.stdout.re_match_lines(
        [
            r"test_counted: regressed \+\d+\.\d % instructions vs HEAD \(\w+\) \(same job\), "
            r"tolerance 3 %"
        ]
    )
    assert sessions_run() == 4  # the grown tree against HEAD's kept counts


CRASHING_VALGRIND = """#!/bin/sh
if [ "$1" = "--version" ]; then echo valgrind-3.19.0; exit 0; fi
echo "valgrind: the 'impossible' happened: killed by signal 11" >&2
kill -SEGV $$
"""


@pytest.mark.parametrize("kind", ["crashes", "too old"])
def test_a_broken_valgrind_costs_one_line_per_check_and_loses_nothing(
    pytester: pytest.Pytester, kind: str
) -> None:
    fake = pytester.path / "fake-valgrind"
    if kind == "crashes":
        fake.write_text(CRASHING_VALGRIND)
    else:
        fake.write_text("#!/bin/sh\necho valgrind-3.9.0\n")
    fake.chmod(0o755)
    pytester.makeini("[pytest]\npythonpath = .\n")
    _gated(pytester, 3000)
    saved = pytester.runpytest("--aide-perf", "--aide-save-baseline", "-p", "no:randomly")
    saved.assert_outcomes(passed=2)
    before = {p: p.read_bytes() for p in (pytester.path / "baselines").rglob("*.json")}
    result = pytester.runpytest("--aide-perf", "-p", "no:randomly", f"--aide-valgrind={fake}")
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "pytest_aide/" not in out
    assert {p: p.read_bytes() for p in (pytester.path / "baselines").rglob("*.json")} == before
    if kind == "too old":  # known before measuring: a usage error naming the version
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["ERROR: *: valgrind 3.9.0 at * is too old: 3.13 or newer*"])
        return
    # A valgrind that crashes while counting: the counts asked for were not made.
    result.assert_outcomes(failed=2)
    notes = [line for line in out.splitlines() if line.startswith("not compared: ")]
    assert len(notes) == 2, notes
    assert all("exited (valgrind: the 'impossible'" in line for line in notes), notes


# A time limit instead of the loose count tolerance.
TIME_LIMITED = GATED.replace(
    'regression_max="20%")\ndef test_counted_loosely',
    'mean="1h")\ndef test_counted_with_a_time_limit',
)


def test_against_a_revision_a_counted_check_with_a_time_limit_is_timed_in_both_trees(
    pytester: pytest.Pytester,
) -> None:
    _valgrind()
    pytester.makeini("[pytest]\npythonpath = .\n")
    _gated(pytester, 3000)
    pytester.makepyfile(test_gated=TIME_LIMITED)
    _commit(pytester)
    result = pytester.runpytest(
        "--aide-perf", "--aide-against", "HEAD", "-p", "no:randomly", "--aide-against-rounds", "3"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["same-job pairing: 1 check(s) run in both trees, *"])
    checks = json.loads((pytester.path / ".aide" / "report.json").read_text())["checks"]
    timed = {c["name"]: [x for x in c["comparisons"] if x["measure"] == "time"] for c in checks}
    assert timed["test_counted"] == [] and timed["test_counted_with_a_time_limit"], timed
