"""Explaining a check (``--aide-explain fail|always``): where its time or count went.

:class:`Explaining` is registered under ``--aide-perf`` unless ``--aide-explain
never``. It runs a failing check's test once more with its measured calls
profiled (``always``: every check, before the verdict, so a saved baseline
keeps the profile), gives counted checks their instructions per function,
and under ``--aide-against`` profiles REV's tree too for a differential profile.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_aide.check import Check
from pytest_aide.marks import file_name
from pytest_aide.measure.profile import Profile
from pytest_aide.results import CountResult
from pytest_aide.runner import ProfiledBenchmark, profiling
from pytest_aide.timelimits import guarded
from pytest_aide.verdict import Verdict
from pytest_aide.workers import session_options

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["EXPLAINING_NAME", "Explaining"]

EXPLAINING_NAME = "aide-explaining"


class Explaining:
    """Profiles checks (``--aide-explain``): failing ones, or every one under ``always``."""

    def __init__(self, session: AideSession) -> None:
        self.session = session

    def before_verdict(self, item: pytest.Item, check: Check) -> None:
        """Under ``always``, profile before the verdict: a saved baseline keeps the profile."""
        if self.session.settings.explain == "always":
            self._explain(item, check)

    def after_verdict(self, item: pytest.Item, check: Check, verdict: Verdict) -> None:
        """Under ``fail``, profile a check that failed or regressed."""
        if self.session.settings.explain == "fail" and verdict.status in ("FAIL", "REGRESSED"):
            self._explain(item, check)

    def _attribute_counts(self, item: pytest.Item, check: Check) -> None:
        """Give the check's counts (and REV's) their instructions per Python function.

        They are counted once more, with CPython's perf trampoline (3.12+);
        under ``--aide-explain always`` that was done with the first count.
        """
        aide = self.session
        counts = [r for r in check.results if isinstance(r, CountResult)]
        if not counts or all(r.functions for r in counts):
            return
        if aide.counting.attribute([item.nodeid], aide.progress) is not None:
            return
        functions = aide.counting.functions
        check.results[:] = [
            dataclasses.replace(r, functions=functions.get((item.nodeid, r.name), []))
            if isinstance(r, CountResult)
            else r
            for r in check.results
        ]
        if aide.revision is not None and check.against_counts:
            aide.counting_against.attribute([item.nodeid], aide.progress)
            theirs = aide.counting_against.functions
            for name, result in check.against_counts.items():
                if isinstance(result, CountResult):
                    found = theirs.get((item.nodeid, name), [])
                    check.against_counts[name] = dataclasses.replace(result, functions=found)

    def _explain(self, item: pytest.Item, check: Check) -> None:
        """Run the test once more with its measured calls profiled (``--aide-explain``).

        The check keeps its figures: the profiled run's stand in for nothing.
        A test that raises while profiled, or measures nothing the runner sees
        (a pytest-benchmark test), gets a note instead of a profile.
        """
        self._attribute_counts(item, check)
        report_dir = self.session.settings.report_dir
        kept = list(check.results)
        check.results.clear()  # so the profiled calls take the measured calls' names
        funcargs = getattr(item, "funcargs", {})
        fixture = funcargs.get("benchmark")
        with profiling(report_dir / "profiles", file_name(item.nodeid)) as request:
            if fixture is not None:
                funcargs["benchmark"] = ProfiledBenchmark(fixture, check.name, request)
            try:
                with guarded(self.session, item):
                    item.runtest()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # pytest.skip/fail too: the verdict stands
                if not request.profiles:
                    request.notes.append(
                        f"{check.name}: not profiled: the test raised {type(exc).__name__}: {exc}"
                    )
            finally:
                check.results[:] = kept
                if fixture is not None:
                    funcargs["benchmark"] = fixture
        for profile in request.profiles:  # as the reports link them, beside report.html
            profile.files = {
                kind: os.path.relpath(path, report_dir) for kind, path in profile.files.items()
            }
        check.profiles = request.profiles
        check.profile_notes = request.notes
        if self.session.revision is not None and request.profiles:
            self._profile_revision(item, check)
        if not request.profiles and not request.notes:
            check.profile_notes.append(
                f"{check.name}: not profiled: no call went through aide_timer, aide_load, "
                "benchmark or a scenario"
            )

    def _profile_revision(self, item: pytest.Item, check: Check) -> None:
        """Profile the check in REV's worktree too, for a differential profile (``--aide-against``).

        A pytest session of its own in the worktree, with ``--aide-explain always``.
        """
        revision = self.session.revision
        assert revision is not None
        config, label = self.session.config, revision.label
        tree = revision.path_for(config.rootpath)
        with tempfile.TemporaryDirectory(prefix="aide-explain-") as tmp:
            command = [sys.executable, "-m", "pytest", item.nodeid, "--aide-perf"]
            command += ["--aide-explain=always", "--aide-confirm=0", "-p", "no:randomly"]
            command += ["-p", "no:cacheprovider", "-p", "no:xdist", f"--aide-report-dir={tmp}"]
            command += session_options(config, self.session.settings, tree)
            done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
            report = Path(tmp, "report.json")
            checks = json.loads(report.read_text())["checks"] if report.is_file() else []
        found = [Profile.from_dict(p) for c in checks for p in c.get("profiles") or []]
        if not found:
            last = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()[-1]
            check.profile_notes.append(
                f"{check.name}: no differential profile: {label} could not be profiled ({last})"
            )
            return
        here = str(revision.toplevel.resolve()) + os.sep
        if any(f.file.startswith(here) for p in found for f in p.functions):
            check.profile_notes.append(
                f"{check.name}: no differential profile: {label}'s session ran this tree's "
                "code (an install that points here)"
            )
            return
        there = str(revision.worktree.resolve()) + os.sep
        for profile in found:  # the same function in both trees gets the same key
            profile.functions = [
                dataclasses.replace(f, file=here + f.file.removeprefix(there))
                if f.file.startswith(there)
                else f
                for f in profile.functions
            ]
        check.baseline_profiles = (f"{label} in the same job", found)
