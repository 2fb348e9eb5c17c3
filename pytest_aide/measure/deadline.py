"""Stop a check that runs past its timeout, and let the session go on.

In the main thread (where pytest and xdist workers run tests) an interval
timer delivers ``SIGALRM`` and its handler raises :class:`CheckTimeout`, which
interrupts sleeps, lock waits, ``select`` and pure-Python loops. Elsewhere (no
``SIGALRM``, or another thread) the exception is set asynchronously on the
measuring thread, which stops pure-Python code but not a blocking call.
Code stuck inside a C call that never returns to the interpreter cannot be
stopped in-process by either means.

:class:`CheckTimeout` derives from ``BaseException`` so that a target's (or
the load driver's) ``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CheckTimeout", "deadline"]

__tracebackhide__ = True
"""pytest leaves this module's frames out of a failing test's traceback: what the user
sees of a target that raised is the target's own code (``--full-trace`` shows all)."""


class CheckTimeout(BaseException):
    """Raised inside a check that ran past its timeout."""

    limit: float = 0.0
    """The timeout, seconds."""

    def __init__(self, limit: float | None = None) -> None:
        if limit is not None:
            self.limit = limit
        super().__init__(f"timed out after {self.limit:g} s")


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in this thread if the block runs longer than ``seconds``."""
    if seconds is None:
        yield
    elif hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        with _alarm(seconds):
            yield
    else:
        with _async_raise(seconds):
            yield


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise CheckTimeout(seconds)

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # someone else's alarm (pytest-timeout's, say) was pending: put it back
            left = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6))


@contextmanager
def _async_raise(seconds: float) -> Iterator[None]:
    target = threading.get_ident()
    expired = type("CheckTimeout", (CheckTimeout,), {"limit": seconds})
    finished = threading.Event()

    def expire() -> None:
        if not finished.wait(seconds):
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(target), ctypes.py_object(expired)
            )

    watcher = threading.Thread(target=expire, name="aide-timeout", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        watcher.join()
        # An exception set just as the block ended is not delivered later, elsewhere.
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)
