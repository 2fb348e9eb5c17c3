"""Hostile input: every case gets one clear line, the right exit code, and loses nothing.

Each case runs a real pytest session on a small project that also holds a good
scenario, a good test and a stored baseline of another check. It asserts the
exact line shown, the exit code, that no traceback from pytest-aide's own
code is shown, and that every file that existed before is still there, byte
for byte (unless the case says which file may legitimately change).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_aide.baselines import BASELINE_SCHEMA, Baseline
from pytest_aide.measure.system import machine_info, machine_slug
from pytest_aide.results import TimingResult

MODULE = """
import time

def work():
    return sum(range(100))

def boom():
    return 1 / 0

def hang():
    time.sleep(600)

NOT_CALLABLE = 3

def leaks_stop():
    raise StopIteration

async def _later():
    return 1

def returns_coroutine():
    return _later()

async def agen():
    yield 1

def gen():
    yield 1
"""
GOOD_SCENARIOS = '[scenarios.ok]\ntarget = "mod:work"\niterations = 3\nwarmup = 0\n'
GOOD_TEST = "def test_good(aide_timer):\n    aide_timer(lambda: None, iterations=3)\n"
OK_ID = "scenarios/good.toml::ok"
KEEP_ID = "tests_kept/test_old.py::test_old"
INTERNALS = f"{os.sep}pytest_aide{os.sep}"
HANG = 600.0
"""Seconds after which a session that should end in a few counts as hung."""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(mod=MODULE, test_good=GOOD_TEST)
    pytester.makepyfile(raising='raise RuntimeError("configuration missing")\n')
    pytester.makepyfile(exiting='import sys\nsys.exit("no configuration")\n')
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "good.toml").write_text(GOOD_SCENARIOS)
    kept = _baseline_path(pytester, KEEP_ID)
    kept.parent.mkdir(parents=True)
    kept.write_text(Baseline(KEEP_ID, [TimingResult(KEEP_ID, [1.0, 1.1])], {}).to_text())
    return pytester


def _baseline_path(project: pytest.Pytester, nodeid: str) -> Path:
    file_part, _, name = nodeid.partition("::")
    slug = machine_slug(machine_info())
    return project.path / "baselines" / slug / file_part / f"{name}.json"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not {"__pycache__", ".pytest_cache", ".aide"} & set(path.relative_to(root).parts)
    }


def _session(
    project: pytest.Pytester,
    *args: str,
    may_change: tuple[str, ...] = (),
    hang_after: float | None = None,
) -> pytest.RunResult:
    """Run pytest; check no internal traceback is shown and no earlier file was lost.

    With ``hang_after``, pytest runs in a subprocess that fails the test when it
    has not ended after that many seconds (a case whose failure would be a hang).
    """
    before = _files(project.path)
    if hang_after is None:
        result = project.runpytest(*args)
    else:
        result = project.runpytest_subprocess(*args, timeout=hang_after)
    shown = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in shown
    assert "INTERNALERROR" not in shown
    assert INTERNALS not in shown
    after = _files(project.path)
    for path, data in before.items():
        if path not in may_change:
            assert after.get(path) == data, f"{path} was lost or changed"
    return result


def _one_line(result: pytest.RunResult, line: str) -> None:
    # The summary folds a line wider than the terminal (a long tmp path under xdist).
    unfolded = " ".join(" ".join(result.outlines + result.errlines).split())
    assert line in result.outlines + result.errlines or line in unfolded, f"not shown: {line}"


SCENARIO_CASES = {
    "toml-syntax": (
        "[scenarios.x\ntarget = 1\n",
        "scenarios/bad.toml: invalid TOML: Expected ']' at the end of a table declaration "
        "(at line 1, column 13)",
        "file",
    ),
    "empty-file": ("", "scenarios/bad.toml: no scenarios: add a [scenarios.NAME] table", "file"),
    "unknown-top-level-key": (
        '[scenario.x]\ntarget = "mod:work"\n',
        "scenarios/bad.toml: unknown top-level key 'scenario' (did you mean 'scenarios'?)",
        "file",
    ),
    "wrong-type-iterations": (
        'iterations = "ten"',
        "key 'iterations': expected a whole number, got 'ten'",
        "x",
    ),
    "wrong-type-args": ('args = "a"', "key 'args': expected an array, got str 'a'", "x"),
    "zero-iterations": (
        "iterations = 0",
        "key 'iterations': expected a whole number from 1 to 1,000,000, got 0",
        "x",
    ),
    "negative-iterations": (
        "iterations = -3",
        "key 'iterations': expected a whole number from 1 to 1,000,000, got -3",
        "x",
    ),
    "negative-warmup": (
        "warmup = -1",
        "key 'warmup': expected a whole number from 0 to 1,000,000, got -1",
        "x",
    ),
    "huge-iterations": (
        "iterations = 1000000000000",
        "key 'iterations': expected a whole number from 1 to 1,000,000, got 1000000000000",
        "x",
    ),
    "zero-concurrency": (
        "load = { concurrency = 0, requests = 5 }",
        "key 'load': concurrency: expected 1 to 10,000, got 0",
        "x",
    ),
    "huge-concurrency": (
        "load = { concurrency = 1000000000, requests = 5 }",
        "key 'load': concurrency: expected 1 to 10,000, got 1000000000",
        "x",
    ),
    "unknown-key": (
        "iteration = 5",
        "unknown key 'iteration' (did you mean 'iterations'?)",
        "x",
    ),
    "unknown-threshold-key": (
        'thresholds = { p96 = "1s" }',
        "unknown threshold key 'p96' (did you mean 'p95'?)",
        "x",
    ),
    "unknown-measure": (
        'measure = "fast"',
        "key 'measure': unknown measure 'fast' (known: time, wall, solo, cpu, instructions, "
        "cycles)",
        "x",
    ),
    "counted-load": (
        'measure = "instructions"\nload = { concurrency = 2, requests = 4 }',
        "key 'measure': a load scenario is timed, it cannot measure instructions",
        "x",
    ),
    "bad-count": (
        'thresholds = { instructions_max = "lots" }',
        "threshold 'instructions_max': invalid count 'lots': expected a number or a string "
        "like '900k', '2.5M', '1.2G'",
        "x",
    ),
    "negative-duration": (
        'thresholds = { mean = "-5ms" }',
        "threshold 'mean': invalid duration '-5ms': expected a number of seconds or a string "
        "like '80us', '250ms', '2s', '1.5min' (finite, not negative)",
        "x",
    ),
    "word-for-duration": (
        'thresholds = { p95 = "fast" }',
        "threshold 'p95': invalid duration 'fast': expected a number of seconds or a string "
        "like '80us', '250ms', '2s', '1.5min'",
        "x",
    ),
    "overflowing-duration": (
        'thresholds = { max = "1e999s" }',
        "threshold 'max': invalid duration '1e999s': expected a number of seconds or a string "
        "like '80us', '250ms', '2s', '1.5min' (finite, not negative)",
        "x",
    ),
    "bad-size": (
        'thresholds = { memory_peak_max = "lots" }',
        "threshold 'memory_peak_max': invalid size 'lots': expected a number of bytes or a "
        "string like '512KiB', '200MB', '1.5GiB'",
        "x",
    ),
    "bad-retry": (
        "retry = { max_attempts = 0 }",
        "key 'retry': max_attempts: expected a whole number of at least 1, got 0",
        "x",
    ),
    "unknown-retry-key": (
        "retry = { attempts = 3 }",
        "key 'retry': unknown key 'attempts' (did you mean 'max_attempts'?)",
        "x",
    ),
    "zero-timeout": (
        "timeout = 0",
        "key 'timeout': invalid timeout 0: expected a duration of more than 0, e.g. '30s'",
        "x",
    ),
    "wrong-type-warmup": (
        'warmup = "two"',
        "key 'warmup': expected a whole number, got 'two'",
        "x",
    ),
    "missing-target": (
        "[scenarios.x]\niterations = 3\n",
        "key 'target' is missing ('package.module:callable')",
        "x-whole-file",
    ),
    "target-without-colon": (
        '[scenarios.x]\ntarget = "mod.work"\n',
        "key 'target': expected 'package.module:callable', got 'mod.work'",
        "x-whole-file",
    ),
    "scenario-not-table": ("[scenarios]\nx = 3\n", "expected a table, got int 3", "x-whole-file"),
}


@pytest.mark.parametrize("case", list(SCENARIO_CASES))
def test_bad_scenario_file(project: pytest.Pytester, case: str) -> None:
    body, message, item = SCENARIO_CASES[case]
    whole = item in ("file", "x-whole-file")
    text = body if whole else f'[scenarios.x]\ntarget = "mod:work"\n{body}\n'
    (project.path / "scenarios" / "bad.toml").write_text(text)
    for mode in ((), ("--aide-perf",)):
        result = _session(project, *mode)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.assert_outcomes(passed=2, errors=1)
        _one_line(
            result, message if item == "file" else f"scenarios/bad.toml: scenario 'x': {message}"
        )


TARGET_CASES = {
    "module-missing": (
        "nosuchmod:work",
        "key 'target': cannot import 'nosuchmod': ModuleNotFoundError: No module named 'nosuchmod'",
    ),
    "attribute-missing": (
        "mod:nothere",
        "key 'target': 'mod:nothere': 'mod' has no attribute 'nothere'",
    ),
    "not-callable": (
        "mod:NOT_CALLABLE",
        "key 'target': 'mod:NOT_CALLABLE' is not callable (it is int)",
    ),
    "raises-on-import": (
        "raising:work",
        "key 'target': importing 'raising' raised RuntimeError: configuration missing",
    ),
    "exits-on-import": (
        "exiting:work",
        "key 'target': importing 'exiting' raised SystemExit: no configuration",
    ),
    "returns-a-coroutine": (
        "mod:returns_coroutine",
        "the target returned an awaitable without awaiting it, so only creating it would be "
        "timed: make the target 'async def' (it is then awaited on an event loop)",
    ),
    "async-generator-function": (
        "mod:agen",
        "the target is an async generator function: calling it only creates the generator, "
        "so nothing would be timed; time a function that consumes it instead",
    ),
    "generator-function": (
        "mod:gen",
        "the target is a generator function: calling it only creates the generator, "
        "so nothing would be timed; time a function that consumes it instead",
    ),
}


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_bad_target(project: pytest.Pytester, case: str) -> None:
    target, message = TARGET_CASES[case]
    (project.path / "scenarios" / "bad.toml").write_text(f'[scenarios.x]\ntarget = "{target}"\n')
    result = _session(project, "--aide-perf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    _one_line(result, f"scenarios/bad.toml: scenario 'x': {message}")


def test_target_that_raises_on_every_call_shows_only_its_own_frames(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios" / "bad.toml").write_text('[scenarios.x]\ntarget = "mod:boom"\n')
    result = _session(project, "--aide-perf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    _one_line(result, "E       ZeroDivisionError: division by zero")
    _one_line(result, "mod.py:7: ZeroDivisionError")
    shown = result.stdout.str()
    assert f"{os.sep}_pytest{os.sep}" not in shown and f"{os.sep}pluggy{os.sep}" not in shown
    assert "def boom():" in shown


def test_target_that_leaks_stop_iteration_fails_alone(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "bad.toml").write_text(
        '[scenarios.x]\ntarget = "mod:leaks_stop"\n'
    )
    project.makepyfile(
        test_leak="from mod import leaks_stop\n\n"
        "def test_leak(aide_timer):\n    aide_timer(leaks_stop)\n"
    )
    result = _session(project, "--aide-perf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=2)
    _one_line(result, "E       StopIteration")
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    assert {c["id"]: c["status"] for c in report["checks"]}[OK_ID] == "PASS"


def test_target_that_raises_under_load_counts_errors(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "bad.toml").write_text(
        '[scenarios.x]\ntarget = "mod:boom"\nload = { concurrency = 2, requests = 6 }\n'
        "thresholds = { error_rate_max = 0.05 }\n"
    )
    result = _session(project, "--aide-perf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    _one_line(result, "x: error_rate 100.0% > 5.0%")


def test_target_that_hangs_is_stopped(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "bad.toml").write_text(
        '[scenarios.x]\ntarget = "mod:hang"\ntimeout = "200ms"\n'
    )
    result = _session(project, "--aide-perf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    _one_line(result, "x: timed out: stopped after 200.00 ms (timeout from scenario 'x')")


def _stored(project: pytest.Pytester, data: bytes) -> tuple[Path, str]:
    path = _baseline_path(project, OK_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, str(path.relative_to(project.path))


def _good_baseline(nodeid: str = OK_ID, **fields: object) -> bytes:
    data = Baseline(nodeid, [TimingResult(nodeid.rpartition("::")[2], [1e-6] * 3)], {}).to_dict()
    data.update(fields)
    return json.dumps(data).encode()


BASELINE_CASES = {
    "truncated": (_good_baseline()[:40], "corrupt baseline: {json_error}"),
    "empty": (b"", "corrupt baseline: the file is empty"),
    "binary": (bytes(range(256)), "corrupt baseline: not UTF-8 text"),
    "not-an-object": (b"[1, 2]", "corrupt baseline: expected a JSON object"),
    "result-not-an-object": (
        _good_baseline(results=[3]),
        "corrupt baseline results: expected a result object, got int",
    ),
    "overflowing-number": (
        _good_baseline().replace(b"1e-06", b"1e999", 1),
        "corrupt baseline results: ok.samples[0]: inf is not a finite number (NaN, or too large)",
    ),
    "nan-sample": (
        _good_baseline().replace(b"1e-06", b"NaN", 1),
        "corrupt baseline results: ok.samples[0]: nan is not a finite number (NaN, or too large)",
    ),
    "future-schema": (
        _good_baseline(schema=BASELINE_SCHEMA + 98),
        f"baseline schema {BASELINE_SCHEMA + 98} is newer than this pytest-aide reads "
        f"({BASELINE_SCHEMA}); upgrade pytest-aide",
    ),
    "another-id": (
        _good_baseline("scenarios/other.toml::other"),
        f"baseline is for 'scenarios/other.toml::other', not '{OK_ID}'",
    ),
}


@pytest.mark.parametrize("case", list(BASELINE_CASES))
def test_unusable_baseline_fails_its_check_and_is_kept(project: pytest.Pytester, case: str) -> None:
    data, message = BASELINE_CASES[case]
    if "{json_error}" in message:
        try:
            json.loads(data)
        except json.JSONDecodeError as exc:
            message = message.format(json_error=exc)
    path, shown = _stored(project, data)
    result = _session(project, "--aide-perf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    _one_line(result, f"ok: {shown}: {message}")
    assert path.read_bytes() == data


@pytest.mark.parametrize("case", ["future-schema", "another-id"])
def test_saving_never_replaces_a_baseline_holding_data(project: pytest.Pytester, case: str) -> None:
    data, message = BASELINE_CASES[case]
    path, shown = _stored(project, data)
    result = _session(project, "--aide-perf", "--aide-save-baseline")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    _one_line(result, f"ok: {shown}: {message}; not replaced")
    assert path.read_bytes() == data


@pytest.mark.parametrize("save", [False, True])
def test_a_pipe_where_a_baseline_belongs_neither_hangs_nor_is_replaced(
    project: pytest.Pytester, save: bool
) -> None:
    path = _baseline_path(project, OK_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    shown = str(path.relative_to(project.path))
    save_args = ["--aide-save-baseline"] if save else []
    result = _session(project, "--aide-perf", *save_args, hang_after=HANG)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    message = f"ok: {shown}: cannot read baseline: not a regular file: a named pipe"
    _one_line(result, f"{message}; not replaced" if save else message)
    assert path.is_fifo()


def test_a_pipe_among_the_scenario_files_does_not_hang(project: pytest.Pytester) -> None:
    os.mkfifo(project.path / "scenarios" / "pipe.toml")
    (project.path / "scenarios" / "good.toml").write_text(
        GOOD_SCENARIOS + '\n[profiles.ci.ok]\nthresholds = { mean = "10s" }\n'
    )
    result = _session(project, "--aide-perf", "--aide-profile", "ci", hang_after=HANG)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2)


def test_check_ids_that_once_shared_a_file_keep_their_own_baselines(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_clash="import pytest\n\n"
        '@pytest.mark.parametrize("x", ["a b", "a/b"])\n'
        "def test_p(aide_timer, x):\n    aide_timer(lambda: None, iterations=3)\n"
    )
    _session(project, "--aide-perf", "--aide-save-baseline").assert_outcomes(passed=4)
    _session(project, "--aide-perf")
    saved = sorted(p.name for p in (project.path / "baselines").rglob("test_p*.json"))
    assert len(saved) == 2
    _compared_with_own_baselines(project, "test_clash.py::test_p")


def _compared_with_own_baselines(project: pytest.Pytester, prefix: str) -> None:
    """Each check whose id starts with ``prefix`` found its own baseline (whatever the figures)."""
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    checks = [c for c in report["checks"] if c["id"].startswith(prefix)]
    assert checks
    for check in checks:
        assert check["comparisons"], check  # another id's file would not load: no comparison


def test_saving_replaces_a_corrupt_baseline_and_says_so(project: pytest.Pytester) -> None:
    path, shown = _stored(project, b"")
    result = _session(project, "--aide-perf", "--aide-save-baseline", may_change=(shown,))
    assert result.ret == pytest.ExitCode.OK
    _one_line(
        result,
        f"note: ok: replaced unusable baseline {shown}: corrupt baseline: the file is empty",
    )
    assert json.loads(path.read_text())["id"] == OK_ID


@pytest.mark.parametrize("where", ["baseline-dir", "report-dir"])
@pytest.mark.parametrize("perf", [False, True])
def test_a_symlink_loop_where_a_directory_belongs(
    project: pytest.Pytester, where: str, perf: bool
) -> None:
    os.symlink("loop", project.path / "loop")
    args = ("--aide-perf", "--aide-save-baseline") if perf else ()
    result = _session(project, f"--aide-{where}", "loop", *args)
    if not perf:
        assert result.ret == pytest.ExitCode.OK
        return
    loop = f"{project.path / 'loop'} is a symbolic link that loops or leads nowhere"
    if where == "baseline-dir":
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines([f"ok: loop/*/ok.json: cannot save baseline: {loop}"])
    else:
        assert result.ret == pytest.ExitCode.OK
        _one_line(result, f"warning: cannot write {project.path / 'loop' / 'report.json'}: {loop}")


def test_a_check_id_longer_than_a_file_name_keeps_its_baseline(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_long="import pytest\n\n"
        '@pytest.mark.parametrize("x", ["x" * 400])\n'
        "def test_p(aide_timer, x):\n    aide_timer(lambda: None, iterations=3)\n"
    )
    result = _session(project, "--aide-perf", "--aide-save-baseline")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    _session(project, "--aide-perf")
    _compared_with_own_baselines(project, "test_long.py::test_p")


def test_report_dir_that_is_a_file(project: pytest.Pytester) -> None:
    (project.path / "blocked").write_text("a file, not a directory")
    result = _session(project, "--aide-perf", "--aide-report-dir", "blocked")
    assert result.ret == pytest.ExitCode.OK
    for name in ("report.json", "report.md", "report.html"):
        _one_line(
            result,
            f"warning: cannot write {project.path}/blocked/{name}: "
            f"{project.path}/blocked is a file, not a directory",
        )


def _unprivileged() -> list[str]:
    """A command prefix under which permission bits bind (root ignores them)."""
    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root without unshare: a read-only directory cannot be made")
    probe = subprocess.run([unshare, "--user", "true"], check=False, capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root and unshare --user fails: {probe.stderr.decode().strip()}")
    return [unshare, "--user"]


def test_read_only_report_dir(project: pytest.Pytester) -> None:
    prefix = _unprivileged()
    reports = project.path / "reports"
    reports.mkdir()
    (reports / "report.json").write_text("the previous report\n")
    reports.chmod(0o555)
    try:
        before = _files(project.path)
        result = project.run(
            *prefix, sys.executable, "-m", "pytest", "--aide-perf", "--aide-report-dir=reports"
        )
    finally:
        reports.chmod(0o755)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [f"warning: cannot write {reports}/report.json: Permission denied"], consecutive=False
    )
    assert "Traceback" not in result.stdout.str() and INTERNALS not in result.stdout.str()
    after = _files(project.path)
    assert {path: after.get(path) for path in before} == before


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ("--aide-perf",),
            {"AIDE_ENV": "staging"},
            "ERROR: unknown aide profile 'staging' (from AIDE_ENV); known: default",
        ),
        (
            ("--aide-perf", "--aide-profile", "prod"),
            {},
            "ERROR: unknown aide profile 'prod' (from --aide-profile); known: default",
        ),
        (
            ("--aide-perf", "--aide-against", "HEAD", "--aide-no-compare"),
            {},
            "ERROR: --aide-against HEAD compares this tree with HEAD; it cannot be combined "
            "with --aide-no-compare",
        ),
        (
            ("--aide-against", "HEAD~1", "--aide-compare-any-machine"),
            {},
            "ERROR: --aide-against HEAD~1 measures both trees on this machine; "
            "--aide-compare-any-machine (for stored baselines) cannot be combined with it",
        ),
        (
            ("-o", "aide_iterations=abc"),
            {},
            "ERROR: ini option 'aide_iterations': invalid count 'abc': expected a whole "
            "number from 1 to 1,000,000",
        ),
        (
            ("--aide-tolerance", "fast"),
            {},
            "error: argument --aide-tolerance: invalid tolerance 'fast': "
            "expected a percentage like '10%' or 10",
        ),
        (
            ("--aide-iterations", "0"),
            {},
            "error: argument --aide-iterations: invalid count '0': "
            "expected a whole number from 1 to 1,000,000",
        ),
        (
            ("--aide-iterations", "99999999999999999999999"),
            {},
            "error: argument --aide-iterations: invalid count '99999999999999999999999': "
            "expected a whole number from 1 to 1,000,000",
        ),
        (
            ("--aide-warmup", "-1"),
            {},
            "error: argument --aide-warmup: invalid count '-1': "
            "expected a whole number from 0 to 1,000,000",
        ),
        (
            ("--aide-drift", "lots"),
            {},
            "error: argument --aide-drift: invalid drift 'lots': "
            "expected a percentage like '10%' or 10",
        ),
        (
            ("--aide-measure", "fast"),
            {},
            "error: argument --aide-measure: invalid measure 'fast' (choose from time, wall, "
            "solo, cpu, instructions, cycles)",
        ),
        (
            ("--aide-confirm", "-1"),
            {},
            "error: argument --aide-confirm: invalid count '-1': "
            "expected a whole number from 0 to 1,000,000",
        ),
        (
            ("-o", "aide_measure=fast"),
            {},
            "ERROR: ini option 'aide_measure': invalid measure 'fast' (choose from time, wall, "
            "solo, cpu, instructions, cycles)",
        ),
    ],
    ids=[
        "aide-env",
        "profile-option",
        "against-no-compare",
        "against-any-machine",
        "ini",
        "tol",
        "zero-iterations",
        "huge-iterations",
        "negative-warmup",
        "drift",
        "measure",
        "confirm",
        "measure-ini",
    ],
)
def test_bad_options(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = _session(project, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(line.endswith(message) for line in result.errlines), result.errlines


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "aide_timer(f, iterations=0)",
            "aide_timer: iterations must be a whole number from 1 to 1,000,000, got 0",
        ),
        (
            "aide_timer(f, iterations='5')",
            "aide_timer: iterations must be a whole number from 1 to 1,000,000, got '5'",
        ),
        (
            "aide_timer(f, warmup=-1)",
            "aide_timer: warmup must be a whole number from 0 to 1,000,000, got -1",
        ),
        ("aide_timer(f, name=3)", "aide_timer: name must be a string, got 3"),
        (
            "aide_load(f, rate=1e-300, requests=2)",
            "aide_load: rate must be from 1.65344e-06 to 1e+09, got 1e-300",
        ),
        (
            "aide_load(f, timeout=1e10)",
            "aide_load: timeout must be from 1e-06 to 604800, got 10000000000.0",
        ),
    ],
)
def test_bad_fixture_call(project: pytest.Pytester, call: str, message: str) -> None:
    fixture = call.partition("(")[0]
    project.makepyfile(test_called=f"def f():\n    pass\n\ndef test_c({fixture}):\n    {call}\n")
    for mode in ((), ("--aide-perf",)):
        result = _session(project, *mode)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.assert_outcomes(passed=2, failed=1)
        _one_line(result, message)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "p96='1s'",
            "unknown threshold key 'p96' (did you mean 'p95'?)",
        ),
        ("'2s'", "takes keyword arguments only, e.g. @pytest.mark.aide(name='x', mean='2s')"),
        (
            "mean=-1",
            "threshold 'mean': invalid duration -1: expected a number of seconds or a "
            "string like '80us', '250ms', '2s', '1.5min' (finite, not negative)",
        ),
        (
            "mean='fast'",
            "threshold 'mean': invalid duration 'fast': expected a number of seconds or a "
            "string like '80us', '250ms', '2s', '1.5min'",
        ),
        (
            "throughput_min='many'",
            "threshold 'throughput_min': invalid number 'many': expected a number",
        ),
        ("name=3", "name must be a string, got 3"),
        (
            "measure='instrs'",
            "measure: unknown measure 'instrs' (known: time, wall, solo, cpu, instructions, "
            "cycles)",
        ),
        (
            "retry={'jitter': 'lots'}",
            "retry: jitter: expected true, false or a fraction from 0 to 1, got 'lots'",
        ),
        (
            "mean=10**400",
            "threshold 'mean': invalid duration 10000000000000000000…00000000 (401 characters): "
            "too large to use",
        ),
        ("timeout=1e10", "timeout: invalid timeout 10000000000.0: expected at most 7 days"),
    ],
    ids=[
        "unknown-key",
        "positional",
        "negative",
        "word",
        "not-a-number",
        "name",
        "measure",
        "retry",
        "huge-limit",
        "huge-timeout",
    ],
)
def test_bad_marker(project: pytest.Pytester, marker: str, message: str) -> None:
    project.makepyfile(
        test_marked=f"import pytest\n\n@pytest.mark.aide({marker})\ndef test_m():\n    pass\n"
    )
    for mode in ((), ("--aide-perf",)):
        result = _session(project, *mode)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.assert_outcomes(passed=2, errors=1)
        _one_line(result, f"test_marked.py::test_m: @pytest.mark.aide: {message}")
