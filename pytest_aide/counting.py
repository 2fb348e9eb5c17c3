"""The session's instruction counts: which checks are counted, the worker runs, the results.

A check measures ``time`` unless its marker keyword or scenario key
``measure``, or ``--aide-measure``, says ``instructions`` or ``cycles``. The
counted checks run once more, before the tests, in a worker session under
valgrind (:func:`pytest_aide.measure.counts.count_items`); each check's
timings then get a :class:`~pytest_aide.results.CountResult` beside them.
Knows nothing of pytest.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_aide.check import Check
from pytest_aide.countcache import CountCache
from pytest_aide.measure import attribution
from pytest_aide.measure.attribution import FunctionCount
from pytest_aide.measure.counts import (
    CountError,
    CountRun,
    Valgrind,
    count_items,
    find_valgrind,
)
from pytest_aide.measure.pair import Tree
from pytest_aide.measure.system import count_slug
from pytest_aide.results import CountResult, ScalingResult

__all__ = ["COUNTED", "Counting"]

COUNTED = ("instructions", "cycles")
"""Measures that valgrind counts."""


class Counting:
    """Counts of this session's counted checks, by node id and measured call."""

    def __init__(self, valgrind: str, keep_dir: Path | None) -> None:
        self.valgrind_name = valgrind
        self.keep_dir = keep_dir
        """Where callgrind outputs are kept (``--aide-keep-traces``), else None."""
        self.runs: dict[str, CountRun] = {}
        self.measures: dict[str, str] = {}
        """Node id -> the measure its check asked for."""
        self.problem: str | None = None
        self._valgrind: Valgrind | None = None
        self._kept: set[Path] = set()
        self.elapsed = 0.0
        self.functions: dict[tuple[str, str], list[FunctionCount]] = {}
        """(node id, result name) -> instructions per Python function, from a count made
        with the perf trampoline (:meth:`attribute`); counts that gate are made without."""
        self._trees: dict[str, tuple[Tree, list[str]]] = {}
        """Node id -> the tree and worker arguments it was counted with."""
        self.cache: tuple[Path, str, Path] | None = None
        """(cache directory, commit, checkout) when the counted tree is a clean checkout
        of that commit, whose counts are kept between sessions (:mod:`.countcache`)."""
        self.cached: list[str] = []
        """Node ids whose counts were read from the cache."""

    @property
    def version(self) -> str:
        """The version of the valgrind that counted ("" before it was found)."""
        return self._valgrind.version if self._valgrind else ""

    def slugs(self, machine: dict[str, Any]) -> dict[str, str]:
        """Measure -> the directory of this machine's count baselines (none before counting)."""
        if self._valgrind is None:
            return {}
        return {m: count_slug(machine, m, self._valgrind.major) for m in COUNTED}

    def count(
        self,
        tree: Tree,
        wanted: dict[str, str],
        args: Sequence[str],
        progress: Callable[[str], None] | None = None,
        by_function: bool = False,
    ) -> None:
        """Count the measured calls of ``wanted`` (node id -> measure) in one worker per measure.

        With ``by_function`` they are also counted once more per Python
        function (:meth:`attribute`), for a saved baseline to keep.
        """
        self.measures.update(wanted)
        for nodeid in wanted:
            self._trees[nodeid] = (tree, list(args))
        if self.problem is not None:
            return
        try:
            valgrind = self._valgrind = self._valgrind or find_valgrind(self.valgrind_name)
        except CountError as exc:
            self.problem = str(exc)
            return
        for measure in COUNTED:
            nodeids = [n for n, m in wanted.items() if m == measure]
            if not nodeids:
                continue
            cache = self._cache(valgrind, measure, args, by_function)
            run = CountRun()
            for nodeid in nodeids:
                found = cache.get(nodeid) if cache is not None else None
                if found is not None:
                    run.counts.update({(nodeid, c.label): c for c in found})
                    self.cached.append(nodeid)
            todo = [n for n in nodeids if not run.for_item(n)]
            if todo:
                made = self._run(valgrind, tree, todo, args, measure, progress, False)
                run.counts.update(made.counts)
                run.missing.update(made.missing)
                run.elapsed = made.elapsed
                for nodeid in todo:
                    if cache is not None:
                        cache.put(nodeid, made.for_item(nodeid))
            for nodeid in nodeids:
                self.runs[nodeid] = run
        if by_function:
            self.attribute(list(wanted), progress)

    def _cache(
        self, valgrind: Valgrind, measure: str, args: Sequence[str], by_function: bool
    ) -> CountCache | None:
        """Where this measure's counts are kept, unless traces are kept or functions counted."""
        if self.cache is None or by_function or self.keep_dir is not None:
            return None
        root, commit, checkout = self.cache
        return CountCache(
            root,
            commit,
            checkout,
            valgrind=valgrind.version,
            measure=measure,
            allocator="malloc",
            args=args,
        )

    def _run(
        self,
        valgrind: Valgrind,
        tree: Tree,
        nodeids: list[str],
        args: Sequence[str],
        measure: str,
        progress: Callable[[str], None] | None,
        by_function: bool,
    ) -> CountRun:
        scratch = Path(tempfile.mkdtemp(prefix="aide-counts-"))
        try:
            run = count_items(
                tree,
                nodeids,
                args,
                valgrind=valgrind,
                out_dir=scratch,
                cycles=measure == "cycles",
                progress=progress,
                by_function=by_function,
            )
            self._keep(run, ".functions" if by_function else "")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self.elapsed += run.elapsed
        return run

    def attribute(
        self, nodeids: list[str], progress: Callable[[str], None] | None = None
    ) -> str | None:
        """Count ``nodeids`` again, per Python function; why not, if they cannot be.

        Needs CPython 3.12 or newer (its perf trampoline). The trampoline makes
        each Python call cost more, so these counts explain and never gate.
        """
        if not attribution.supported():
            return "CPython 3.12 or newer counts them"
        if self.problem is not None or self._valgrind is None:
            return self.problem or "nothing was counted"
        batches: dict[tuple[int, str], list[str]] = {}  # one worker per tree and measure
        for nodeid in nodeids:
            if nodeid in self._trees and nodeid in self.measures:
                key = (id(self._trees[nodeid][0]), self.measures[nodeid])
                batches.setdefault(key, []).append(nodeid)
        for (_, measure), batch in batches.items():
            tree, args = self._trees[batch[0]]
            run = self._run(self._valgrind, tree, batch, args, measure, progress, True)
            for key, count in run.counts.items():
                if count.problem is None and count.functions:
                    self.functions[key] = count.functions
        return None

    def _keep(self, run: CountRun, suffix: str = "") -> None:
        for count in run.counts.values():
            if count.trace is None:
                continue
            if self.keep_dir is None:
                count.trace = None
                continue
            self.keep_dir.mkdir(parents=True, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in count.label)
            kept = self.keep_dir / f"callgrind.{safe}{suffix}.out"
            copies = 1
            while kept in self._kept:  # two checks of one name in different files
                copies += 1
                kept = self.keep_dir / f"callgrind.{safe}-{copies}{suffix}.out"
            self._kept.add(kept)
            shutil.move(count.trace, kept)
            count.trace = str(kept)

    def results(
        self, nodeid: str, names: list[str]
    ) -> tuple[dict[str, CountResult], dict[str, str]]:
        """The counts of ``nodeid``'s results called ``names``, and why the others have none."""
        measure = self.measures.get(nodeid)
        if measure is None:
            return {}, dict.fromkeys(names, "not counted")
        if self.problem is not None:
            return {}, dict.fromkeys(names, self.problem)
        run = self.runs.get(nodeid)
        counts = {c.label: c for c in run.for_item(nodeid)} if run else {}
        why = (run.missing.get(nodeid) if run else None) or "the counting session made no such call"
        found, missing = {}, {}
        for name in names:
            count = counts.get(name)
            if count is None or count.problem is not None:
                missing[name] = count.problem if count is not None and count.problem else why
                continue
            found[name] = CountResult(
                name=name,
                measure=measure,
                instructions=count.instructions,
                calls=count.calls,
                cycles=count.cycles,
                events=dict(count.events),
                valgrind=self.version,
                trace_path=count.trace,
                functions=list(self.functions.get((nodeid, name), [])),
            )
        return found, missing

    def attach(self, nodeid: str, check: Check) -> list[str]:
        """Give ``check`` a count beside each timing; the lines saying what was not counted."""
        if nodeid not in self.measures:
            return []
        if self.problem is not None:
            return [f"{check.name}: not counted ({self.problem}); wall-time limits only"]
        found, missing = self.results(nodeid, [t.name for t in check.timings])
        check.results += found.values()
        lines = [
            f"{name}: not counted ({why}); wall-time limits only" for name, why in missing.items()
        ]
        for index, result in enumerate(check.results):
            if isinstance(result, ScalingResult):
                lines += self._attach_scaling(nodeid, check, index, result)
        return lines

    def _attach_scaling(
        self, nodeid: str, check: Check, index: int, scaling: ScalingResult
    ) -> list[str]:
        """Give a scaling result its count per size, on which its fit then rests."""
        found, missing = self.results(nodeid, scaling.labels())
        if missing:
            label, why = next(iter(missing.items()))
            return [f"{label}: not counted ({why}); the order is fitted on CPU time"]
        counts = [found[label].value for label in scaling.labels()]
        measure = self.measures[nodeid]
        check.results[index] = dataclasses.replace(scaling, counts=counts, measure=measure)
        return []

    def attach_against(self, nodeid: str, check: Check, label: str) -> None:
        """Give ``check`` REV's count of each counted result (this is REV's counting)."""
        names = [r.name for r in check.results if isinstance(r, CountResult)]
        if not names:
            return
        found, missing = self.results(nodeid, names)
        check.against_counts.update(found)
        check.pair_notes += [
            f"{name}: not counted in {label} ({why}); its wall time is compared instead"
            for name, why in missing.items()
        ]
