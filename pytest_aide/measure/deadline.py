"""Stop a check that runs past its timeout, and let the session go on.

In the main thread (where pytest and xdist workers run tests) an interval
timer delivers ``SIGALRM`` and its handler raises :class:`CheckTimeout`, which
interrupts sleeps, lock waits, ``select`` and pure-Python loops.

A target can defeat that signal: install its own ``SIGALRM`` handler, call
``signal.alarm(0)``, block the signal, or sit in C code. So a watchdog thread,
outside the signal path, watches every deadline too. A grace period after the
limit (:func:`grace_for`) it prints the target's stack and sets
:class:`CheckTimeout` asynchronously on the target's thread, which stops
pure-Python code; off the main thread this is the only means, used at the
limit itself. If the target still has not returned a grace period later, the
watchdog hands the stack to ``on_stuck`` (the session writes its reports and
ends). Code holding the GIL in C never lets the watchdog run: a last
backstop, ``faulthandler``'s own C thread, dumps every stack and exits.

:class:`CheckTimeout` derives from ``BaseException`` so that a target's (or
the load driver's) ``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["CheckTimeout", "Stuck", "deadline", "grace_for"]

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


Stuck = Callable[[str], None]
"""Called by the watchdog, with the target's stack, when the target does not return."""

BACKSTOP = 10.0
"""Seconds after the watchdog gave up before ``faulthandler`` ends the process."""


def grace_for(seconds: float) -> float:
    """How long after a missed deadline the watchdog steps in, and again before giving up."""
    return min(5.0, max(1.0, 0.1 * seconds))


@contextmanager
def deadline(seconds: float | None, on_stuck: Stuck | None = None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in this thread if the block runs longer than ``seconds``.

    ``on_stuck`` is called (from another thread) with the target's stack if the
    block has not returned two grace periods after the limit.
    """
    if seconds is None:
        yield
    elif hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        with _watchdog(seconds, seconds + grace_for(seconds), on_stuck), _alarm(seconds):
            yield
    else:
        with _watchdog(seconds, seconds, on_stuck):
            yield


_HARNESS = tuple(os.sep + name + os.sep for name in ("pytest_aide", "_pytest", "pluggy"))


def _stack(ident: int) -> str:
    """The stack of thread ``ident`` in the user's code, innermost call last.

    Frames of pytest, pluggy, pytest-aide and the interpreter's start-up are
    left out, as pytest leaves them out of a test's traceback.
    """
    frame = sys._current_frames().get(ident)
    if frame is None:
        return ""
    frames = [
        entry
        for entry in traceback.extract_stack(frame)
        if not any(part in entry.filename for part in _HARNESS)
        and not entry.filename.startswith("<frozen")
        and not entry.filename.endswith(os.path.join("pytest", "__main__.py"))
    ]
    return "".join(traceback.format_list(frames))


def _raise_in(ident: int, exception: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exception))


@contextmanager
def _backstop(seconds: float) -> Iterator[None]:
    """``faulthandler`` dumps every stack and exits after ``seconds``: it needs no GIL."""
    stream = sys.__stderr__
    try:
        faulthandler.dump_traceback_later(seconds, exit=True, file=stream)  # type: ignore[arg-type]
    except (AttributeError, OSError, ValueError, RuntimeError):
        yield  # no usable stderr: go without
        return
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@contextmanager
def _watchdog(seconds: float, first: float, on_stuck: Stuck | None) -> Iterator[None]:
    """A thread that stops the block ``first`` seconds in and gives up a grace period later.

    The block's end is signalled by releasing a lock: one C call, which an
    exception set asynchronously cannot split. Such an exception is never
    cleared afterwards (on CPython 3.11 clearing one that was already
    delivered leaves the eval breaker on for good, and a profiled call then
    never returns): one that arrives as the block ends fails it as timed out,
    which it nearly was.
    """
    target = threading.get_ident()
    expired = type("CheckTimeout", (CheckTimeout,), {"limit": seconds})
    finished = threading.Lock()
    finished.acquire()
    grace = grace_for(seconds)

    def watch() -> None:
        if finished.acquire(timeout=first):
            return
        stack = _stack(target)
        if first > seconds:  # the signal did not stop it: say where it was
            with contextlib.suppress(Exception):
                sys.stderr.write(
                    f"aide: the check did not stop at its timeout ({seconds:g} s); "
                    f"its stack:\n{stack}"
                )
        _raise_in(target, expired)
        if finished.acquire(timeout=grace) or on_stuck is None:
            return
        on_stuck(_stack(target) or stack)

    watcher = threading.Thread(target=watch, name="aide-timeout", daemon=True)
    main = threading.current_thread() is threading.main_thread()
    with _backstop(first + 2 * grace + BACKSTOP) if main else contextlib.nullcontext():
        watcher.start()
        try:
            yield
        finally:
            finished.release()
            watcher.join()


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
