"""The gate on a real project: A/A and A/B, same-job and stored, with a real planted slowdown.

    python benchmarks/realworld.py GIT_URL_OR_PATH --commit REV --patch FILE
        --workdir DIR --tests PATH... [--select EXPR] [--runs 10] [--install PKG ...]

1. Clones the project into DIR/project at REV as branch ``aide-base`` (no file
   edited: every benchmark the suite declares is a check under ``--aide-perf``)
   and applies FILE (a real slowdown in a hot function, no sleeps) on top as
   ``aide-slow``. ``--asv CONFIG`` names an asv suite's configuration in the
   project, collected with ``--aide-asv``.
2. Makes DIR/venv and installs the project *editable* (``pip install -e``), this
   pytest-aide checkout, and ``--install`` extras.
3. Reference: pytest-benchmark's own median of every test at base and at slow,
   alternately, ``--reference-runs`` times (``--reference aide``: plain
   ``pytest --aide-perf`` runs' medians instead, for suites pytest-benchmark
   does not run: pytest-codspeed's marker style, asv); a test slowed by at least 10 % in
   every alternation is "expected to regress", one whose median ratio moved by
   less than 3.3 % is "unaffected".
4. Same-job mode, ``--runs`` times each: A/A (base tree against ``aide-base``)
   and A/B (slow tree against ``aide-base``), ``pytest --aide-perf --aide-against``,
   at ``--tolerance`` (default 5 %, as the bundled GitHub workflow's same-job gate).
5. Stored mode, once per ``--stored-saves`` count (default 1 and 3): that many
   ``--aide-save-baseline`` runs at base into fresh baseline files (saves of one
   commit pool into one baseline), then ``--runs`` A/A runs at base and A/B runs
   at slow against them, at ``--stored-tolerance`` (default 10 %, the plugin's).
   With ``--stress N``, N busy loops run beside every compared run (not beside
   the saves or the reference runs: the baseline is saved on a quiet machine),
   and beside ``--plain-runs`` plain pytest-benchmark runs of the same tests,
   whose median time each mode's run is set against (``x plain``).
6. Counted modes (``--modes instructions cycles``): the same as stored mode
   with ``--aide-measure`` set: one ``--aide-save-baseline`` run at base
   counts every check under valgrind into the count baselines, then ``--runs``
   A/A and A/B runs are counted and judged on their counts, at the plugin's
   count tolerance (3 %).

Prints, per mode: the checks flagged in A/A runs (false alarms), the A/B runs
in which every expected check was flagged, unaffected checks flagged in A/B,
and each check's median estimate beside pytest-benchmark's own figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "benchmarks"))

from stress import spin  # noqa: E402

COUNTED = ("instructions", "cycles")


def sh(*args: object, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, its output captured; fail loudly unless ``check`` is False."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIDE_"))}
    env["CI"] = "true"
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    if check and done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done


def git(cwd: Path, *args: str) -> str:
    """A git command in ``cwd``, as a fixed committer."""
    who = ["-c", "user.email=aide@example.invalid", "-c", "user.name=aide"]
    return sh("git", *who, *args, cwd=cwd).stdout.strip()


def set_up(options: argparse.Namespace) -> tuple[Path, Path]:
    """The project checkout (with branches aide-base and aide-slow) and its venv's python."""
    work = Path(options.workdir).resolve()
    project, venv = work / "project", work / "venv"
    python = venv / "bin" / "python"
    if not project.exists():
        work.mkdir(parents=True, exist_ok=True)
        sh("git", "clone", "-q", "--no-checkout", options.source, project, cwd=work)
        git(project, "checkout", "-q", "-B", "aide-base", options.commit)
        git(project, "checkout", "-q", "-B", "aide-slow")
        git(project, "apply", str(Path(options.patch).resolve()))
        git(project, "commit", "-qam", "planted slowdown")
        git(project, "checkout", "-q", "aide-base")
    if not python.exists():
        sh(sys.executable, "-m", "venv", venv, cwd=work)
        sh(python, "-m", "pip", "install", "-q", "-e", HERE, *options.install, cwd=work)
        sh(python, "-m", "pip", "install", "-q", "-e", project, cwd=work)
    return project, python


def pytest_args(options: argparse.Namespace) -> list[str]:
    """Selection and pytest-benchmark's limits, the same in every run."""
    args = [*options.tests, "-q", "-p", "no:cacheprovider"]
    if options.reference == "pytest-benchmark":
        args.append("--benchmark-max-time=0.2")
    if options.asv:
        args += ["--aide-asv", options.asv]
    return args + (["-k", options.select] if options.select else [])


def aide_reference(
    project: Path, python: Path, options: argparse.Namespace
) -> dict[str, list[float]]:
    """Ratios slow/base of plain ``--aide-perf`` runs' medians, one per alternation."""
    ratios: dict[str, list[float]] = {}
    for _ in range(options.reference_runs):
        medians: dict[str, dict[str, float]] = {}
        for branch in ("aide-base", "aide-slow"):
            git(project, "checkout", "-q", branch)
            report = aide_run(project, python, options, "--aide-no-compare")
            medians[branch] = {
                check["id"]: check["results"][0]["stats"]["median"]
                for check in report["checks"]
                if check["results"] and check["results"][0]["kind"] == "timing"
            }
        base, slow = medians["aide-base"], medians["aide-slow"]
        for name in base.keys() & slow.keys():
            ratios.setdefault(name, []).append(slow[name] / base[name])
    git(project, "checkout", "-q", "aide-base")
    return ratios


def reference(project: Path, python: Path, options: argparse.Namespace) -> dict[str, list[float]]:
    """pytest-benchmark's own ratios slow/base for every test, one per alternation.

    One pytest-benchmark run on each side is itself at the mercy of the machine,
    so base and slow alternate ``--reference-runs`` times.
    """
    ratios: dict[str, list[float]] = {}
    for _ in range(options.reference_runs):
        medians: dict[str, dict[str, float]] = {}
        for branch in ("aide-base", "aide-slow"):
            git(project, "checkout", "-q", branch)
            out = project.parent / f"reference-{branch}.json"
            args = pytest_args(options)
            sh(python, "-m", "pytest", *args, f"--benchmark-json={out}", cwd=project)
            data = json.loads(out.read_text())
            medians[branch] = {b["fullname"]: b["stats"]["median"] for b in data["benchmarks"]}
        base, slow = medians["aide-base"], medians["aide-slow"]
        for name in base.keys() & slow.keys():
            ratios.setdefault(name, []).append(slow[name] / base[name])
    git(project, "checkout", "-q", "aide-base")
    return ratios


def aide_run(project: Path, python: Path, options: argparse.Namespace, *extra: str) -> dict:
    """One ``pytest --aide-perf`` run; its report.json."""
    report = project / ".aide" / "report.json"
    report.unlink(missing_ok=True)
    done = sh(
        python,
        "-m",
        "pytest",
        "--aide-perf",
        *pytest_args(options),
        *extra,
        cwd=project,
        check=False,
    )
    if not report.exists():
        sys.exit(f"no report from {' '.join(extra)}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return json.loads(report.read_text())


@contextlib.contextmanager
def busy(loops: int) -> Iterator[None]:
    """``loops`` busy-looping processes while inside."""
    spinning = [multiprocessing.Process(target=spin, daemon=True) for _ in range(loops)]
    for loop in spinning:
        loop.start()
    try:
        yield
    finally:
        for loop in spinning:
            loop.terminate()
            loop.join()


def plain_seconds(project: Path, python: Path, options: argparse.Namespace) -> float:
    """Median seconds of a plain pytest-benchmark run of the tests (aide not asked)."""
    seconds = []
    for _ in range(options.plain_runs):
        begin = time.perf_counter()
        sh(python, "-m", "pytest", *pytest_args(options), cwd=project)
        seconds.append(time.perf_counter() - begin)
    return statistics.median(seconds)


def confirmed(report: dict) -> int:
    """Checks the run measured again (same job or retries) before judging."""
    return sum(1 for check in report["checks"] if check.get("confirmation"))


def comparisons(report: dict) -> dict[str, tuple[str, float, float, float]]:
    """Check id -> (status, ratio, low, high) of its gating (else first) comparison."""
    found = {}
    for check in report["checks"]:
        ordered = sorted(check["comparisons"], key=lambda c: not c["gating"])
        for c in ordered[:1]:
            status = "undecided" if c.get("undecided") else c["status"]
            found[check["id"]] = (status, c["ratio"], c["ci_low"], c["ci_high"])
    return found


def main() -> None:
    """Run every mode and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="git URL or path of the project")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--patch", required=True, help="the planted slowdown, a git diff")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--tests", required=True, nargs="+", help="the benchmark tests' paths")
    parser.add_argument("--select", help="-k expression")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--reference-runs", type=int, default=3)
    parser.add_argument(
        "--tolerance", type=float, default=5.0, help="same-job tolerance, percent (perf.yml's)"
    )
    parser.add_argument(
        "--stored-tolerance", type=float, default=10.0, help="stored-mode tolerance, percent"
    )
    parser.add_argument(
        "--stored-saves", type=int, nargs="+", default=[1, 3], help="saves per stored baseline"
    )
    parser.add_argument("--install", nargs="*", default=[], help="extra packages")
    parser.add_argument("--modes", nargs="*", default=["same-job", "stored"])
    parser.add_argument("--stress", type=int, default=0, help="busy loops beside compared runs")
    parser.add_argument("--plain-runs", type=int, default=3, help="plain pytest-benchmark runs")
    parser.add_argument("--asv", help="an asv suite's asv.conf.json in the project")
    parser.add_argument(
        "--reference",
        choices=("pytest-benchmark", "aide"),
        help="what measures the truth (default: aide for --asv, else pytest-benchmark)",
    )
    options = parser.parse_args()
    options.reference = options.reference or ("aide" if options.asv else "pytest-benchmark")
    project, python = set_up(options)
    started = time.perf_counter()
    if options.reference == "aide":
        ratios = aide_reference(project, python, options)
        plain = float("nan")  # no plain run measures these suites as pytest-benchmark does
    else:
        ratios = reference(project, python, options)
        with busy(options.stress):
            plain = plain_seconds(project, python, options)
        print(
            f"plain pytest-benchmark run of the tests: {plain:.1f} s (median of "
            f"{options.plain_runs}, {options.stress} busy loop(s) beside)"
        )
    truth = {name: statistics.median(values) for name, values in ratios.items()}
    line = 10.0  # a slowdown of at least 10 % is one the gate must catch
    # Expected to regress: slowed by at least 10 % in every alternation, so one
    # disturbed pytest-benchmark run on a busy machine does not make a test "slowed".
    expected = {n for n, rs in ratios.items() if min(rs) >= 1 + line / 100}
    unaffected = {n for n, r in truth.items() if abs(r - 1) < line / 300}
    print(f"project {options.source} at {options.commit}; patch {options.patch}")
    print(
        f"{options.reference} reference: {len(truth)} tests, {len(expected)} slowed by at least "
        f"{line:g} % (expected to regress), {len(unaffected)} moved by less than "
        f"{line / 3:.1f} % (unaffected); tolerance {options.tolerance:g} % same-job, "
        f"{options.stored_tolerance:g} % stored"
    )
    modes = [(m, 0) for m in options.modes if m == "same-job"] + [
        (m, saves) for m in options.modes if m == "stored" for saves in options.stored_saves
    ]
    modes += [(m, 1) for m in options.modes if m in COUNTED]
    for mode, saves in modes:
        runs: dict[str, list[dict[str, tuple[str, float, float, float]]]] = {"A/A": [], "A/B": []}
        sent = {"A/A": 0, "A/B": 0}
        spent: list[float] = []
        measure = [f"--aide-measure={mode}"] if mode in COUNTED else []
        if mode != "same-job":
            baselines = str(project.parent / "baselines")
            shutil.rmtree(baselines, ignore_errors=True)
            for _ in range(saves):
                aide_run(
                    project,
                    python,
                    options,
                    "--aide-save-baseline",
                    "--aide-baseline-dir",
                    baselines,
                    *measure,
                )
        for index in range(options.runs):
            for kind, branch in (("A/A", "aide-base"), ("A/B", "aide-slow")):
                git(project, "checkout", "-q", branch)
                if mode == "same-job":
                    extra = ["--aide-against", "aide-base", f"--aide-tolerance={options.tolerance}"]
                elif measure:
                    extra = ["--aide-baseline-dir", baselines, *measure]
                else:
                    allowed = f"--aide-tolerance={options.stored_tolerance}"
                    extra = ["--aide-baseline-dir", baselines, allowed]
                begin = time.perf_counter()
                with busy(options.stress):
                    report = aide_run(project, python, options, *extra)
                spent.append(time.perf_counter() - begin)
                runs[kind].append(comparisons(report))
                sent[kind] += confirmed(report)
                git(project, "checkout", "-q", "aide-base")
            print(f"  [{mode}] run {index + 1}/{options.runs} done", file=sys.stderr)
            partial = project.parent / f"runs-{mode}-{saves}.json"
            partial.write_text(json.dumps(runs))  # what a cut-short run leaves to read
        seconds = statistics.median(spent)
        title = f"stored, baseline of {saves} save(s)" if mode == "stored" else mode
        if mode in COUNTED:
            title = f"stored {mode} counts (valgrind), tolerance 3 %"
        report_mode(title, runs, truth, expected, unaffected, seconds)
        print(
            f"cost: median run {seconds:.1f} s, "
            f"{f'x{seconds / plain:.2f}' if plain == plain else 'no'} plain; checks measured "
            f"again: {sent['A/A']} in A/A runs, {sent['A/B']} in A/B runs"
        )
    print(f"total {time.perf_counter() - started:.0f} s")


def report_mode(
    mode: str,
    runs: dict[str, list[dict[str, tuple[str, float, float, float]]]],
    truth: dict[str, float],
    expected: set[str],
    unaffected: set[str],
    seconds: float,
) -> None:
    """Print one mode's figures."""
    aa, ab = runs["A/A"], runs["A/B"]
    compared = sum(len(r) for r in aa)
    alarms = sum(1 for r in aa for s, *_ in r.values() if s != "unchanged" and s != "undecided")
    quiet_runs = sum(1 for r in aa if all(s in ("unchanged", "undecided") for s, *_ in r.values()))
    undecided = sum(1 for r in aa for s, *_ in r.values() if s == "undecided")
    caught = sum(
        1
        for r in ab
        if expected and all(r.get(n, ("missing",))[0] == "regressed" for n in expected)
    )
    ab_alarms = sum(
        1 for r in ab for n in unaffected if r.get(n, ("",))[0] in ("regressed", "improved")
    )
    print(f"\n== {mode} ({seconds:.1f} s per run, median)")
    print(
        f"A/A: {quiet_runs} of {len(aa)} runs quiet; {alarms} of {compared} check comparisons "
        f"flagged ({100 * alarms / max(compared, 1):.1f} %); {undecided} undecided"
    )
    print(
        f"A/B: every expected check flagged in {caught} of {len(ab)} runs; unaffected checks "
        f"flagged {ab_alarms} of {len(unaffected) * len(ab)} times"
    )
    for index, run in enumerate(aa, 1):
        for name, (status, ratio, low, high) in sorted(run.items()):
            if status not in ("unchanged", "undecided"):
                print(
                    f"  A/A run {index}: {name} {status} {(ratio - 1) * 100:+.1f} % "
                    f"[{(low - 1) * 100:+.1f}, {(high - 1) * 100:+.1f}]"
                )
    for index, run in enumerate(ab, 1):
        for name in sorted(expected):
            status, ratio, low, high = run.get(name, ("missing", 1.0, 1.0, 1.0))
            if status != "regressed":
                print(
                    f"  A/B run {index}: {name} {status} {(ratio - 1) * 100:+.1f} % "
                    f"[{(low - 1) * 100:+.1f}, {(high - 1) * 100:+.1f}]"
                )
    print(
        f"{'check':70} {'reference':>16} {'A/B median est.':>15} {'A/A median est.':>15}"
        "  A/B flagged"
    )
    for name in sorted(truth, key=lambda n: -truth[n]):
        est_ab = [r[name][1] for r in ab if name in r]
        est_aa = [r[name][1] for r in aa if name in r]
        flagged = sum(1 for r in ab if r.get(name, ("",))[0] == "regressed")
        cells = [
            f"{(truth[name] - 1) * 100:+15.1f}%",
            f"{(statistics.median(est_ab) - 1) * 100:+14.1f}%" if est_ab else f"{'-':>15}",
            f"{(statistics.median(est_aa) - 1) * 100:+14.1f}%" if est_aa else f"{'-':>15}",
        ]
        print(f"{name[-70:]:70} {' '.join(cells)}  {flagged}/{len(ab)}")


if __name__ == "__main__":
    main()
