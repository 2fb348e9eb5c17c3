"""A check: one measured test or scenario, its limits, results and verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_aide.results import Result, TimingResult
from pytest_aide.stats import RatioEstimate
from pytest_aide.verdict import Threshold, Verdict, judge

__all__ = ["Check"]


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
        self.verdict = judge(self.name, self.results, self.thresholds)
        return self.verdict

    @property
    def status(self) -> str:
        """``PASS``, ``FAIL``, ``REGRESSED``, ``IMPROVED``, ``ERROR`` or ``SKIP``."""
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
                key: {"limit": t.limit, "origin": t.origin, "text": t.describe()}
                for key, t in self.thresholds.items()
            },
            "results": [result.to_dict() for result in self.results],
            "failures": verdict.lines() if verdict else [],
            "notes": list(verdict.notes) if verdict else [],
            "comparisons": [
                {
                    "result": c.subject,
                    "status": c.status,
                    "ratio": c.estimate.ratio,
                    "ci_low": c.estimate.low,
                    "ci_high": c.estimate.high,
                    "confidence": c.estimate.confidence,
                    "tolerance": c.tolerance,
                    "baseline_date": c.baseline_date,
                    "against": c.against,
                    "gating": c.gating,
                }
                for c in (verdict.comparisons if verdict else [])
            ],
            "saved_baseline": self.saved_baseline,
        }
