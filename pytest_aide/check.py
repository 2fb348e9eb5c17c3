"""A check: one measured test or scenario, its limits, results and verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_aide.results import TimingResult
from pytest_aide.verdict import Threshold, Verdict, judge

__all__ = ["Check"]


@dataclass
class Check:
    """Everything known about one test or scenario that aide measured."""

    name: str
    """Marker ``name``, test name or scenario name."""
    nodeid: str
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    results: list[TimingResult] = field(default_factory=list)
    verdict: Verdict | None = None
    """Set once the check has been judged (only under ``--aide-perf``)."""
    outcome: str = "passed"
    """pytest's outcome for the test: ``passed``, ``failed``, ``skipped`` or ``error``."""

    def next_result_name(self) -> str:
        """Name for the next unnamed result: the check name, then ``name#2``, ..."""
        taken = {result.name for result in self.results}
        if self.name not in taken:
            return self.name
        number = 2
        while f"{self.name}#{number}" in taken:
            number += 1
        return f"{self.name}#{number}"

    def judge(self) -> Verdict:
        """Judge the results against the thresholds and remember the verdict."""
        self.verdict = judge(self.name, self.results, self.thresholds)
        return self.verdict

    @property
    def status(self) -> str:
        """``PASS``, ``FAIL``, ``ERROR`` or ``SKIP`` for summaries."""
        if self.outcome == "error":
            return "ERROR"
        if self.outcome == "skipped":
            return "SKIP"
        if self.outcome == "failed" or (self.verdict is not None and not self.verdict.passed):
            return "FAIL"
        return "PASS"
