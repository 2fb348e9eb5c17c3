"""Verdicts: pure decisions over results, no clock and no I/O.

The thresholds (:mod:`pytest_aide.thresholds`) and comparisons
(:mod:`pytest_aide.comparison`) it decides on are importable from here too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pytest_aide.comparison import (
    Comparison,
    compare,
    compare_count_results,
    compare_counts,
    tolerance_for,
)
from pytest_aide.thresholds import (
    CONFIRMABLE_METRICS,
    THRESHOLD_KEYS,
    Breach,
    Measured,
    Threshold,
    ThresholdError,
    in_order,
    parse_thresholds,
)

__all__ = [
    "CONFIRMABLE_METRICS",
    "THRESHOLD_KEYS",
    "Breach",
    "Comparison",
    "Evidence",
    "Measured",
    "Threshold",
    "ThresholdError",
    "Verdict",
    "compare",
    "compare_count_results",
    "compare_counts",
    "decide",
    "failure_key",
    "in_order",
    "judge",
    "looks_changed",
    "looks_regressed",
    "parse_thresholds",
    "suspicions",
    "tolerance_for",
]


@dataclass
class Verdict:
    """Outcome of judging one check: thresholds, then the baseline comparison."""

    breaches: list[Breach] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Reasons the check could not be judged (a limit nothing measured, a bad baseline,
    sizes that cannot tell orders apart), and growth worse than the declared order."""
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Things worth saying that do not fail the check (a baseline from another machine)."""
    confirmation: list[str] = field(default_factory=list)
    """How a suspected failure was confirmed or cleared by measuring again (``--aide-confirm``)."""
    order_changes: list[str] = field(default_factory=list)
    """Gating lines of a scaling check whose order grew since its baseline (a regression)."""
    uncompared: list[str] = field(default_factory=list)
    """Comparisons the run was asked to make and could not (a worker that crashed, a count
    that was not made), one line each with the cause."""
    uncompared_fails: bool = True
    """Whether an uncompared check fails (``--aide-uncompared fail``) or only warns."""

    @property
    def regressions(self) -> list[Comparison]:
        """Gating comparisons that found a regression."""
        return [c for c in self.comparisons if c.gating and c.status == "regressed"]

    @property
    def passed(self) -> bool:
        """True when no limit is broken, nothing regressed and nothing stopped the judgement."""
        return (
            not self.breaches
            and not self.problems
            and not self.regressions
            and not self.order_changes
            and not (self.uncompared and self.uncompared_fails)
        )

    @property
    def status(self) -> str:
        """``FAIL``, ``REGRESSED``, ``NOT COMPARED``, ``IMPROVED`` or ``PASS``."""
        if self.breaches or self.problems:
            return "FAIL"
        if self.regressions or self.order_changes:
            return "REGRESSED"
        if self.uncompared:
            return "NOT COMPARED"
        if any(c.gating and c.status == "improved" for c in self.comparisons):
            return "IMPROVED"
        return "PASS"

    def lines(self) -> list[str]:
        """One line per broken limit, problem and regression; how they were confirmed."""
        failures = (
            [b.line() for b in self.breaches]
            + list(self.problems)
            + [c.line() for c in self.regressions]
            + list(self.order_changes)
            + (list(self.uncompared) if self.uncompared_fails else [])
        )
        return failures + self.confirmation if failures else failures


@dataclass
class Evidence:
    """Everything a check is judged on, as plain data gathered before judging."""

    name: str
    results: Sequence[Measured]
    thresholds: Mapping[str, Threshold]
    comparisons: list[Comparison] = field(default_factory=list)
    """Against the stored baseline, or against the revision measured in the same job."""
    problems: list[str] = field(default_factory=list)
    """What stopped a judgement outside the thresholds (a bad baseline, a pairing)."""
    notes: list[str] = field(default_factory=list)
    unmeasured: str | None = None
    """Why the test measured nothing (pytest-benchmark disabled, say), if so."""
    timed_out: str | None = None
    """The line of a check stopped by its timeout; nothing else is judged then."""
    confirmed: frozenset[str] | None = None
    """After measuring a suspected check again: the failure keys (:func:`failure_key`)
    that held; a wall-time failure outside this set does not fail the check. None
    when the check was not measured again."""
    confirmation: list[str] = field(default_factory=list)
    """How the suspicion was confirmed or cleared, as lines for the reports."""
    order_changes: list[str] = field(default_factory=list)
    """Scaling checks whose order grew since the baseline (gating only)."""
    uncompared: list[str] = field(default_factory=list)
    """Comparisons that were asked for and not made, and why (:attr:`Verdict.uncompared`)."""
    uncompared_fails: bool = True
    """``--aide-uncompared fail``: an uncompared check fails; ``warn``: it only warns."""


def decide(evidence: Evidence) -> Verdict:
    """The verdict of one check: the only place pass or fail is decided.

    A timeout fails the check alone. Otherwise every threshold is checked
    against the results, then the problems, comparisons and notes gathered
    for the check join in (why nothing was measured comes first).
    """
    if evidence.timed_out is not None:
        return Verdict(problems=[evidence.timed_out])
    verdict = judge(evidence.name, evidence.results, evidence.thresholds)
    if evidence.unmeasured is not None and not evidence.results:
        verdict.problems.insert(0, evidence.unmeasured)
    verdict.problems += evidence.problems
    verdict.order_changes += evidence.order_changes
    verdict.comparisons += evidence.comparisons
    verdict.notes += evidence.notes
    verdict.uncompared += evidence.uncompared
    verdict.uncompared_fails = evidence.uncompared_fails
    if evidence.confirmed is not None:
        _settle(verdict, evidence.confirmed)
        verdict.confirmation = list(evidence.confirmation)
    return verdict


def _settle(verdict: Verdict, confirmed: frozenset[str]) -> None:
    """Keep only the wall-time failures that every attempt confirmed; the others are notes."""
    suspects, _ = suspicions(verdict)
    cleared = set(suspects) - confirmed
    if not cleared:
        return
    verdict.breaches = [
        b for b in verdict.breaches if failure_key(b.subject, b.threshold.key) not in cleared
    ]
    verdict.comparisons = [
        dataclasses.replace(c, gating=False)
        if c.gating and failure_key(c.subject, "regression") in cleared
        else c
        for c in verdict.comparisons
    ]


def failure_key(subject: str, what: str) -> str:
    """The name a limit goes by across attempts: ``result:mean``, ``result:regression``."""
    return f"{subject}:{what}"


def looks_regressed(comparison: Comparison) -> bool:
    """A stored wall-time comparison whose estimate lies beyond the tolerance, significant or not.

    A stored interval must allow for the drift between runs, so on a busy
    machine a real slowdown often reads beyond the tolerance without being
    significant; the same-job measurement is tight enough to decide it.
    """
    return _stored_time(comparison) and comparison.estimate.ratio > 1.0 + comparison.tolerance


def looks_changed(comparison: Comparison) -> bool:
    """A stored wall-time comparison that cannot show the change lies within the tolerance.

    Worth measuring beside the baseline's commit unless the stored interval
    lies wholly within ``1 ± tolerance``. A screen on the estimate alone
    (:func:`looks_regressed`) passes a real +10 % whose stored reading happened
    to land near the baseline: measured on a busy 2-core VM, it let 4 of 30
    such slowdowns through at a 5 % tolerance. A reading far *faster* than
    the baseline is worth a look too: the machine is not what it was when the
    baseline was saved, and a real slowdown can hide behind it. On a quiet
    machine, or with baselines pooled over several runs, the interval is
    narrow and most checks pass on the stored reading alone.
    """
    estimate = comparison.estimate
    within = 1.0 / (1.0 + comparison.tolerance) <= estimate.low and (
        estimate.high <= 1.0 + comparison.tolerance
    )
    return _stored_time(comparison) and not within


def _stored_time(comparison: Comparison) -> bool:
    return (
        comparison.gating
        and comparison.measure == "time"
        and comparison.against is None
        and comparison.undecided is None
    )


def suspicions(verdict: Verdict) -> tuple[dict[str, str], list[str]]:
    """The failures of ``verdict`` that may be the machine's noise, and those that are not.

    Returns ``({key: line}, hard_lines)``. Limits on wall-clock figures
    (:data:`CONFIRMABLE_METRICS`) and regressions against a stored wall-time
    baseline may be noise and are measured again; anything else (memory, error
    rate, counts, a same-job comparison, a problem) is a failure at once.
    """
    suspects: dict[str, str] = {}
    hard: list[str] = list(verdict.problems)
    for breach in verdict.breaches:
        if breach.threshold.metric in CONFIRMABLE_METRICS:
            suspects[failure_key(breach.subject, breach.threshold.key)] = breach.line()
        else:
            hard.append(breach.line())
    for comparison in verdict.regressions:
        if comparison.measure == "time" and comparison.against is None:
            suspects[failure_key(comparison.subject, "regression")] = comparison.line()
        else:
            hard.append(comparison.line())
    return suspects, hard


def judge(check: str, results: Sequence[Measured], thresholds: Mapping[str, Threshold]) -> Verdict:
    """Check every result of ``check`` against every threshold it can answer."""
    verdict = Verdict()
    for result in results:
        if getattr(result, "kind", None) == "scaling":  # a declared order, not a threshold
            why = result.unjudged()  # type: ignore[attr-defined]
            failure = result.failure()  # type: ignore[attr-defined]
            if why is not None:
                verdict.problems.append(f"{result.name}: scaling not judged: {why}")
            elif failure is not None:
                verdict.problems.append(f"{result.name}: {failure}")
    for threshold in thresholds.values():
        if threshold.metric is None:
            continue
        answered = False
        for result in results:
            value = result.metrics().get(threshold.metric)
            if value is None:
                continue
            answered = True
            if threshold.broken_by(value):
                verdict.breaches.append(Breach(result.name, threshold, value))
        if not answered:
            verdict.problems.append(
                f"{check}: threshold {threshold.key!r} is set but nothing measured "
                f"{threshold.metric!r}"
            )
    return verdict
