"""Confirmation (``--aide-confirm``, a check's ``retry``): a suspected failure measured again.

:class:`Confirming` is registered under ``--aide-perf`` when ``--aide-confirm``
is above 0, or when a collected check has a ``retry`` table of its own. After a
check's call it previews the verdict; a wall-time failure that may be noise is
measured beside the stored baseline's commit in the same job, or run again
with backoff, before the gate decides (:mod:`pytest_aide.confirm` says when to stop).
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from pytest_aide.against import AgainstError, Revision
from pytest_aide.check import Check
from pytest_aide.collect import ScenarioItem
from pytest_aide.confirm import DECIDE_AT, Attempt, Confirmation, Retrying, RetryPolicy
from pytest_aide.counting import COUNTED
from pytest_aide.judging import adopt
from pytest_aide.marks import RETRY_KEY, own_marker, rearm_benchmark
from pytest_aide.measure.pair import PairPlan, PairRun
from pytest_aide.pairing import pair, pairable
from pytest_aide.timelimits import guarded
from pytest_aide.verdict import Comparison, failure_key, looks_changed, suspicions

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["CONFIRMING_NAME", "Confirming", "asks_to_retry"]

CONFIRMING_NAME = "aide-confirming"


def asks_to_retry(item: pytest.Item) -> bool:
    """Whether ``item``'s marker or scenario has a ``retry`` table of its own."""
    if isinstance(item, ScenarioItem):
        return item.scenario is not None and item.scenario.retry is not None
    marker = own_marker(item)
    return marker is not None and marker.kwargs.get("retry") is not None


class Confirming:
    """Measures a check's suspected wall-time failure again before it fails."""

    def __init__(self, session: AideSession) -> None:
        self.session = session
        self._revisions: dict[str, Revision] = {}
        """Commits of stored baselines checked out to confirm a suspected regression."""
        self._random = random.Random()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """After the check's call (and its timing's adoption), confirm what it suspects."""
        started = time.perf_counter()
        result = yield
        check = self.session.checked(item)
        if check is not None and self.session.pair_server is None:
            self._confirm(item, check, time.perf_counter() - started)
        return result

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Remove the worktrees of baseline commits checked out to confirm."""
        for revision in self._revisions.values():
            revision.remove()
        self._revisions.clear()

    def _retry_policy(self, item: pytest.Item) -> RetryPolicy:
        """The check's ``retry`` table over ``--aide-confirm``."""
        default = RetryPolicy(max_attempts=self.session.settings.confirm + 1)
        own = item.stash.get(RETRY_KEY, None)
        if own is None and isinstance(item, ScenarioItem) and item.scenario is not None:
            own = item.scenario.retry
        return RetryPolicy.from_mapping(own, default) if own is not None else default

    def _confirm(self, item: pytest.Item, check: Check, seconds: float) -> None:
        """Measure a suspected wall-time failure again before it fails (``--aide-confirm``).

        A stored reading whose interval does not lie wholly within the tolerance
        (a slowdown it cannot rule out, or a machine so much faster than when the
        baseline was saved that a slowdown could hide) and whose baseline commit is
        in the repository is measured beside that commit in the same job, which
        decides; anything else suspected is measured again, with backoff, and fails
        only if every attempt breaks it.
        """
        policy = self._retry_policy(item)
        if policy.max_attempts <= 1:
            return
        aide = self.session
        preview = aide.gate.preview(check, aide.measure_of(item) in COUNTED)
        suspects, hard = suspicions(preview)
        if hard:
            return
        hinted = [c for c in preview.comparisons if looks_changed(c)]
        notes: list[str] = []
        same_job = pairable(aide, item)  # else its call runs in no worker: measure it again
        if hinted and same_job and all(key.endswith(":regression") for key in suspects):
            fallback = self._confirm_same_job(item, check, seconds, hinted)
            if fallback is None:
                return
            notes = fallback
        if not suspects:
            check.notes += notes  # the stored verdict stands; say why it was not checked
            return
        retrying = Retrying(policy, Attempt(1, 0.0, seconds, suspects))
        began = time.perf_counter()
        raised: BaseException | None = None
        while not retrying.done and raised is None:
            time.sleep(retrying.next_delay(self._random.random()))
            attempt, raised = self._attempt(
                item, check, len(retrying.attempts) + 1, origin=began - seconds
            )
            retrying.add(attempt)
        check.confirmation = retrying.result(time.perf_counter() - began)
        check.confirmation.notes = notes
        if raised is not None:
            raise raised

    def _attempt(
        self, item: pytest.Item, check: Check, number: int, origin: float
    ) -> tuple[Attempt, BaseException | None]:
        """Run the test again and see which wall-time limits it breaks this time.

        Returns the attempt (timed from ``origin``, when the first attempt began)
        and the exception the test raised, if it did: that is not retried away,
        it fails the test.
        """
        previous = list(check.results)
        check.results.clear()
        rearm_benchmark(item)
        started = time.perf_counter()
        try:
            with guarded(self.session, item):
                item.runtest()
        except BaseException as exc:
            check.results[:] = previous  # the figures of the last attempt that measured
            took = time.perf_counter() - started
            return Attempt(number, started - origin, took, raised=repr(exc)), exc
        seconds = time.perf_counter() - started
        adopt(self.session, item, check)
        counted = self.session.measure_of(item) in COUNTED
        suspects, hard = suspicions(self.session.gate.preview(check, counted))
        # A failure that cannot be noise ends the confirmation; the gate reports it.
        hard_line = hard[0] if hard else None
        return Attempt(number, started - origin, seconds, suspects, hard=hard_line), None

    def _confirm_same_job(
        self, item: pytest.Item, check: Check, seconds: float, stored: list[Comparison]
    ) -> list[str] | None:
        """Measure the stored baseline's commit beside this tree, where ``stored`` looked off.

        Returns None when it was done, else notes saying why it cannot be done
        here (no commit, a modified tree, a commit not in this clone). A worker
        that crashed or refused is a comparison not made (:attr:`Check.uncompared`).
        """
        commit, dirty = check.baseline_commit or (None, False)
        if commit is None:
            return [f"{check.name}: the stored baseline records no commit: measured again instead"]
        if dirty:
            return [
                f"{check.name}: the stored baseline was measured on a modified tree at "
                f"{commit[:7]}: measured again instead"
            ]
        began = time.perf_counter()
        tolerance = self.session.gate.time_tolerance(check)
        try:
            revision = self._revision(commit)
            run = pair(
                self.session, [item], revision, PairPlan(tolerance=tolerance, decide_at=DECIDE_AT)
            )
        except (AgainstError, OSError) as exc:
            reason = str(exc).split(": ", 1)[-1]
            return [
                f"{check.name}: the stored baseline's commit {commit[:7]} cannot be measured "
                f"here ({reason}): measured again instead"
            ]
        points = {p.label: p for p in run.for_item(item.nodeid)}
        paired = [
            Comparison(r.name, p.estimate, tolerance, "", True, revision.label, clock=p.clock)
            for r in check.timings
            if (p := points.get(r.name)) is not None and p.estimate is not None
        ]
        if not paired:
            return _not_paired(item, check, run, commit)
        suspected = {failure_key(c.subject, "regression"): c.line() for c in stored}
        check.confirmation = Confirmation(
            "same-job",
            suspected,
            {failure_key(c.subject, "regression") for c in paired if c.status == "regressed"},
            [Attempt(1, 0.0, seconds, suspected)],
            seconds=time.perf_counter() - began,
            against=revision.label,
            paired=paired,
            stored=stored,
        )
        return None

    def _revision(self, commit: str) -> Revision:
        """The baseline's commit, checked out once per session."""
        revision = self._revisions.get(commit)
        if revision is None:
            revision = Revision.check_out(commit, self.session.config.rootpath)
            revision.name = commit[:7]
            self._revisions[commit] = revision
        return revision


def _not_paired(item: pytest.Item, check: Check, run: PairRun, commit: str) -> list[str]:
    """A same-job confirmation that paired nothing: measured again if new, else not compared."""
    problems = [p.problem for p in run.for_item(item.nodeid) if p.problem]
    why = (
        run.missing.get(item.nodeid)
        or (problems[0] if problems else None)
        or "the worker sessions made no matching call"
    )
    line = f"{check.name}: same-job confirmation against {commit[:7]} failed ({why})"
    if item.nodeid in run.absent:
        return [f"{line}: measured again instead"]
    check.uncompared.append(line)
    return []
