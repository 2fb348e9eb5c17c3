"""The gate: judge a check on its thresholds and its baseline, and save baselines.

Reads and writes baseline files, never the clock; knows nothing of pytest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_aide.baselines import (
    Baseline,
    BaselineError,
    baseline_relpath,
    find_baseline,
    load_baseline,
    save_baseline,
)
from pytest_aide.check import Check
from pytest_aide.config import display_path
from pytest_aide.results import COUNT_METRICS, TimingResult
from pytest_aide.stats import DEFAULT_DRIFT
from pytest_aide.verdict import (
    Comparison,
    Evidence,
    Verdict,
    compare,
    decide,
    tolerance_for,
)

__all__ = ["Gate"]


@dataclass
class Gate:
    """Everything needed to judge checks against stored baselines."""

    baseline_dir: Path
    rootdir: Path
    machine: dict[str, Any]
    slug: str
    """This machine's directory name under the baseline dir."""
    profile: str
    tolerance: float
    compare: bool = True
    save: bool = False
    any_machine: bool = False
    drift: float = DEFAULT_DRIFT
    """Between-run drift a stored comparison allows for (``--aide-drift``)."""
    against: str | None = None
    """Label of the revision measured in the same job; replaces the stored baseline."""
    commit: str | None = None
    """Git commit of the code measured (saved into baselines); None outside git."""
    dirty: bool = False
    """Tracked files differ from ``commit``."""

    def evaluate(self, check: Check, unmeasured: str | None = None) -> Verdict:
        """Judge ``check`` on its thresholds and its baseline; save a new baseline if asked.

        Reads and writes the files; :func:`~pytest_aide.verdict.decide` judges.
        """
        thresholds = dict(check.thresholds)
        if check.count_notes:
            for key in [k for k, t in thresholds.items() if t.metric in COUNT_METRICS]:
                del thresholds[key]
                check.count_notes.append(f"{check.name}: {key} not checked: not counted")
        evidence = Evidence(check.name, check.results, thresholds, unmeasured=unmeasured)
        evidence.notes += check.count_notes
        measured = [r for r in check.timings if r.mode == "perf"]
        if self.against is not None:
            evidence.comparisons += [
                Comparison(name, estimate, self._tolerance(check), "", True, self.against)
                for name, estimate in check.paired.items()
            ]
            evidence.problems += check.pair_problems
            evidence.notes += check.pair_notes
        elif self.compare and measured:
            self._compare(check, evidence)
        if self.save and measured:
            self._save(check, evidence)
        check.verdict = decide(evidence)
        return check.verdict

    def _tolerance(self, check: Check) -> float:
        own = check.thresholds.get("regression_max")
        return tolerance_for(self.tolerance, own.limit if own is not None else None)

    def _compare(self, check: Check, verdict: Evidence) -> None:
        path, same_machine = find_baseline(self.baseline_dir, self.slug, check.nodeid)
        if path is None:
            return
        shown = display_path(path, self.rootdir)
        try:
            baseline = load_baseline(path, check.nodeid, shown)
        except BaselineError as exc:
            # When saving, the bad file is about to be replaced (or refused) by _save.
            if not self.save:
                verdict.problems.append(f"{check.name}: {exc}")
            return
        gating = (same_machine or self.any_machine) and not self.save
        if not same_machine:
            other = path.relative_to(self.baseline_dir).parts[0]
            verdict.notes.append(
                f"{check.name}: baseline {shown} is from another machine ({other}); "
                + (
                    "gating anyway (--aide-compare-any-machine)"
                    if gating
                    else "reported only (use --aide-compare-any-machine to gate on it)"
                )
            )
        old = {r.name: r for r in baseline.results if isinstance(r, TimingResult)}
        for result in check.timings:
            before = old.get(result.name)
            if before is None or result.mode != "perf":
                continue
            comparison = compare(
                result.name,
                before.samples,
                result.samples,
                tolerance=self._tolerance(check),
                baseline_date=baseline.date,
                gating=gating,
                drift=self.drift,
                runs=baseline.run_medians(result.name),
            )
            verdict.comparisons.append(comparison)
            if comparison.undecided:
                verdict.notes.append(f"{result.name}: {comparison.undecided}")

    def _save(self, check: Check, verdict: Evidence) -> None:
        path = self.baseline_dir / self.slug / baseline_relpath(check.nodeid)
        shown = display_path(path, self.rootdir)
        baseline = Baseline(
            id=check.nodeid,
            results=[r for r in check.timings if r.mode == "perf"],
            machine=self.machine,
            profile=self.profile,
            commit=self.commit,
            dirty=self.dirty,
        )
        try:
            note = save_baseline(path, baseline, shown)
        except BaselineError as exc:
            verdict.problems.append(f"{check.name}: {exc}")
            return
        if note:
            verdict.notes.append(f"{check.name}: {note}")
        check.saved_baseline = shown
