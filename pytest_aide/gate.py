"""The gate: judge a check on its thresholds and its baseline, and save baselines.

Reads and writes baseline files, never the clock; knows nothing of pytest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
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
from pytest_aide.growth import compare_fits
from pytest_aide.results import (
    COUNT_METRICS,
    CacheResult,
    CountResult,
    QueryResult,
    ScalingResult,
    TimingResult,
    TrackResult,
)
from pytest_aide.stats import DEFAULT_DRIFT
from pytest_aide.verdict import (
    Comparison,
    Evidence,
    Verdict,
    compare,
    compare_count_results,
    decide,
    tolerance_for,
)

__all__ = ["COUNT_TOLERANCE", "Gate", "StoredRun"]

COUNT_TOLERANCE = 0.03
"""Allowed growth of a count per call before it is a regression, unless the check sets
``regression_max``. A pure loop's count is steady to 0.01 %, but code that grows lists,
dicts and strings moved by up to 1.7 % between fresh sessions with where earlier work
left the heap (``benchmarks/count_determinism.py``), so 1 % would cry wolf."""


@dataclass
class StoredRun:
    """A run from the history that replaces the baseline files (``--aide-compare-run``)."""

    label: str
    """How the run is named in notes, e.g. ``history run #12 1a2b3c4 (main) 2026-11-26``."""
    machine: str
    """The machine slug the run was measured on."""
    baselines: dict[str, Baseline]
    """Each check's results in that run, as a baseline (commit and date included)."""


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
    count_slugs: dict[str, str] = field(default_factory=dict)
    """Measure -> the directory of count baselines this machine shares with others of its
    architecture, Python build and valgrind major version (empty when nothing was counted)."""
    dirty: bool = False
    """Tracked files differ from ``commit``."""
    stored: StoredRun | None = None
    """A history run to compare with instead of the baseline files."""
    uncompared_fails: bool = True
    """``--aide-uncompared fail``: a comparison asked for and not made fails the check."""

    def evaluate(self, check: Check, unmeasured: str | None = None) -> Verdict:
        """Judge ``check`` on its thresholds and its baseline; save a new baseline if asked.

        Reads and writes the files; :func:`~pytest_aide.verdict.decide` judges.
        """
        thresholds = dict(check.thresholds)
        evidence = Evidence(check.name, check.results, thresholds, unmeasured=unmeasured)
        if check.count_notes:  # a count asked for and not made
            for key in [k for k, t in thresholds.items() if t.metric in COUNT_METRICS]:
                del thresholds[key]
                evidence.notes.append(f"{check.name}: {key} not checked: not counted")
        evidence.uncompared += check.count_notes + check.uncompared
        evidence.uncompared_fails = self.uncompared_fails
        evidence.notes += check.notes
        measured: list[Any] = [r for r in check.timings if r.mode == "perf"]
        measured += [r for r in check.results if isinstance(r, (ScalingResult, TrackResult))]
        counts = [r for r in check.results if isinstance(r, CountResult)]
        if counts and self.against is None:
            if self.compare:
                self._compare_counts(check, evidence, counts)
            if self.save:
                self._save(check, evidence, counts, self.count_slugs[counts[0].measure])
        if self.against is not None:
            check.baseline_counts = (f"{self.against} in the same job", check.against_counts)
            tracks = [r for r in check.results if isinstance(r, TrackResult)]
            evidence.comparisons += compare_count_results(
                check.against_counts,
                [*counts, *tracks],
                tolerance=self._count_tolerance(check),
                baseline_date="",
                against=self.against,
            )
            # A result counted on both sides is gated on its count; its paired time is shown.
            evidence.comparisons += [
                Comparison(
                    name,
                    estimate,
                    self.time_tolerance(check),
                    "",
                    name not in check.against_counts,
                    self.against,
                    clock=check.pair_sources.get(name, {}).get("clock", "wall"),
                )
                for name, estimate in check.paired.items()
            ]
            evidence.problems += check.pair_problems
            evidence.notes += check.pair_notes
        elif self.compare and measured:
            self._compare(check, evidence, counted=bool(counts or check.count_notes))
        if self.save and measured:
            kept = [r for r in check.results if isinstance(r, (QueryResult, CacheResult))]
            self._save(check, evidence, [*measured, *kept], self.slug)
        self._confirmed(check, evidence)
        check.verdict = decide(evidence)
        return check.verdict

    def preview(self, check: Check, counted: bool = False) -> Verdict:
        """Judge ``check``'s wall-time figures alone, saving nothing: is there a suspicion?

        Thresholds and the stored wall-time comparison, as :meth:`evaluate`
        would judge them; counts and same-job pairs are left out (they are
        not measured again), and so is the wall-time comparison of a check
        that asked for a count (``counted``), which never gates. Records the
        stored baseline's commit on ``check``.
        """
        thresholds = {k: t for k, t in check.thresholds.items() if t.metric not in COUNT_METRICS}
        evidence = Evidence(check.name, check.results, thresholds)
        if self.against is None and self.compare and not self.save and check.timings:
            self._compare(check, evidence, counted=counted)
        return decide(evidence)

    def _confirmed(self, check: Check, evidence: Evidence) -> None:
        """Judge on the confirmation, when the check was measured again."""
        confirmation = check.confirmation
        if confirmation is None:
            return
        if confirmation.kind == "same-job":
            # The same-job comparison replaces the stored one, which is shown.
            evidence.comparisons = [
                dataclasses.replace(c, gating=False)
                if c.measure == "time" and c.against is None
                else c
                for c in evidence.comparisons
            ]
            evidence.comparisons += confirmation.paired
        evidence.confirmed = frozenset(confirmation.confirmed)
        evidence.confirmation = confirmation.lines(check.name)
        evidence.notes += confirmation.notes

    def _count_tolerance(self, check: Check) -> float:
        return tolerance_for(COUNT_TOLERANCE, _own_tolerance(check))

    def time_tolerance(self, check: Check) -> float:
        """The wall-time tolerance for ``check``: its ``regression_max``, else the session's."""
        return tolerance_for(self.tolerance, _own_tolerance(check))

    def _baseline(self, check: Check, verdict: Evidence, slug: str) -> tuple[Baseline, bool] | None:
        """The stored baseline ``check`` is compared with, and whether it gates."""
        if self.stored is not None:
            return self._stored_baseline(check, verdict)
        try:
            path, same_machine = find_baseline(self.baseline_dir, slug, check.nodeid)
        except PermissionError as exc:
            where = display_path(Path(exc.filename or self.baseline_dir), self.rootdir)
            verdict.uncompared.append(
                f"{check.name}: {where}: cannot read the baseline (permission denied)"
            )
            return None
        if path is None:
            return None
        shown = display_path(path, self.rootdir)
        try:
            baseline = load_baseline(path, check.nodeid, shown)
        except BaselineError as exc:
            # When saving, the bad file is about to be replaced (or refused) by _save.
            if not self.save:
                verdict.problems.append(f"{check.name}: {exc}")
            return None
        other = path.relative_to(self.baseline_dir).parts[0]
        reference = f"baseline {shown} is from another machine ({other})"
        return baseline, self._gating(check, verdict, same_machine, reference)

    def _gating(self, check: Check, verdict: Evidence, same_machine: bool, other: str) -> bool:
        """Whether a stored comparison gates; ``other`` says why not, from another machine."""
        gating = (same_machine or self.any_machine) and not self.save
        if not same_machine:
            verdict.notes.append(
                f"{check.name}: {other}; "
                + (
                    "gating anyway (--aide-compare-any-machine)"
                    if gating
                    else "reported only (use --aide-compare-any-machine to gate on it)"
                )
            )
        return gating

    def _reference(self, baseline: Baseline) -> str:
        """What a comparison line names its baseline by: its date, or the history run."""
        return self.stored.label if self.stored is not None else baseline.date

    def _stored_baseline(self, check: Check, verdict: Evidence) -> tuple[Baseline, bool] | None:
        """``check``'s results in the history run compared with, and whether they gate."""
        assert self.stored is not None
        baseline = self.stored.baselines.get(check.nodeid)
        if baseline is None:
            verdict.notes.append(f"{check.name}: not in {self.stored.label}: nothing to compare")
            return None
        other = f"{self.stored.label} was measured on another machine ({self.stored.machine})"
        return baseline, self._gating(check, verdict, self.stored.machine == self.slug, other)

    def _compare_counts(self, check: Check, verdict: Evidence, counts: list[CountResult]) -> None:
        found = self._baseline(check, verdict, self.count_slugs[counts[0].measure])
        if found is None:
            return
        baseline, gating = found
        old = {r.name: r for r in baseline.results if isinstance(r, CountResult)}
        check.baseline_counts = (f"the baseline of {self._reference(baseline)}", old)
        verdict.comparisons += compare_count_results(
            old,
            counts,
            tolerance=self._count_tolerance(check),
            baseline_date=self._reference(baseline),
            gating=gating,
        )

    def _compare(self, check: Check, verdict: Evidence, counted: bool = False) -> None:
        found = self._baseline(check, verdict, self.slug)
        if found is None:
            return
        baseline, gating = found
        check.baseline_commit = (baseline.commit, baseline.dirty)
        check.baseline_profiles = (
            f"the baseline of {self._reference(baseline)}",
            baseline.profiles,
        )
        # A check that asked for a count is gated on it; its wall time is only reported.
        gating = gating and not counted
        queries: list[Any] = [r for r in check.results if isinstance(r, (QueryResult, TrackResult))]
        verdict.comparisons += compare_count_results(
            {r.name: r for r in baseline.results if isinstance(r, (QueryResult, TrackResult))},
            queries,
            tolerance=self._count_tolerance(check),
            baseline_date=self._reference(baseline),
            gating=gating,
        )
        verdict.order_changes += _order_changes(
            check, baseline.results, self._reference(baseline), gating, verdict.notes
        )
        old = {r.name: r for r in baseline.results if isinstance(r, TimingResult)}
        for result in check.timings:
            before = old.get(result.name)
            if before is None or result.mode != "perf":
                continue
            clock = _common_clock(before, result, verdict.notes, self._reference(baseline))
            comparison = compare(
                result.name,
                before.on(clock) or before.samples,
                result.on(clock) or result.samples,
                tolerance=self.time_tolerance(check),
                baseline_date=self._reference(baseline),
                gating=gating,
                drift=self.drift,
                runs=baseline.run_medians(result.name, clock),
                clock=clock,
            )
            verdict.comparisons.append(comparison)
            if comparison.undecided:
                verdict.notes.append(f"{result.name}: {comparison.undecided}")

    def _save(self, check: Check, verdict: Evidence, results: list[Any], slug: str) -> None:
        path = self.baseline_dir / slug / baseline_relpath(check.nodeid)
        shown = display_path(path, self.rootdir)
        baseline = Baseline(
            id=check.nodeid,
            results=results,
            machine=self.machine,
            profile=self.profile,
            commit=self.commit,
            dirty=self.dirty,
            profiles=list(check.profiles),
        )
        try:
            note = save_baseline(path, baseline, shown)
        except BaselineError as exc:
            verdict.problems.append(f"{check.name}: {exc}")
            return
        if note:
            verdict.notes.append(f"{check.name}: {note}")
        check.saved_baseline = shown


def _common_clock(before: TimingResult, now: TimingResult, notes: list[str], reference: str) -> str:
    """The clock both results have, the check's own where the baseline has it; else wall.

    Every timing keeps its wall figures, so two results always share the wall
    clock; falling back to it is said in a note, never done silently.
    """
    if before.on(now.measure) is not None:
        return now.measure
    notes.append(
        f"{now.name}: compared on wall time: the baseline of {reference} has no "
        f"{now.measure}-time figures (save it again to gate on {now.measure} time)"
    )
    return "wall"


def _own_tolerance(check: Check) -> float | None:
    """The check's own ``regression_max``, if it sets one."""
    own = check.thresholds.get("regression_max")
    return own.limit if own is not None else None


def _order_changes(
    check: Check, stored: list[Any], reference: str, gating: bool, notes: list[str]
) -> list[str]:
    """Lines of scaling results whose fitted order grew since the baseline, if it gates.

    A lower order, or one from a baseline that does not gate, is a note; fits on
    different bases (CPU time, instructions) are not compared.
    """
    old = {r.name: r for r in stored if isinstance(r, ScalingResult)}
    lines = []
    for result in check.results:
        before = old.get(result.name) if isinstance(result, ScalingResult) else None
        if before is None or result.unjudged() or before.unjudged():
            continue
        if before.basis != result.basis:
            notes.append(
                f"{result.name}: order not compared with the baseline of {reference}: "
                f"fitted on {before.basis} there, on {result.basis} here"
            )
            continue
        was, now = before.fit, result.fit
        change = compare_fits(was, now)
        if change == "same":
            continue
        line = (
            f"{result.name}: order {change if change != 'unclear' else 'read'} "
            f"{'from' if change != 'unclear' else 'as'} "
            f"{was.best.name} (exponent {was.exponent:.2f} [{was.low:.2f}, {was.high:.2f}]) "
            f"to {now.best.name} (exponent {now.exponent:.2f} [{now.low:.2f}, {now.high:.2f}]) "
            f"since the baseline of {reference}"
        )
        if change == "unclear":
            line = (
                f"{result.name}: fitted {now.best.name} here, {was.best.name} in the baseline of "
                f"{reference}; their exponents' intervals overlap ([{now.low:.2f}, "
                f"{now.high:.2f}] and [{was.low:.2f}, {was.high:.2f}]): not a change of order"
            )
        if change == "grew" and gating:
            lines.append(line)
        else:
            notes.append(line)
    return lines
