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
from types import TracebackType
from typing import Any

from pytest_aide.results import CpuResult

__all__ = ["CpuTrace", "CpuUnavailable"]


class CpuUnavailable(Exception):
    """The sampler could not start (psutil missing, or the process could not be watched)."""


_SAMPLER = r"""
import json, os, select, sys, time
import psutil
pid, interval = int(sys.argv[1]), float(sys.argv[2])
proc = psutil.Process(pid)
proc.cpu_percent(None)
psutil.cpu_percent(None)
times, cpu, system, rss_peak = [], [], [], proc.memory_info().rss
start = time.perf_counter()
print("ready", flush=True)
k = 1
while True:
    wait = max(0.0, start + k * interval - time.perf_counter())
    ready, _, _ = select.select([sys.stdin], [], [], wait)
    now = time.perf_counter()
    cpu.append(proc.cpu_percent(None))
    system.append(psutil.cpu_percent(None))
    rss_peak = max(rss_peak, proc.memory_info().rss)
    times.append(now - start)
    if ready:
        break
    k += 1
print(json.dumps({"times": times, "cpu": cpu, "system": system, "rss_peak": rss_peak}),
      flush=True)
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
            data = json.loads(out.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raise CpuUnavailable(f"CPU sampler failed: {err.strip() or 'no output'}") from None
        times = data["times"]
        steps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
        full = steps[:-1] or steps
        self.result = CpuResult(
            self.name,
            samples=data["cpu"],
            system_samples=data["system"],
            rss_peak_bytes=int(data["rss_peak"]),
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
