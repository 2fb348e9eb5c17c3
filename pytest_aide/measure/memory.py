"""Memory tracing with memray: peak, allocations, leaks and top allocation sites.

Two memray modes, and the result says which one produced its figures:

- default: Python's small-object allocator (pymalloc) is seen as 1 MiB arenas,
  so small objects are invisible one by one (slowdown about 1.05x);
- ``python_allocators=True``: every Python object allocation is seen (about 2.2x).

``gc.collect()`` runs at the end of the traced block, so garbage that a
collection frees is not reported as leaked; its count is ``gc_collected``.
Only one memray Tracker may run per process; a second one (for example under
pytest-memray's ``--memray``) is reported as :class:`MemoryConflict`.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from pytest_aide.results import MemoryResult

__all__ = ["MemoryConflict", "MemoryTrace", "MemoryUnavailable"]

__tracebackhide__ = True
"""pytest leaves this module's frames out of a failing test's traceback: what the user
sees of a target that raised is the target's own code (``--full-trace`` shows all)."""

_TOP_SITES = 5


class MemoryUnavailable(Exception):
    """memray cannot be imported here; memory checks cannot run."""


class MemoryConflict(Exception):
    """Another memray Tracker is already active in this process."""


def _mode(python_allocators: bool, native: bool) -> str:
    seen = "every Python allocation" if python_allocators else "pymalloc as 1 MiB arenas"
    return f"memray: {seen}" + (", native stacks" if native else "")


def _probe(memray: Any, directory: Path) -> None:
    """Fail clearly if a Tracker is already active: the real one is entered by the caller."""
    probe = memray.Tracker(str(directory / "probe.bin"))
    try:
        probe.__enter__()
    except RuntimeError as exc:
        if "one Tracker" in str(exc):
            raise MemoryConflict(
                "another memray Tracker is already active in this process (pytest-memray's "
                "--memray?), and memray allows only one: run aide's memory checks without "
                "--memray, or deselect them with -k when using --memray"
            ) from None
        raise
    probe.__exit__(None, None, None)
    (directory / "probe.bin").unlink(missing_ok=True)


def MemoryTrace(
    name: str,
    *,
    python_allocators: bool = False,
    native: bool = False,
    keep_dir: Path | None = None,
    on_result: Callable[[MemoryResult], None] | None = None,
) -> Any:
    """A memray Tracker for ``with``; afterwards ``mem.result`` and its figures.

    The object *is* a ``memray.Tracker`` (a subclass that only adds the read-back
    on exit), so the caller's own ``with`` starts tracking: memray sees the
    caller's frame and names it in ``top_sites``; started from a helper's
    ``__enter__``, it would lose that frame.
    """
    try:
        import memray
    except ImportError as exc:
        raise MemoryUnavailable(f"memray cannot be imported ({exc})") from None
    directory = Path(tempfile.mkdtemp(prefix="aide-memray-", dir=keep_dir))
    try:
        _probe(memray, directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    path = directory / f"{''.join(c if c.isalnum() else '_' for c in name)}.bin"
    trace = _tracker_class(memray)(
        destination=memray.FileDestination(str(path), overwrite=True),
        native_traces=native,
        trace_python_allocators=python_allocators,
        # The aggregated format would be smaller, but its metadata counts aggregated
        # records (93 for a diagnosis that makes 31,993 allocations), not allocations.
        file_format=memray.FileFormat.ALL_ALLOCATIONS,
    )
    trace.setup(name, path, _mode(python_allocators, native), keep_dir is not None, on_result)
    return trace


@cache
def _tracker_class(memray: Any) -> type:
    class _Traced(memray.Tracker):  # type: ignore[misc, name-defined]
        """memray's Tracker, reading its figures back when the block ends."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass  # memray's __cinit__ takes the arguments

        def setup(
            self,
            name: str,
            path: Path,
            mode: str,
            keep: bool,
            on_result: Callable[[MemoryResult], None] | None,
        ) -> None:
            self.name, self._path, self._mode, self._keep = name, path, mode, keep
            self._on_result = on_result
            self.result: MemoryResult | None = None

        def __exit__(self, *exc_info: Any) -> None:
            collected = gc.collect()
            super().__exit__(*exc_info)
            try:
                self.result = _read(memray, self.name, self._path, self._mode, collected)
                if self._keep:
                    self.result.trace_path = str(self._path)
            finally:
                if not self._keep:
                    shutil.rmtree(self._path.parent, ignore_errors=True)
            if self._on_result is not None and exc_info[0] is None:
                self._on_result(self.result)

        def _figure(self, attribute: str) -> Any:
            if self.result is None:
                raise RuntimeError(f"aide_memory: {attribute} is known only after the with block")
            return getattr(self.result, attribute)

        peak_bytes = property(lambda self: self._figure("peak_bytes"), doc="Peak bytes.")
        allocations = property(lambda self: self._figure("allocations"), doc="Allocations.")
        leaked_bytes = property(lambda self: self._figure("leaked_bytes"), doc="Bytes held.")
        gc_collected = property(lambda self: self._figure("gc_collected"), doc="gc freed.")
        top_sites = property(lambda self: self._figure("top_sites"), doc="Top sites.")

    return _Traced


def _read(memray: Any, name: str, path: Path, mode: str, collected: int) -> MemoryResult:
    reader = memray.FileReader(str(path))
    leaked = sum(r.size for r in reader.get_leaked_allocation_records(merge_threads=True))
    peak_records = reader.get_high_watermark_allocation_records(merge_threads=True)
    sites = []
    for record in sorted(peak_records, key=lambda r: r.size, reverse=True)[:_TOP_SITES]:
        frames = record.stack_trace()
        function, file, line = frames[0] if frames else ("?", "?", 0)
        sites.append(
            {
                "function": function,
                "file": file,
                "line": line,
                "bytes": record.size,
                "count": record.n_allocations,
            }
        )
    return MemoryResult(
        name,
        peak_bytes=int(reader.metadata.peak_memory),
        allocations=int(reader.metadata.total_allocations),
        leaked_bytes=int(leaked),
        gc_collected=collected,
        top_sites=sites,
        mode=mode,
    )
