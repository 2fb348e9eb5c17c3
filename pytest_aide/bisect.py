"""``pytest-aide bisect GOOD BAD``: the first commit at which a check regressed.

Each commit tried is checked out in a temporary worktree (the user's checkout
is never touched) and its check is measured there by a pytest session of its
own under ``--aide-perf --aide-against GOOD``: beside GOOD, in the same job,
on instruction counts when valgrind is at hand (exact, whatever the machine is
doing) or on paired wall time otherwise. A commit regressed when that
comparison says so at the tolerance. The search is binary over the
first-parent commits from GOOD (exclusive) to BAD (inclusive), so it assumes
that once the check regressed it stays regressed.

Knows nothing of pytest: it runs git and ``python -m pytest``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Bisect",
    "BisectError",
    "Step",
    "bisect",
    "first_bad",
    "revision_range",
    "shown",
    "toplevel",
]


class BisectError(Exception):
    """Bisecting cannot go on as asked; the message is one line."""


@dataclass(frozen=True)
class Step:
    """One commit measured against GOOD."""

    commit: str
    subject: str
    regressed: bool
    change: str
    """``+23.4 % [+19.0, +27.1]`` on the measure used."""
    measure: str


def _git(args: Sequence[str], cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise BisectError(lines[-1] if lines else f"git {' '.join(args)} failed")
    return done.stdout.strip()


def _commit(name: str, top: Path) -> str:
    try:
        return _git(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], top)
    except BisectError:
        raise BisectError(f"unknown revision {name!r}") from None


def toplevel(rootdir: Path) -> Path:
    """Top of the git checkout holding ``rootdir``."""
    if shutil.which("git") is None:
        raise BisectError("git is not installed")
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], rootdir))
    except BisectError:
        raise BisectError(f"{rootdir} is not inside a git repository") from None


def revision_range(good: str, bad: str, top: Path) -> list[tuple[str, str]]:
    """The first-parent commits after GOOD up to BAD, oldest first, with their subjects."""
    good_sha, bad_sha = _commit(good, top), _commit(bad, top)
    ancestor = subprocess.run(
        ["git", "merge-base", "--is-ancestor", good_sha, bad_sha], cwd=top, check=False
    )
    if ancestor.returncode != 0 or good_sha == bad_sha:
        raise BisectError(f"GOOD {good!r} is not an ancestor of BAD {bad!r}")
    listed = _git(
        ["rev-list", "--reverse", "--first-parent", "--format=%H %s", f"{good_sha}..{bad_sha}"],
        top,
    )
    commits = []
    for line in listed.splitlines():
        if line.startswith("commit "):
            continue
        sha, _, subject = line.partition(" ")
        commits.append((sha, subject))
    return commits


def first_bad(count: int, regressed: Callable[[int], bool]) -> int:
    """The smallest index in ``range(count)`` for which ``regressed`` holds, the last known bad.

    ``regressed(count - 1)`` (BAD) is assumed true and is not asked again.
    """
    low, high = 0, count - 1
    while low < high:
        middle = (low + high) // 2
        if regressed(middle):
            high = middle
        else:
            low = middle + 1
    return low


@dataclass
class Bisect:
    """What the search measures with, and where."""

    top: Path
    """Top of the user's checkout."""
    rootdir: Path
    """pytest's rootdir, inside ``top``: the sessions run at its place in each worktree."""
    good: str
    select: list[str]
    """pytest arguments choosing the one check: ``-k EXPR`` or a node id."""
    measure: str
    tolerance: str | None = None
    python: str = sys.executable
    pytest_args: list[str] = field(default_factory=list)
    """The user's own pytest options (``-o addopts=``, ``-p no:cov``) for every session."""

    def run(self, commit: str, subject: str) -> Step:
        """Measure ``commit``'s check beside GOOD, in a worktree of its own."""
        worktree = Path(tempfile.mkdtemp(prefix="aide-bisect-"))
        try:
            _git(["worktree", "add", "--detach", "--force", str(worktree), commit], self.top)
            return self._measure(worktree, commit, subject)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)],
                cwd=self.top,
                capture_output=True,
                check=False,
            )
            shutil.rmtree(worktree, ignore_errors=True)

    def _measure(self, worktree: Path, commit: str, subject: str) -> Step:
        here = worktree / self.rootdir.resolve().relative_to(self.top.resolve())
        report_dir = worktree / ".aide-bisect"
        command = [self.python, "-m", "pytest", "--aide-perf", "--aide-against", self.good]
        command += ["--aide-confirm", "0", "--aide-explain", "never", "-p", "no:randomly"]
        command += ["-p", "no:cacheprovider", f"--aide-report-dir={report_dir}"]
        command += ["--aide-measure", self.measure]
        if self.tolerance is not None:
            command += ["--aide-tolerance", self.tolerance]
        command += self.pytest_args
        done = subprocess.run(
            [*command, *self.select], cwd=here, capture_output=True, text=True, check=False
        )
        short = commit[:7]
        if done.returncode == 5:  # pytest: no tests collected or all deselected
            raise BisectError(f"{short}: no check matches {' '.join(self.select)}")
        if done.returncode in (2, 3, 4) or not (report_dir / "report.json").is_file():
            last = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()[-1]
            raise BisectError(f"{short}: the check could not run: {last}")
        checks = json.loads((report_dir / "report.json").read_text())["checks"]
        if not checks:
            raise BisectError(f"{short}: no check matches {' '.join(self.select)}")
        if len(checks) > 1:
            names = ", ".join(check["id"] for check in checks)
            raise BisectError(f"{short}: {len(checks)} checks match, choose one: {names}")
        return _step(checks[0], commit, subject)


def _step(check: dict[str, Any], commit: str, subject: str) -> Step:
    """The step a checked commit's report says: regressed or not, and by how much."""
    paired = [c for c in check["comparisons"] if c.get("against") and c.get("gating")]
    if not paired:
        why = (check.get("failures") or check.get("notes") or ["no same-job comparison"])[0]
        raise BisectError(f"{commit[:7]}: {check['id']} was not compared with GOOD: {why}")
    worst = max(paired, key=lambda c: c["ratio"])
    change = (
        f"{(worst['ratio'] - 1) * 100:+.1f} % "
        f"[{(worst['ci_low'] - 1) * 100:+.1f}, {(worst['ci_high'] - 1) * 100:+.1f}]"
    )
    regressed = any(c["status"] == "regressed" for c in paired)
    return Step(commit, subject, regressed, change, worst.get("measure") or "time")


def bisect(search: Bisect, bad: str, report: Callable[[Step], None]) -> tuple[Step, list[Step]]:
    """The first commit after GOOD whose check regressed against GOOD, and every step.

    BAD is measured first: if it did not regress, there is nothing to find.
    """
    commits = revision_range(search.good, bad, search.top)
    search.good = _commit(search.good, search.top)  # a worktree reads HEAD~2 as its own
    steps: dict[int, Step] = {}

    def measured(index: int) -> Step:
        if index not in steps:
            steps[index] = search.run(*commits[index])
            report(steps[index])
        return steps[index]

    last = measured(len(commits) - 1)
    if not last.regressed:
        raise BisectError(
            f"BAD {bad!r} ({last.commit[:7]}) did not regress against GOOD: {last.change} "
            f"on {shown(last.measure)}; nothing to bisect"
        )
    found = first_bad(len(commits), lambda index: measured(index).regressed)
    return measured(found), [steps[i] for i in sorted(steps)]


def shown(measure: str) -> str:
    """A measure as the bisect's lines say it: ``wall time``, ``instructions``, ``cycles``."""
    return "wall time" if measure == "time" else measure
