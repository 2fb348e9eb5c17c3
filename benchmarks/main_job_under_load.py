"""The README's main job on a busy machine: do unchanged runs pass, is a slowdown caught.

    python benchmarks/main_job_under_load.py --runs 20 --stress 2

Checks this commit out into a temporary git worktree (so its baselines and its
history are the committed ones; ``--save-baselines 3`` saves them anew there
first, beside the same stress, as the workflow's refresh does) and runs the
main job's test command there,
``python -m pytest --aide-perf scenarios`` with this venv's pytest-aide, ``--runs``
times with ``--stress`` busy-looping processes beside. Then it commits a planted
slowdown in ``aide_system`` (``--patch``, real work, no sleep) in the worktree and
runs the job as many times again. Before that, the slowdown itself is measured:
the diagnosis timed in fresh processes, both versions alternated.

Prints, per run, the exit code, the time, the checks that failed and the checks
that needed confirming (and how that ended), then the totals: target 0 failed
runs unchanged, every run failed with the slowdown.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stress import spin  # noqa: E402

_TIME_DIAGNOSIS = """
import statistics, sys, time
sys.path.insert(0, sys.argv[1])
from aide_system.diagnostics import diagnose_system
diagnose_system()
times = []
for _ in range(40):
    start = time.perf_counter()
    diagnose_system()
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=bench@aide.invalid", "-c", "user.name=bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _diagnosis_seconds(tree: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIME_DIAGNOSIS, str(tree)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def _run_job(tree: Path, extra: list[str]) -> dict[str, object]:
    """One main job in ``tree``: exit code, seconds, failed and confirmed checks."""
    shutil.rmtree(tree / ".aide", ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--aide-perf", "scenarios", "-p", "no:randomly", *extra],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    failed: list[str] = []
    confirmed: list[str] = []
    report = tree / ".aide" / "report.json"
    if report.exists():
        for check in json.loads(report.read_text())["checks"]:
            if check["status"] not in ("PASS", "IMPROVED", "SKIP"):
                failed.append(f"{check['name']} {check['status']}: {'; '.join(check['failures'])}")
            confirmation = check.get("confirmation")
            if confirmation:
                confirmed.append(
                    f"{check['name']} {confirmation['kind']} {confirmation['outcome']} "
                    f"({len(confirmation['attempts'])} attempt(s), {confirmation['seconds']:.0f} s)"
                )
    elif done.returncode:
        failed.append(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "?")
    return {"code": done.returncode, "seconds": seconds, "failed": failed, "confirmed": confirmed}


def _series(label: str, tree: Path, runs: int, extra: list[str]) -> list[dict[str, object]]:
    results = []
    for number in range(1, runs + 1):
        result = _run_job(tree, extra)
        results.append(result)
        print(
            f"{label} run {number:>2}: exit {result['code']}, {result['seconds']:.0f} s"
            + "".join(f"\n    failed: {line[:300]}" for line in result["failed"])  # type: ignore[union-attr]
            + "".join(f"\n    confirmed: {line}" for line in result["confirmed"]),  # type: ignore[union-attr]
            flush=True,
        )
    return results


def main() -> None:
    """Measure the slowdown, then run the main job unchanged and slowed; print the totals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="main jobs per side")
    parser.add_argument("--stress", type=int, default=2, help="busy-looping processes beside")
    parser.add_argument(
        "--patch",
        type=Path,
        default=ROOT / "benchmarks" / "patches" / "aide-system-diagnosis-num-threads.diff",
    )
    parser.add_argument("--skip-unchanged", action="store_true", help="only the slowed runs")
    parser.add_argument(
        "--save-baselines",
        type=int,
        default=0,
        metavar="N",
        help="first save the baselines N times at the worktree's commit, beside the same "
        "stress (as the workflow's refresh does), and commit them; default: the committed ones",
    )
    parser.add_argument("extra", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aide-mainjob-"))
    tree = work / "tree"
    _git("worktree", "add", "--detach", str(tree), "HEAD", cwd=ROOT)
    loops = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.stress)]
    try:
        for loop in loops:
            loop.start()
        slowed = work / "slowed"
        shutil.copytree(tree / "aide_system", slowed / "aide_system")
        subprocess.run(
            ["git", "apply", "--directory=" + str(slowed.relative_to(work)), str(args.patch)],
            cwd=work,
            check=True,
        )
        ratios = []
        for _ in range(3):
            before, after = _diagnosis_seconds(tree), _diagnosis_seconds(slowed)
            ratios.append(after / before)
        print(
            f"main job in {tree} at {_git('rev-parse', '--short', 'HEAD', cwd=tree)}, "
            f"{args.stress} busy loop(s) beside; planted slowdown {args.patch.name}: diagnosis "
            f"median x{statistics.median(ratios):.2f} "
            f"({', '.join(f'x{r:.2f}' for r in ratios)}, fresh processes alternated)",
            flush=True,
        )
        started = time.perf_counter()
        for _ in range(args.save_baselines):
            saved = _run_job(tree, ["--aide-save-baseline"])
            print(f"saved baselines: exit {saved['code']}, {saved['seconds']:.0f} s", flush=True)
        if args.save_baselines:
            _git("add", "baselines", cwd=tree)
            _git("commit", "-qm", "baselines saved under the benchmark's stress", cwd=tree)
        unchanged = [] if args.skip_unchanged else _series("unchanged", tree, args.runs, args.extra)
        subprocess.run(["git", "apply", str(args.patch)], cwd=tree, check=True)
        _git("commit", "-qam", "planted slowdown", cwd=tree)
        slow = _series("slowed", tree, args.runs, args.extra)
        print()
        if unchanged:
            failures = sum(1 for r in unchanged if r["code"] != 0)
            seconds = statistics.median(float(r["seconds"]) for r in unchanged)  # type: ignore[arg-type]
            print(
                f"unchanged: {failures} of {len(unchanged)} runs failed (target 0); "
                f"median {seconds:.0f} s per run"
            )
        caught = sum(1 for r in slow if r["code"] != 0)
        seconds = statistics.median(float(r["seconds"]) for r in slow)  # type: ignore[arg-type]
        print(
            f"slowed:    {caught} of {len(slow)} runs failed (target {len(slow)}); "
            f"median {seconds:.0f} s per run"
        )
        print(f"({time.perf_counter() - started:.0f} s in all)")
    finally:
        for loop in loops:
            loop.terminate()
        _git("worktree", "remove", "--force", str(tree), cwd=ROOT)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
