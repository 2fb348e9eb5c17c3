"""Same-job pairing (``--aide-against REV``): each timed check runs in REV's tree and this one.

:class:`Pairing` is registered only under ``--aide-against``. Before the tests
(or, in an xdist worker, as each comes) it runs the paired items interleaved in
two worker sessions (:mod:`pytest_aide.measure.pair`) and REV's asv numbers
once (:mod:`pytest_aide.tracked`); before each verdict it gives the check its
paired estimates, or says why it has none.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from pytest_aide.against import Revision
from pytest_aide.check import Check
from pytest_aide.collect import ScenarioItem
from pytest_aide.config import Settings
from pytest_aide.counting import COUNTED
from pytest_aide.marks import marker_limits, own_marker
from pytest_aide.measure.pair import PairPlan, PairRun, Tree, pair_items
from pytest_aide.results import CountResult, ScalingResult
from pytest_aide.suites import declared
from pytest_aide.verdict import CONFIRMABLE_METRICS, Threshold, ThresholdError, Verdict
from pytest_aide.workers import trees, worker_args

if TYPE_CHECKING:
    from pytest_aide.session import AideSession

__all__ = ["PAIRING_NAME", "Pairing", "pair", "pairable", "pairs_time"]

PAIRING_NAME = "aide-pairing"


def pairable(session: AideSession, item: pytest.Item) -> bool:
    """Whether ``--aide-against`` runs this item in both trees: a timed aide check."""
    if isinstance(item, ScenarioItem):
        scenario = item.scenario
        return scenario is not None and scenario.load is None and scenario.http is None
    fixtures = getattr(item, "fixturenames", ())
    if "aide_timer" in fixtures:
        return True
    if declared(item) is None or not getattr(item, "aide_pairable", True):
        return False
    return session.is_check(item)


def pairs_time(session: AideSession, item: pytest.Item) -> bool:
    """Whether ``--aide-against`` times ``item`` in both trees.

    A check gated on a count is counted in both trees and not timed there,
    unless ``--aide-against-time`` or a time limit of its own asks for it.
    """
    if not pairable(session, item):
        return False
    return (
        session.measure_of(item) not in COUNTED
        or session.settings.against_time
        or _time_limited(session, item)
    )


def _time_limited(session: AideSession, item: pytest.Item) -> bool:
    """Whether the check's scenario or marker sets a limit on its time figures."""
    limits: dict[str, Threshold] = {}
    if isinstance(item, ScenarioItem):
        if item.scenario is not None:
            limits = item.scenario.thresholds_for(session.settings.profile)
    elif (marker := own_marker(item)) is not None:
        try:
            limits = marker_limits(marker).thresholds
        except (ThresholdError, ValueError, TypeError):
            return False  # reported when the test runs
    return any(t.metric in CONFIRMABLE_METRICS for t in limits.values())


def pair(
    session: AideSession,
    items: list[pytest.Item],
    revision: Revision,
    plan: PairPlan | None = None,
) -> PairRun:
    """Run ``items`` in ``revision``'s worktree and this tree, interleaved.

    Under ``--aide-against`` (``revision`` is the session's) the paired calls
    are kept for the checks.
    """
    config, settings = session.config, session.settings
    a, b = trees(config, revision, items)

    def args_for(tree: Tree) -> list[str]:
        return worker_args(config, settings, items, tree.rootdir)

    run = pair_items(
        a,
        b,
        [item.nodeid for item in items],
        args_for,
        watch=sorted(b.redirects),
        changed=revision.changed_files(),
        plan=plan or _against_plan(settings),
        progress=session.progress,
    )
    if revision is session.revision:
        session.pairs.merge(run)
        session.paired_items += len(items)
    return run


def _against_plan(settings: Settings) -> PairPlan:
    """``--aide-against``'s plan: the session's tolerance and ``--aide-against-rounds``."""
    rounds = settings.against_rounds
    return PairPlan(min_rounds=rounds, max_rounds=2 * rounds, tolerance=settings.tolerance)


class Pairing:
    """Pairs the checks in both trees and gives each its estimates (``--aide-against``)."""

    def __init__(self, session: AideSession, revision: Revision) -> None:
        self.session = session
        self.revision = revision

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """Before the tests (serial runs): pair the timed checks, run REV's asv numbers."""
        aide = self.session
        if aide.workerinput is None and not session.config.option.collectonly:
            items = [item for item in session.items if pairs_time(aide, item)]
            if items:
                pair(aide, items, self.revision)
            self._track([item for item in session.items if _tracks(item)])
        return (yield)

    def _track(self, items: list[pytest.Item]) -> None:
        """Run ``items`` once in REV's tree, for the numbers they yield there."""
        tracked = self.session.tracked
        assert tracked is not None
        if not items:
            return
        config, settings = self.session.config, self.session.settings
        rev, _ = trees(config, self.revision, items)
        args = worker_args(config, settings, items, rev.rootdir)
        tracked.run(rev, [item.nodeid for item in items], args, self.session.progress)

    def before_verdict(self, item: pytest.Item, check: Check) -> None:
        """Give ``check`` its paired estimates, or say why it has none against REV."""
        label = self.revision.label
        if _tracks(item):
            tracked = self.session.tracked
            assert tracked is not None
            if not tracked.known(item.nodeid):
                self._track([item])  # an xdist worker runs each item as it comes
            tracked.attach(item.nodeid, check)
            return
        if not pairable(self.session, item):
            _not_pairable(item, check, label)
            return
        counted = [r.name for r in check.results if isinstance(r, CountResult)]
        uncounted = check.count_notes or any(n not in check.against_counts for n in counted)
        if not pairs_time(self.session, item) and not uncounted:
            return  # gated on its count, counted in both trees
        pairs = self.session.pairs
        known = {nodeid for nodeid, _ in pairs.points} | set(pairs.missing)
        if item.nodeid not in known:
            pair(self.session, [item], self.revision)  # an xdist worker pairs each as it comes
        self._attach(item, check)

    def _attach(self, item: pytest.Item, check: Check) -> None:
        """Each timing's (and each scaling size's) paired estimate, or why it has none."""
        pairs, label = self.session.pairs, self.revision.label
        points = {p.label: p for p in pairs.for_item(item.nodeid)}
        why = pairs.missing.get(item.nodeid)
        names = [result.name for result in check.timings]
        names += [n for r in check.results if isinstance(r, ScalingResult) for n in r.labels()]
        for name in names:  # a scaling check is paired size by size
            point = points.get(name)
            if point is not None and point.problem and point.problem.startswith("both sides"):
                check.pair_problems.append(f"{check.name}: --aide-against: {point.problem}")
            elif point is not None and point.estimate is not None:
                check.paired[name] = point.estimate
                check.pair_sources[name] = {**point.files, "clock": point.clock}
            else:
                problem = point.problem if point is not None else None
                reason = problem or why or "the worker sessions made no matching call"
                line = f"{name}: not compared against {label}: {reason}"
                # A check or call REV does not have is new: nothing was there to compare.
                new = item.nodeid in pairs.absent or (point is not None and point.one_sided)
                (check.pair_notes if new else check.uncompared).append(line)

    def after_verdict(self, item: pytest.Item, check: Check, verdict: Verdict) -> None:
        """Nothing: the pairs are the verdict's evidence."""

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Remove REV's worktree."""
        self.revision.remove()


def _tracks(item: pytest.Item) -> bool:
    """Whether ``item`` is an asv benchmark whose number REV's tree yields too."""
    return getattr(item, "aide_tracked", False)  # set by asvitems.AsvItem


def _not_pairable(item: pytest.Item, check: Check, label: str) -> None:
    """Why a check that is not run in pairs has no estimate: a note, or never a pass."""
    if declared(item) == "asv":  # asked to compare, and it cannot be: never a pass
        check.uncompared.append(
            f"{check.name}: not compared against {label}: asv timeraw_ benchmarks run in "
            "fresh interpreters, not in pairs; gate this one on a stored baseline"
        )
    elif check.timings:
        check.pair_notes.append(
            f"{check.name}: not compared against {label}: "
            + (
                "load results are not paired"
                if isinstance(item, ScenarioItem)
                else "only aide_timer, benchmark and scenario timings are paired"
            )
        )
