"""REV's numbers of asv benchmarks (``track_``, ``mem_``, ``peakmem_``) under ``--aide-against``.

A number is not timed, so it is not paired: REV's tree runs those items once,
in a plain ``--aide-perf`` session of its own that imports the project from
REV's worktree (see :mod:`pytest_aide.pairworker`), and each number this tree
yields is compared with REV's as a count is. Knows nothing of pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_aide.check import Check
from pytest_aide.measure.pair import WORKER_ENV, Tree
from pytest_aide.results import TrackResult

__all__ = ["Tracked"]


class Tracked:
    """REV's tracked numbers of this session's asv items, by node id and result name."""

    def __init__(self, label: str) -> None:
        self.label = label
        """How REV is named in the lines (``HEAD~1``)."""
        self.found: dict[str, dict[str, TrackResult]] = {}
        self.missing: dict[str, str] = {}
        """Node id -> why REV yielded no number for it."""
        self.absent: set[str] = set()
        """Node ids REV's tree does not have: new benchmarks, nothing to compare."""

    def known(self, nodeid: str) -> bool:
        """Whether REV's session has run ``nodeid`` already."""
        return nodeid in self.found or nodeid in self.missing or nodeid in self.absent

    def run(
        self,
        tree: Tree,
        nodeids: Sequence[str],
        args: Sequence[str],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Run ``nodeids`` in REV's tree once and keep the numbers each yields."""
        if progress is not None:
            progress(f"aide: {len(nodeids)} asv number(s) in {self.label}")
        scratch = Path(tempfile.mkdtemp(prefix="aide-tracked-"))
        try:
            session = _session(tree, args, scratch)
            collected = set(_collected(session("--collect-only").stdout))
            if collected:  # else REV's collection failed: the run below says why
                self.absent.update(n for n in nodeids if n not in collected)
                nodeids = [n for n in nodeids if n in collected]
            if not nodeids:
                return
            keep = set(nodeids)
            done = session(*(f"--deselect={n}" for n in collected if n not in keep))
            report = scratch / "report.json"
            if not report.is_file():
                lines = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
                why = f"its pytest session in {self.label} exited: {lines[-1].strip()}"
                self.missing.update(dict.fromkeys(nodeids, why))
                return
            checks = {c["id"]: c for c in json.loads(report.read_text())["checks"]}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        for nodeid in nodeids:
            check = checks.get(nodeid)
            numbers = {
                r["name"]: TrackResult.from_dict(r)
                for r in (check or {}).get("results", [])
                if r.get("kind") == TrackResult.kind
            }
            if numbers:
                self.found[nodeid] = numbers
            elif check is None:
                self.missing[nodeid] = f"it did not run in {self.label}"
            else:
                failed = (check.get("failures") or [check.get("outcome") or "no number"])[0]
                self.missing[nodeid] = f"it yielded no number in {self.label} ({failed})"

    def attach(self, nodeid: str, check: Check) -> None:
        """Give ``check`` REV's number beside each of its own, or say why it has none."""
        mine = [r for r in check.results if isinstance(r, TrackResult)]
        if not mine:
            return
        if nodeid in self.absent:
            check.pair_notes.append(f"{check.name}: not in {self.label}: nothing to compare")
            return
        theirs = self.found.get(nodeid, {})
        why = self.missing.get(nodeid, f"{self.label} yielded no such number")
        for result in mine:
            before = theirs.get(result.name)
            if before is None or before.measure != result.measure:
                check.uncompared.append(f"{result.name}: not compared against {self.label}: {why}")
            else:
                check.against_counts[result.name] = before


def _session(
    tree: Tree, args: Sequence[str], scratch: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """A plain ``--aide-perf`` session of REV's tree, reporting into ``scratch``."""
    spec = {"plain": True, "redirects": tree.redirects, "path_map": tree.path_map}
    command = [sys.executable, "-m", "pytest", "-p", "pytest_aide.pairworker", "-q"]
    command += ["-p", "no:cacheprovider", "--rootdir", str(tree.rootdir)]
    if tree.inifile is not None:
        command += ["-c", str(tree.inifile)]
    command += ["--aide-perf", "--aide-no-compare", "--aide-confirm", "0"]
    command += ["--aide-explain", "never", f"--aide-report-dir={scratch}"]
    command += [f"--aide-history={scratch / 'history.sqlite'}", *args]
    env = {**os.environ, WORKER_ENV: json.dumps(spec)}

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *extra],
            cwd=tree.rootdir,
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )

    return run


def _collected(listing: str) -> list[str]:
    """The node ids a ``--collect-only -q`` listing names, one a line."""
    return [line for line in listing.splitlines() if "::" in line and not line[:1].isspace()]
