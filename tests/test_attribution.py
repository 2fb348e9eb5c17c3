"""Instructions per Python function: callgrind dumps of CPython 3.12+ under its perf trampoline.

Python 3.12 is the first CPython with the trampoline. When the interpreter
running the tests is older, a Python 3.12 or newer found on this machine
(PATH, or pyenv's versions) runs them: the dump tests run it directly, the
session test in a virtual environment with this tree installed.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_aide.measure.attribution import (
    CALLER_DEPTH,
    FunctionCount,
    attribute,
    count_differential_lines,
    name_functions,
    perf_map_path,
    read_perf_map,
)
from pytest_aide.measure.counts import CountError, find_valgrind

ROOT = Path(__file__).parents[1]

SCRIPT = """\
def leaf(n):
    return sum(i * i for i in range(n))

def hot():
    return [leaf(50) for _ in range(200)]

def cold():
    return leaf(3000)

def rec(n):
    return 0 if n == 0 else rec(n - 1) + leaf(10)

def target():
    hot()
    cold()
    rec(20)

target()
"""


def _newer_python() -> str | None:
    """A CPython 3.12 or newer: this one, one on PATH, or one of pyenv's."""
    if sys.version_info >= (3, 12):
        return sys.executable
    found = [shutil.which(f"python3.{minor}") for minor in range(12, 20)]
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found += sorted(glob.glob(f"{root}/versions/3.1[2-9]*/bin/python3"))
    for path in filter(None, found):
        try:  # a pyenv shim runs only the versions pyenv was told to: ask for the real one
            done = subprocess.run(
                [path, "-c", "import sys; print(sys.version_info >= (3, 12), sys.executable)"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        newer, _, executable = done.stdout.strip().partition(" ")
        if done.returncode == 0 and newer == "True":
            return executable
    return None


def _needs() -> tuple[str, str]:
    """The valgrind and the Python 3.12+ these tests run, or a skip saying what is missing."""
    try:
        valgrind = find_valgrind().path
    except CountError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have valgrind (.ci/run installs it): {exc}")
        pytest.skip(str(exc))
    python = _newer_python()
    if python is None:
        pytest.skip("no CPython 3.12 or newer here: the perf trampoline came with 3.12")
    return valgrind, python


def test_a_dump_is_attributed_to_python_functions_exactly(tmp_path: Path) -> None:
    valgrind, python = _needs()
    (tmp_path / "work.py").write_text(SCRIPT)
    done = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            f"--separate-callers{CALLER_DEPTH}=0x*",
            f"--callgrind-out-file={tmp_path / 'callgrind.out.%p'}",
            python,
            "-X",
            "perf",
            "work.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    dump = next(tmp_path.glob("callgrind.out.*"))
    pid = int(dump.name.rpartition(".")[2])
    perf_map = perf_map_path(pid)
    try:
        functions = read_perf_map(perf_map)
    finally:
        perf_map.unlink(missing_ok=True)
    assert done.returncode == 0
    found = {
        f.function: f for f in attribute(dump, functions, 1) if f.file == str(tmp_path / "work.py")
    }
    target, hot, cold, rec, leaf = (found[n] for n in ("target", "hot", "cold", "rec", "leaf"))
    # Calls are exact: leaf 200 times from hot, once from cold, 20 times from rec.
    assert (target.calls, hot.calls, cold.calls, rec.calls, leaf.calls) == (1, 1, 1, 21, 221)
    # A function's inclusive instructions are its own and its Python callees', exactly.
    assert target.inclusive == target.own + hot.inclusive + cold.inclusive + rec.inclusive
    genexpr = found["leaf.<locals>.<genexpr>"]
    assert leaf.inclusive == leaf.own + genexpr.inclusive
    # Recursion is not counted twice: rec's 21 calls hold 20 leaf(10) calls and little else.
    assert rec.inclusive < 2 * 20 * (leaf.inclusive / leaf.calls) < hot.inclusive
    assert cold.own < cold.inclusive / 100  # cold() only calls leaf(3000)

    # A kept dump names the Python functions for KCachegrind and callgrind_annotate.
    name_functions(dump, functions)
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert f"py::hot:{tmp_path / 'work.py'}" in annotated
    assert "py::leaf.<locals>.<genexpr>:" in annotated


def _f(function: str, calls: float, own: float, inclusive: float) -> FunctionCount:
    return FunctionCount("/src/app/core.py", function, calls, own, inclusive)


def test_the_differential_names_what_grew_by_own_instructions() -> None:
    old = [
        _f("work", 1, 2_000, 12_000),
        _f("parse", 300, 9_000, 9_000),
        _f("spot", 1, 1_000, 1_000),
    ]
    new = [
        _f("work", 1, 2_000, 612_000),
        _f("parse", 300, 21_000, 21_000),  # 2 % of the change: the collector's, not named
        _f("spot", 1, 400_000, 601_000),
        _f("spot.<locals>.<lambda>", 900, 201_000, 201_000),
    ]
    lines = count_differential_lines("check", old, new, 12_500, 612_500, "the baseline of today")
    assert lines == [
        "differential profile of check by instructions against the baseline of today: "
        "+600 k instr/call in all (+4800 %), most of it in:",
        "  +399 k instr/call in app/core.py spot (own; +39900 %)",
        "  +201 k instr/call in app/core.py spot.<locals>.<lambda> (own; new; "
        "calls per call 0 -> 900)",
    ]
    faster = count_differential_lines("check", new, old, 612_500, 12_500, "REV in the same job")
    assert faster[0].endswith("-600 k instr/call in all (-98 %), most of it in:")
    assert faster[1] == "  -399 k instr/call in app/core.py spot (own; -100 %)"


# Small ints (under 256) are cached: a call that made 300 new ints would count
# malloc's bookkeeping, which moves with the heap's layout by up to ~5 % between
# sessions (benchmarks/results/count-determinism.md), more than the gate's 3 %.
APP = """\
def parse(item):
    return (item * 3 + 1) % 251

def planted_hot_spot(values):
{body}

def work():
    return planted_hot_spot([parse(i) for i in range(300)])
"""

TEST = """\
import pytest
from app import work

@pytest.mark.aide(measure="instructions")
def test_work(aide_timer):
    aide_timer(work)
"""


@pytest.fixture(scope="module")
def python_with_aide(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python 3.12+ with this tree installed (this one, if it is new enough)."""
    _, python = _needs()
    if python == sys.executable:
        return python
    venv = tmp_path_factory.mktemp("py312") / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    # --no-compile: a session compiles what it imports, not all of plotly's modules.
    installed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "-e",
            f"{ROOT}[instructions]",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if installed.returncode != 0:
        pytest.fail(f"pip install into a {python} venv failed:\n{installed.stderr[-2000:]}")
    return str(venv / "bin" / "python")


def test_a_regressed_count_is_attributed_to_the_planted_function(
    pytester: pytest.Pytester, python_with_aide: str
) -> None:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(app=APP.format(body="    return sorted(values)"), test_app=TEST)
    maps_before = set(glob.glob("/tmp/perf-*.map"))
    command = [
        python_with_aide,
        "-m",
        "pytest",
        "--aide-perf",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
    ]
    # Saved under --aide-explain always, a count baseline keeps its figures per function.
    saved = pytester.run(
        *command, "--aide-save-baseline", "--aide-explain=always", "--aide-keep-traces", timeout=900
    )
    assert saved.ret == 0, saved.stdout.str()
    traces = pytester.path / ".aide" / "traces"
    assert sorted(p.name for p in traces.iterdir()) == [
        "callgrind.test_work.functions.out",
        "callgrind.test_work.out",
    ]
    named = (traces / "callgrind.test_work.functions.out").read_text()
    assert f"py::planted_hot_spot:{pytester.path / 'app.py'}" in named  # for KCachegrind
    (baseline,) = pytester.path.glob("baselines/instructions-*/test_app.py/test_work.json")
    (count,) = [r for r in json.loads(baseline.read_text())["results"] if r["kind"] == "count"]
    functions = {f["function"]: f for f in count["functions"]}
    assert functions["parse"]["calls"] == 300 and functions["planted_hot_spot"]["calls"] == 1
    # The figure that gates is counted without the trampoline (which makes calls dearer).
    plain = pytester.run(*command, "--aide-explain=never", timeout=900)
    assert plain.ret == 0, plain.stdout.str()
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    (again,) = [r for r in report["checks"][0]["results"] if r["kind"] == "count"]
    assert again["functions"] == []
    # Within the count gate's 3 % (a list's growth moves a count by ~1.4 %).
    assert again["instructions"] == pytest.approx(count["instructions"], rel=0.03)
    slowed = (
        "    for _ in range(3):\n"
        "        values = sorted(values, key=lambda v: -v)\n"
        "    return sorted(values)"
    )
    pytester.makepyfile(app=APP.format(body=slowed))
    grown = pytester.run(*command, timeout=900)
    assert grown.ret == 1, grown.stdout.str()
    grown.stdout.re_match_lines(
        [
            r"differential profile of test_work by instructions against the baseline of \S+: "
            r"\+\S+ [kM] instr/call in all \(\+\d+ %\), most of it in:",
            r"  \+\S+ k instr/call in \S+/app.py planted_hot_spot \(own; \+\d+ %\)",
            r"  \+\S+ k instr/call in \S+/app.py planted_hot_spot.<locals>.<lambda> "
            r"\(own; new; calls per call 0 -> 900\)",
        ]
    )
    assert "app.py parse" not in grown.stdout.str()  # unchanged: a few instructions, not shown
    assert set(glob.glob("/tmp/perf-*.map")) <= maps_before  # the worker's map is removed
