"""The objects behind aide's fixtures; they record results into a check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pytest_aide.check import Check
from pytest_aide.measure.timer import TimingPlan, measure, measure_async
from pytest_aide.results import TimingResult
from pytest_aide.stats import RatioEstimate

__all__ = ["AideTimer"]

MeasureAgainst = Callable[
    [Callable[..., Any], tuple, dict, str], tuple[TimingResult, RatioEstimate]
]
"""Measures a callable here and at ``--aide-against``'s revision, interleaved."""


class AideTimer:
    """Times callables for one test: ``aide_timer(fn, *args, iterations=10, warmup=2)``.

    Without ``--aide-perf`` the callable runs exactly once and the result holds
    that single call. Keyword arguments other than ``iterations``, ``warmup``,
    ``name`` and ``gc`` are passed to ``fn``.
    """

    def __init__(
        self,
        check: Check,
        plan: Callable[[int, int, bool], TimingPlan],
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
        against: MeasureAgainst | None = None,
    ) -> None:
        self._check = check
        self._plan = plan
        self._loop_factory = loop_factory
        self._against = against

    def _prepare(
        self, iterations: int, warmup: int, name: str | None, gc: bool
    ) -> tuple[TimingPlan, str]:
        return self._plan(iterations, warmup, gc), name or self._check.next_result_name()

    def _record(self, result: TimingResult) -> TimingResult:
        self._check.results.append(result)
        return result

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        iterations: int = 10,
        warmup: int = 2,
        name: str | None = None,
        gc: bool = True,
        **kwargs: Any,
    ) -> TimingResult:
        """Time ``fn(*args, **kwargs)``; coroutine functions run on a new event loop."""
        plan, label = self._prepare(iterations, warmup, name, gc)
        if self._against is not None and not plan.smoke:
            result, estimate = self._against(fn, args, kwargs, label)
            self._check.paired[label] = estimate
            return self._record(result)
        return self._record(
            measure(fn, args, kwargs, name=label, plan=plan, loop_factory=self._loop_factory)
        )

    async def async_(
        self,
        fn: Callable[..., Any],
        *args: Any,
        iterations: int = 10,
        warmup: int = 2,
        name: str | None = None,
        gc: bool = True,
        **kwargs: Any,
    ) -> TimingResult:
        """Time ``fn`` on the running loop, from an async test: ``await aide_timer.async_(fn)``."""
        plan, label = self._prepare(iterations, warmup, name, gc)
        if self._against is not None and not plan.smoke:
            result, estimate = await asyncio.to_thread(self._against, fn, args, kwargs, label)
            self._check.paired[label] = estimate
            return self._record(result)
        return self._record(await measure_async(fn, args, kwargs, name=label, plan=plan))
