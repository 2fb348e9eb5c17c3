"""Benchmarks a suite already declares, measured as aide checks with no configuration.

Two shapes besides aide's own: a test that uses a ``benchmark`` fixture
(pytest-benchmark's, or pytest-codspeed's when pytest-benchmark is absent,
and codspeed's ``codspeed_benchmark``), and a test marked
``@pytest.mark.benchmark`` (pytest-codspeed's marker, also
``codspeed_benchmark``) whose whole body is what is measured.
pytest-benchmark's fixture times its own rounds and aide adopts them;
codspeed's fixture and marked bodies are timed here, as ``aide_timer`` times
a callable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_aide.fixtures import AideTimer

__all__ = [
    "BENCHMARK_FIXTURES",
    "BENCHMARK_MARKERS",
    "CodspeedBenchmark",
    "DeclaredBenchmarks",
    "WholeTest",
    "declared",
]

BENCHMARK_FIXTURES = ("benchmark", "codspeed_benchmark")
"""Fixtures that declare a benchmark: pytest-benchmark's and pytest-codspeed's."""
BENCHMARK_MARKERS = ("benchmark", "codspeed_benchmark")
"""pytest-codspeed's markers of a test measured whole."""
_SWAPPED = pytest.StashKey[dict[str, Any]]()
"""The codspeed fixtures a test's aide stand-ins replace until its teardown."""
KINDS = {
    "fixture": "using a benchmark fixture",
    "marker": "marked @pytest.mark.benchmark",
    "asv": "asv benchmark(s)",
}
"""How the summary names each shape."""


def declared(item: pytest.Item) -> str | None:
    """``fixture``, ``marker`` or ``asv``: how ``item`` is declared a benchmark; None if not.

    A marked test that uses a ``benchmark`` fixture is measured through the
    fixture (pytest-benchmark's marker sets its options, as codspeed's does).
    """
    own = getattr(item, "aide_declared", None)  # an asv benchmark's item says so itself
    if own is not None:
        return str(own)
    if set(BENCHMARK_FIXTURES) & set(getattr(item, "fixturenames", ())):
        return "fixture"
    if isinstance(item, pytest.Function) and any(
        item.get_closest_marker(name) is not None for name in BENCHMARK_MARKERS
    ):
        return "marker"
    return None


def _is_codspeed(fixture: object) -> bool:
    # Its class pretends to be pytest-benchmark's when that is installed; type() does not.
    return type(fixture).__module__.startswith("pytest_codspeed")


class WholeTest(AideTimer):
    """Times a marked test's body as ``aide_timer`` times a callable."""

    fixture = "@pytest.mark.benchmark"


class CodspeedBenchmark:
    """pytest-codspeed's ``benchmark`` fixture, measured by aide under ``--aide-perf``.

    ``benchmark(fn, *args, **kwargs)`` and ``@benchmark`` are timed as
    ``aide_timer`` times a callable (calibrated, warmed up, repeated) and
    return the call's value; ``benchmark.pedantic(...)`` runs exactly the
    rounds, iterations and warm-up rounds asked, with set-up and teardown
    outside the timing, as pytest-benchmark does.
    """

    def __init__(self, timer: AideTimer, original: Any) -> None:
        self._timer = timer
        self._class = original.__class__
        self.extra_info: dict[str, Any] = getattr(original, "extra_info", {})
        """Kept for tests that write to it; aide does not report it."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        # What the original says it is: under --codspeed, pytest-benchmark's fixture class,
        # which pytest-benchmark's report hook insists on finding in funcargs["benchmark"].
        return self._class

    def __call__(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Time ``target(*args, **kwargs)``; return its value."""
        return self._timer.time(target, args, kwargs).value

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple = (),
        kwargs: dict[str, Any] | None = None,
        setup: Callable[[], Any] | None = None,
        teardown: Callable[..., Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
    ) -> Any:
        """Run ``rounds`` timed rounds of ``iterations`` calls after ``warmup_rounds``."""
        for key, value, least in (
            ("rounds", rounds, 1),
            ("iterations", iterations, 1),
            ("warmup_rounds", warmup_rounds, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"benchmark.pedantic: {key} must be an integer >= {least}")
        if setup is not None and iterations > 1:
            raise ValueError("benchmark.pedantic: can't use more than 1 iteration with setup")
        plan = (rounds, iterations, warmup_rounds)
        return self._timer.pedantic(target, tuple(args), dict(kwargs or {}), plan, setup, teardown)


class DeclaredBenchmarks:
    """The plugin object that measures codspeed-style benchmarks under ``--aide-perf``.

    ``timer_for`` builds the timer a check's calls go through (its plan, its
    pair server); ``is_check`` says whether aide gates the item.
    """

    def __init__(
        self,
        timer_for: Callable[[pytest.Item, type[AideTimer]], AideTimer],
        is_check: Callable[[pytest.Item], bool],
    ) -> None:
        self._timer_for = timer_for
        self._is_check = is_check

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """Time the whole body of a marked test (set-up and teardown are not in it)."""
        if declared(pyfuncitem) != "marker" or not self._is_check(pyfuncitem):
            return None
        funcargs = pyfuncitem.funcargs
        testargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        timer = self._timer_for(pyfuncitem, WholeTest)
        if timer.check.timings:
            # Timed already in this run of the test: pytest-codspeed (--codspeed) runs the
            # body round after round itself, and its rounds are its own to time.
            pyfuncitem.obj(**testargs)
        else:
            timer.time(pyfuncitem.obj, (), testargs)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """Let aide time the calls made through pytest-codspeed's fixture.

        Until teardown: a confirmation or a profile runs the test again after the call.
        """
        funcargs = getattr(item, "funcargs", {})
        swapped = {
            name: funcargs[name]
            for name in BENCHMARK_FIXTURES
            if name in funcargs and _is_codspeed(funcargs[name])
        }
        if not swapped or not self._is_check(item):
            return
        timer = self._timer_for(item, AideTimer)
        for name, original in swapped.items():
            funcargs[name] = CodspeedBenchmark(timer, original)
        item.stash[_SWAPPED] = swapped

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        """Give the test its own fixtures back."""
        swapped = item.stash.get(_SWAPPED, None)
        if swapped:
            getattr(item, "funcargs", {}).update(swapped)
            del item.stash[_SWAPPED]
