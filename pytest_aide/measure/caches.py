"""Cache efficiency: hits and misses of ``functools.lru_cache`` wrappers over measured calls.

Anything with a ``cache_info()`` returning ``hits``, ``misses``, ``maxsize``
and ``currsize`` (the ``functools`` shape; cachetools' ``cached`` with
``info=True`` has it too) can be watched. A :class:`CacheWatch` reads every
cache when the measured calls begin and again when they end; the difference
is what those calls did, warmup left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_aide.results import CacheResult, CacheStats
from pytest_aide.targets import TargetError, import_named

__all__ = ["CacheError", "CacheWatch", "WatchedCache", "resolve_caches"]

_FIELDS = ("hits", "misses", "maxsize", "currsize")


class CacheError(ValueError):
    """A cache name that cannot be watched; the message is one line."""


@dataclass(frozen=True)
class WatchedCache:
    """A cache wrapper and the name it is shown by."""

    name: str
    info: Callable[[], Any]
    """Its ``cache_info`` method."""

    def read(self) -> tuple[int, int, int | None, int]:
        """``(hits, misses, maxsize, currsize)`` now."""
        info = self.info()
        return info.hits, info.misses, info.maxsize, info.currsize


def _describe(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def _watched(name: str, obj: object) -> WatchedCache:
    info = getattr(obj, "cache_info", None)
    if not callable(info):
        raise CacheError(
            f"{name!r} is not a cache wrapper: {_describe(obj)} has no cache_info() "
            "(wrap it with functools.lru_cache or functools.cache)"
        )
    try:
        figures = info()
    except Exception as exc:
        raise CacheError(f"{name!r}: cache_info() raised {type(exc).__name__}: {exc}") from None
    missing = [field for field in _FIELDS if not hasattr(figures, field)]
    if missing:
        raise CacheError(
            f"{name!r}: cache_info() returned {type(figures).__name__} without "
            f"{', '.join(missing)} (expected functools' CacheInfo shape)"
        )
    return WatchedCache(name, info)


def resolve_caches(specs: Sequence[object], search_path: Path | None = None) -> list[WatchedCache]:
    """The caches ``specs`` name: ``"pkg.mod:func"`` strings, or the cached functions themselves.

    Raises :class:`CacheError` naming the first one that cannot be watched.
    """
    watched = []
    for spec in specs:
        if isinstance(spec, str):
            try:
                obj = import_named(spec, search_path, "function")
            except TargetError as exc:
                raise CacheError(str(exc)) from None
            watched.append(_watched(spec, obj))
        else:
            module = getattr(spec, "__module__", None)
            name = f"{module}:{_describe(spec)}" if module else _describe(spec)
            watched.append(_watched(name, spec))
    return watched


class CacheWatch:
    """Reads the caches at :meth:`start` and at :meth:`stop`; the difference is the result."""

    def __init__(self, name: str, caches: Sequence[WatchedCache]) -> None:
        self.name = name
        self.caches = list(caches)
        self._before: list[tuple[int, int, int | None, int]] | None = None
        self.result: CacheResult | None = None

    def start(self) -> None:
        """The measured calls begin (call again to restart, e.g. after warmup)."""
        self._before = [cache.read() for cache in self.caches]

    def stop(self) -> CacheResult:
        """The measured calls are over: what they did to each cache."""
        if self._before is None:
            self.start()
        assert self._before is not None
        stats = []
        for cache, (hits, misses, _, _) in zip(self.caches, self._before, strict=True):
            now_hits, now_misses, maxsize, currsize = cache.read()
            # A cache_clear() during the calls resets the counters: count from zero then.
            hits_delta = now_hits - hits if now_hits >= hits else now_hits
            misses_delta = now_misses - misses if now_misses >= misses else now_misses
            stats.append(CacheStats(cache.name, hits_delta, misses_delta, maxsize, currsize))
        self.result = CacheResult(self.name, stats)
        return self.result
