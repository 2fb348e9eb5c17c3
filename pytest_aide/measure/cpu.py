"""CPU sampling of the measured process, from a helper process, with psutil.

A sampler thread inside a CPU-bound Python process is starved by the GIL
(measured: 13 of 20 samples a second), so a separate process samples this one
on a fixed schedule: process CPU % (100 = one core; more with threads that
release the GIL), whole-machine CPU % and resident memory. A final sample
covers the part of the last interval before the block ended.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from types import TracebackType
from typing import Any

from pytest_aide.results import CpuResult

__all__ = ["CpuTrace", "CpuUnavailable"]

__tracebackhide__ = True
"""pytest leaves this module's frames out of a failing test's traceback: what the user
sees of a target that raised is the target's own code (``--full-trace`` shows all)."""


class CpuUnavailable(Exception):
    """The sampler could not start (psutil missing, or the process could not be watched)."""


_SAMPLER = r"""
import json, select, sys, time
import psutil
pid, interval = int(sys.argv[1]), float(sys.argv[2])
proc = psutil.Process(pid)
def snap():
    t = proc.cpu_times()
    s = psutil.cpu_times()
    idle = s.idle + getattr(s, "iowait", 0.0)
    return [time.perf_counter(), t.user + t.system, sum(s) - idle, sum(s), proc.memory_info().rss]
rows = [snap()]
print("ready", flush=True)
k = 1
while True:
    wait = max(0.0, rows[0][0] + k * interval - time.perf_counter())
    ready, _, _ = select.select([sys.stdin], [], [], wait)
    rows.append(snap())
    if ready:
        break
    k += 1
print(json.dumps(rows), flush=True)
"""


class CpuTrace:
    """``with CpuTrace("name", interval=0.05) as cpu: ...``; afterwards ``cpu.result``."""

    def __init__(self, name: str, interval: float = 0.05) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self.name = name
        self.interval = interval
        self.result: CpuResult | None = None
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> CpuTrace:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SAMPLER, str(os.getpid()), repr(self.interval)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            error = self._process.communicate()[1].strip().splitlines()
            raise CpuUnavailable(f"CPU sampler did not start: {error[-1] if error else '?'}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._process is not None
        out, err = self._process.communicate("stop\n", timeout=30)
        try:
            rows = json.loads(out.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raise CpuUnavailable(f"CPU sampler failed: {err.strip() or 'no output'}") from None
        # A last interval much shorter than asked would turn one 10 ms tick of
        # cpu_times() into a huge percentage: fold it into the one before.
        if len(rows) > 2 and rows[-1][0] - rows[-2][0] < self.interval / 2:
            del rows[-2]
        process, system, steps = [], [], []
        for before, after in pairwise(rows):
            wall = max(after[0] - before[0], 1e-9)
            steps.append(wall)
            process.append(100.0 * (after[1] - before[1]) / wall)
            total = after[3] - before[3]
            system.append(100.0 * (after[2] - before[2]) / total if total > 0 else 0.0)
        full = steps[:-1] or steps
        self.result = CpuResult(
            self.name,
            samples=process,
            system_samples=system,
            rss_peak_bytes=max(int(row[4]) for row in rows),
            interval=self.interval,
            achieved_interval=sum(full) / len(full) if full else self.interval,
        )

    def _figure(self, attribute: str) -> Any:
        if self.result is None:
            raise RuntimeError(f"aide_cpu: {attribute} is known only after the with block")
        return getattr(self.result, attribute)

    @property
    def samples(self) -> list[float]:
        """Process CPU % per interval."""
        return self._figure("samples")

    @property
    def mean_percent(self) -> float:
        """Mean process CPU % (100 = one core busy)."""
        return self._figure("mean_percent")

    @property
    def max_percent(self) -> float:
        """Highest process CPU % of an interval."""
        return self._figure("max_percent")

    @property
    def system_percent(self) -> float:
        """Mean whole-machine CPU %."""
        return self._figure("system_percent")

    @property
    def rss_peak_bytes(self) -> int:
        """Highest resident set size seen."""
        return self._figure("rss_peak_bytes")

    @property
    def achieved_interval(self) -> float:
        """Mean interval actually achieved between samples, seconds."""
        return self._figure("achieved_interval")
