r"""A real project's history: its suite run over a range of commits, one step planted.

    python benchmarks/trend_real.py PATH/TO/attrs --commit 7bfc49e... \
        --patch benchmarks/patches/attrs-asdict-reads-fields-twice.diff \
        --tests bench --select "asdict or astuple or hash" --python PATH/TO/venv/bin/python \
        --workdir PATH/TO/scratch [--commits 30] [--step-at 20] [--stress 2]

Clones the project at ``--commit`` into the work directory and builds
``--commits`` commits on it, each changing only a marker file; the commit
numbered ``--step-at`` also applies the planted slowdown, which every later
commit keeps. Runs the suite once at each commit, oldest first, with
``pytest --aide-perf`` (``--python``: a venv with the project and pytest-aide
installed), every run appended to one history, beside ``--stress`` busy
loops (``--src``, the clone's import root, goes first on ``PYTHONPATH``: the
venv may have the project installed from elsewhere). Then searches that
history as ``pytest-aide trend`` does and prints, per check, its change
points and whether one sits at the planted commit.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stress import spin
from pytest_aide.history import History
from pytest_aide.trend import changes, series_of


def _git(repo: Path, *args: str) -> str:
    who = ["-c", "user.email=aide@example.com", "-c", "user.name=aide"]
    done = subprocess.run(
        ["git", *who, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def build(source: str, commit: str, patch: Path, repo: Path, commits: int, step_at: int) -> list:
    """The commits, oldest first: (sha, planted?)."""
    if repo.exists():
        shutil.rmtree(repo)
    subprocess.run(["git", "clone", "-q", source, str(repo)], check=True)
    _git(repo, "checkout", "-q", "-b", "aide-trend", commit)
    made = []
    for number in range(1, commits + 1):
        (repo / "AIDE_TREND_MARK").write_text(f"{number}\n")
        if number == step_at:
            _git(repo, "apply", str(patch.resolve()))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", f"trend commit {number}")
        made.append((_git(repo, "rev-parse", "HEAD"), number >= step_at))
    return made


def main() -> int:
    """Build the commits, run the suite at each, find the change points."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="git URL or path of the project")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--patch", type=Path, required=True, help="the planted slowdown")
    parser.add_argument("--tests", nargs="+", required=True)
    parser.add_argument("--select", help="-k expression")
    parser.add_argument("--python", required=True, help="a venv's python with the project")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--commits", type=int, default=30)
    parser.add_argument("--step-at", type=int, default=20)
    parser.add_argument("--stress", type=int, default=2)
    parser.add_argument("--measure", default=None, help="--aide-measure (default: aide's)")
    parser.add_argument(
        "--src",
        default="src",
        help="the clone's import root, put first on PYTHONPATH (default: src)",
    )
    args = parser.parse_args()
    repo = args.workdir / "repo"
    history = args.workdir / "history.sqlite"
    history.unlink(missing_ok=True)
    made = build(args.source, args.commit, args.patch, repo, args.commits, args.step_at)
    command = [args.python, "-m", "pytest", "--aide-perf", "--aide-confirm", "0"]
    command += ["--aide-explain", "never", "-p", "no:randomly", "-p", "no:cacheprovider"]
    command += [f"--aide-history={history}", f"--aide-report-dir={args.workdir / 'report'}"]
    command += ["--aide-measure", args.measure] if args.measure else []
    command += [*args.tests, *(["-k", args.select] if args.select else [])]
    # The venv may import the project from elsewhere (an editable install): the clone first.
    env = {**os.environ, "PYTHONPATH": str(repo / args.src)}
    loops = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.stress)]
    for loop in loops:
        loop.start()
    try:
        for number, (sha, _) in enumerate(made, 1):
            _git(repo, "checkout", "-q", sha)
            subprocess.run(command, cwd=repo, capture_output=True, check=False, env=env)
            print(f"  commit {number}/{len(made)} {sha[:7]} measured", flush=True)
    finally:
        for loop in loops:
            loop.kill()
    store = History(history)
    runs = {run.id: run for run in store.runs(limit=10**6)}
    planted = made[args.step_at - 1][0]
    found = changes(series_of(store, runs))
    print(
        f"{len(made)} commits, the step planted at commit {args.step_at} ({planted[:7]}), "
        f"{args.stress} busy loops beside"
    )
    for one in series_of(store, runs):
        mine = [c for c in found if c.series.check_id == one.check_id]
        exact = [c for c in mine if c.after.commit == planted]
        elsewhere = [c for c in mine if c.after.commit != planted]
        print(
            f"{one.check_id[-60:]:<60} {'at the planted commit' if exact else 'not at it':<22} "
            f"{len(elsewhere)} elsewhere  {exact[0].line() if exact else ''}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
