"""A check: one measured test or scenario, its limits, results and verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.confirm import Confirmation
from pytest_aide.measure.attribution import count_differential_lines
from pytest_aide.measure.profile import Profile, differential_lines
from pytest_aide.results import CountResult, Result, TimingResult, TrackResult, result_from_dict
from pytest_aide.stats import RatioEstimate
from pytest_aide.verdict import Breach, Comparison, Evidence, Threshold, Verdict, decide

__all__ = ["Check", "totals"]

_SMALL = 0.01
"""A count that moved less than this is not attributed (glibc alone moves some by ~1 %)."""


@dataclass
class Check:
    """Everything known about one test or scenario that aide measured."""

    name: str
    """Marker ``name``, test name or scenario name."""
    nodeid: str
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    verdict: Verdict | None = None
    """Set once the check has been judged (only under ``--aide-perf``)."""
    outcome: str = "passed"
    """pytest's outcome for the test: ``passed``, ``failed``, ``skipped`` or ``error``."""
    saved_baseline: str | None = None
    """Path of the baseline written for this check in this run, if any."""
    paired: dict[str, RatioEstimate] = field(default_factory=dict)
    """Under ``--aide-against``: each result's paired ratio against the revision."""
    pair_sources: dict[str, dict[str, str]] = field(default_factory=dict)
    """Under ``--aide-against``: the file each side's measured callable came from."""
    pair_notes: list[str] = field(default_factory=list)
    """Under ``--aide-against``: results that could not be compared, and why."""
    pair_problems: list[str] = field(default_factory=list)
    """Under ``--aide-against``: why a comparison would be false (both sides ran one file)."""
    against_counts: dict[str, CountResult | TrackResult] = field(default_factory=dict)
    """Under ``--aide-against``: REV's count of each counted result, and its number of each
    asv number (:class:`~pytest_aide.results.TrackResult`), by result name."""
    count_notes: list[str] = field(default_factory=list)
    """Measured calls the check asked to count that were not counted, and why."""
    uncompared: list[str] = field(default_factory=list)
    """Comparisons this run was asked to make for the check and could not (a pair, count or
    confirmation worker that crashed, refused or did not start), one line each."""
    notes: list[str] = field(default_factory=list)
    """Things the gate should say about the check that fail nothing (a confirmation that
    could not be made, say)."""
    confirmation: Confirmation | None = None
    """How a suspected wall-time failure was measured again (``--aide-confirm``), if it was."""
    baseline_commit: tuple[str | None, bool] | None = None
    """The commit (and dirtiness) of the stored wall-time baseline compared with, if any."""
    profiles: list[Profile] = field(default_factory=list)
    """Profiles of the check's measured calls (``--aide-explain``), if it was profiled."""
    profile_notes: list[str] = field(default_factory=list)
    """Why a measured call was not profiled, or was profiled otherwise than measured."""
    baseline_profiles: tuple[str, list[Profile]] | None = None
    """What the profiles to diff against are of (``the baseline of 2026-11-20``, ``REV in
    the same job``) and the profiles, when there are any."""
    baseline_counts: tuple[str, dict[str, CountResult | TrackResult]] | None = None
    """What the counts compared with are of, and those counts by result name."""
    declared: str | None = None
    """How the suite declared the benchmark (``fixture``, ``marker``); None for aide's own."""
    seconds: float = 0.0
    """Wall time of the check's test: set-up, call and tear-down (``--aide-shard`` balances
    shards on it, read back from the history)."""

    def explanation(
        self, report_dir: Path, root: Path | None = None, counts: bool = True
    ) -> list[str]:
        """The profile lines shown under a failing check: the top functions, then notes.

        Profile files (relative to ``report_dir``) are shown relative to ``root``.
        With ``counts``, a count that changed is attributed to Python functions
        by instructions, when both counts have per-function figures.
        """
        reference, before = self.baseline_profiles or ("", [])
        old = {profile.name: profile for profile in before}
        lines = self._count_differential() if counts else []
        for profile in self.profiles:
            lines += profile.lines()
            shown = [_relative(report_dir / path, root) for path in profile.files.values()]
            lines += [f"  full profile: {', '.join(shown)}"] if shown else []
            if profile.name in old:
                lines += differential_lines(old[profile.name], profile, reference)
        return lines + self.profile_notes

    def _count_differential(self) -> list[str]:
        """Per counted result that changed: the functions whose own instructions changed."""
        reference, old = self.baseline_counts or ("", {})
        lines = []
        for result in self.results:
            before = old.get(result.name)
            if not isinstance(result, CountResult) or not isinstance(before, CountResult):
                continue
            if abs(result.instructions - before.instructions) < _SMALL * max(
                before.instructions, 1.0
            ):
                continue
            if not result.functions:
                lines.append(
                    f"{result.name}: no differential by instructions: this run's count has no "
                    "figures per Python function (CPython 3.12 or newer counts them)"
                )
                continue
            if not before.functions:
                lines.append(
                    f"{result.name}: no differential by instructions: {reference}'s count has no "
                    "figures per Python function (saved under --aide-explain always on "
                    "CPython 3.12 or newer, it has)"
                )
                continue
            lines += count_differential_lines(
                result.name,
                before.functions,
                result.functions,
                before.instructions,
                result.instructions,
                reference,
            )
        return lines

    def next_result_name(self) -> str:
        """Name for the next unnamed result: the check name, then ``name#2``, ..."""
        taken = {result.name for result in self.results}
        if self.name not in taken:
            return self.name
        number = 2
        while f"{self.name}#{number}" in taken:
            number += 1
        return f"{self.name}#{number}"

    @property
    def timings(self) -> list[TimingResult]:
        """The timing results among :attr:`results`."""
        return [r for r in self.results if isinstance(r, TimingResult)]

    def judge(self) -> Verdict:
        """Judge the results against the thresholds and remember the verdict."""
        self.verdict = decide(Evidence(self.name, self.results, self.thresholds))
        return self.verdict

    @property
    def status(self) -> str:
        """The verdict's status (``PASS``, ``NOT COMPARED``...), or ``ERROR`` or ``SKIP``."""
        if self.outcome == "error":
            return "ERROR"
        if self.outcome == "skipped":
            return "SKIP"
        if self.verdict is not None and not self.verdict.passed:
            return self.verdict.status
        if self.outcome == "failed":
            return "FAIL"
        return self.verdict.status if self.verdict is not None else "PASS"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for reports."""
        verdict = self.verdict
        return {
            "id": self.nodeid,
            "name": self.name,
            "status": self.status,
            "outcome": self.outcome,
            "thresholds": {
                key: {"limit": t.limit, "origin": t.origin, "text": t.describe(), "unit": t.unit}
                for key, t in self.thresholds.items()
            },
            "results": [result.to_dict() for result in self.results],
            "failures": verdict.lines() if verdict else [],
            "notes": list(verdict.notes) if verdict else [],
            "comparisons": [c.to_dict() for c in (verdict.comparisons if verdict else [])],
            "judged": verdict is not None,
            "breaches": [
                {"result": b.subject, "key": b.threshold.key, "actual": b.actual}
                for b in (verdict.breaches if verdict else [])
            ],
            "problems": list(verdict.problems) if verdict else [],
            "order_changes": list(verdict.order_changes) if verdict else [],
            "uncompared": list(verdict.uncompared) if verdict else [],
            "uncompared_fails": verdict.uncompared_fails if verdict else True,
            "saved_baseline": self.saved_baseline,
            "against_sources": self.pair_sources,
            "confirmation": (
                {**self.confirmation.to_dict(), "lines": self.confirmation.lines(self.name)}
                if self.confirmation
                else None
            ),
            "profiles": [profile.to_dict() for profile in self.profiles],
            "profile_notes": list(self.profile_notes),
            "declared": self.declared,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        """Rebuild a judged check from :meth:`to_dict` (an xdist worker's, say)."""
        thresholds = {
            key: Threshold(key, float(t["limit"]), t.get("origin"), t.get("unit"))
            for key, t in data["thresholds"].items()
        }
        check = cls(
            name=data["name"],
            nodeid=data["id"],
            thresholds=thresholds,
            results=[result_from_dict(r) for r in data["results"]],
            outcome=data["outcome"],
            saved_baseline=data.get("saved_baseline"),
            pair_sources=dict(data.get("against_sources") or {}),
            declared=data.get("declared"),
        )
        check.seconds = float(data.get("seconds") or 0.0)
        check.profiles = [Profile.from_dict(p) for p in data.get("profiles") or []]
        check.profile_notes = [str(note) for note in data.get("profile_notes") or []]
        confirmation = data.get("confirmation")
        if confirmation:
            check.confirmation = Confirmation.from_dict(confirmation)
        if data.get("judged"):
            check.verdict = Verdict(
                breaches=[
                    Breach(b["result"], thresholds[b["key"]], float(b["actual"]))
                    for b in data["breaches"]
                ],
                problems=list(data["problems"]),
                order_changes=list(data.get("order_changes") or []),
                uncompared=list(data.get("uncompared") or []),
                uncompared_fails=bool(data.get("uncompared_fails", True)),
                comparisons=[Comparison.from_dict(c) for c in data["comparisons"]],
                notes=list(data["notes"]),
                confirmation=list((confirmation or {}).get("lines") or []),
            )
        return check


def totals(checks: Sequence[Check]) -> dict[str, Any]:
    """Checks counted (skips are not), passed, failed, errors, not compared and the success rate.

    Passed is PASS or IMPROVED; errors are as pytest counts them (an error is in
    set-up or teardown); not compared is a check whose asked-for comparison was
    not made (``NOT COMPARED``, a failure unless ``--aide-uncompared warn``);
    failed is the rest.
    """
    counted = [c for c in checks if c.status != "SKIP"]
    passed = sum(1 for c in counted if c.status in ("PASS", "IMPROVED"))
    errors = sum(1 for c in counted if c.status == "ERROR")
    uncompared = sum(1 for c in counted if c.status == "NOT COMPARED")
    return {
        "checks": len(counted),
        "passed": passed,
        "failed": len(counted) - passed - errors - uncompared,
        "errors": errors,
        "not_compared": uncompared,
        "success_rate": passed / len(counted) if counted else 1.0,
    }


def _relative(path: Path, root: Path | None) -> str:
    if root is not None and path.is_relative_to(root):
        return str(path.relative_to(root))
    return str(path)
