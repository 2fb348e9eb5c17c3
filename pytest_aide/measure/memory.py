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
from pathlib import Path
from types import TracebackType
from typing import Any

from pytest_aide.results import MemoryResult

__all__ = ["MemoryConflict", "MemoryTrace", "MemoryUnavailable"]

_TOP_SITES = 5


class MemoryUnavailable(Exception):
    """memray cannot be imported here; memory checks cannot run."""


class MemoryConflict(Exception):
    """Another memray Tracker is already active in this process."""


def _mode(python_allocators: bool, native: bool) -> str:
    seen = "every Python allocation" if python_allocators else "pymalloc as 1 MiB arenas"
    return f"memray: {seen}" + (", native stacks" if native else "")


class MemoryTrace:
    """``with MemoryTrace("name") as mem: ...``; afterwards ``mem.result`` and its figures."""

    def __init__(
        self,
        name: str,
        *,
        python_allocators: bool = False,
        native: bool = False,
        keep_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.python_allocators = python_allocators
        self.native = native
        self.keep_dir = keep_dir
        self.result: MemoryResult | None = None
        self._tracker: Any = None
        self._dir: Path | None = None

    def __enter__(self) -> MemoryTrace:
        try:
            import memray
        except ImportError as exc:
            raise MemoryUnavailable(f"memray cannot be imported ({exc})") from None
        self._dir = Path(tempfile.mkdtemp(prefix="aide-memray-", dir=self.keep_dir))
        self._path = self._dir / f"{''.join(c if c.isalnum() else '_' for c in self.name)}.bin"
        self._tracker = memray.Tracker(
            destination=memray.FileDestination(str(self._path), overwrite=True),
            native_traces=self.native,
            trace_python_allocators=self.python_allocators,
            file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS,
        )
        try:
            self._tracker.__enter__()
        except RuntimeError as exc:
            shutil.rmtree(self._dir, ignore_errors=True)
            if "one Tracker" in str(exc):
                raise MemoryConflict(
                    "another memray Tracker is already active in this process (pytest-memray's "
                    "--memray?), and memray allows only one: run aide's memory checks without "
                    "--memray, or deselect them with -k when using --memray"
                ) from None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import memray

        collected = gc.collect()
        self._tracker.__exit__(exc_type, exc, tb)
        assert self._dir is not None
        try:
            reader = memray.FileReader(str(self._path))
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
            self.result = MemoryResult(
                self.name,
                peak_bytes=int(reader.metadata.peak_memory),
                allocations=int(reader.metadata.total_allocations),
                leaked_bytes=int(leaked),
                gc_collected=collected,
                top_sites=sites,
                mode=_mode(self.python_allocators, self.native),
                trace_path=str(self._path) if self.keep_dir is not None else None,
            )
        finally:
            if self.keep_dir is None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def _figure(self, attribute: str) -> Any:
        if self.result is None:
            raise RuntimeError(f"aide_memory: {attribute} is known only after the with block")
        return getattr(self.result, attribute)

    @property
    def peak_bytes(self) -> int:
        """High-water mark of memory allocated in the block."""
        return self._figure("peak_bytes")

    @property
    def allocations(self) -> int:
        """Allocations recorded in the block."""
        return self._figure("allocations")

    @property
    def leaked_bytes(self) -> int:
        """Bytes allocated in the block and still held at its end."""
        return self._figure("leaked_bytes")

    @property
    def gc_collected(self) -> int:
        """Objects the closing ``gc.collect()`` freed."""
        return self._figure("gc_collected")

    @property
    def top_sites(self) -> list[dict[str, Any]]:
        """Largest allocation sites at the peak."""
        return self._figure("top_sites")
