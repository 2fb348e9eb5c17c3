"""What machine a measurement was taken on, and a fingerprint to tell machines apart."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from functools import cache
from importlib import metadata
from typing import Any

__all__ = [
    "SystemMeter",
    "busy_warning",
    "count_slug",
    "fingerprint",
    "machine_info",
    "machine_slug",
]

_PACKAGES = ("pytest-aide", "pytest", "pytest-asyncio", "psutil", "memray", "pytest-benchmark")
_FINGERPRINT_KEYS = ("cpu", "cores", "arch", "os", "implementation", "python_minor")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``packages``, from one scan of the installed distributions."""
    wanted = {name.lower(): name for name in packages}
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-")
        if name in wanted and wanted[name] not in found:
            found[wanted[name]] = dist.version
    return dict(sorted(found.items()))


@cache
def machine_info() -> dict[str, Any]:
    """CPU model, cores, OS, Python and package versions of this machine."""
    python_minor = ".".join(platform.python_version_tuple()[:2])
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 1,
        "arch": platform.machine(),
        "os": platform.system(),
        "os_release": platform.release(),
        "implementation": platform.python_implementation(),
        "python": platform.python_version(),
        "python_minor": python_minor,
        "packages": _versions(_PACKAGES),
    }


def fingerprint(info: dict[str, Any]) -> str:
    """Stable hash of what makes timings comparable: CPU, cores, OS, Python minor version.

    Host names, kernel patch levels and package versions are left out: they
    change without making a machine slower or faster in a way worth refusing.
    """
    key = {name: info.get(name) for name in _FINGERPRINT_KEYS}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def machine_slug(info: dict[str, Any]) -> str:
    """Readable directory name for a machine, e.g. ``linux-x86_64-2cpu-cpython3.11-1a2b3c4d``."""
    parts = (
        str(info.get("os", "")).lower(),
        str(info.get("arch", "")).lower(),
        f"{info.get('cores', 0)}cpu",
        f"{str(info.get('implementation', '')).lower()}{info.get('python_minor', '')}",
        fingerprint(info)[:8],
    )
    return re.sub(r"[^a-z0-9._-]+", "_", "-".join(parts))


def count_slug(info: dict[str, Any], measure: str, valgrind_major: str) -> str:
    """Directory name for count baselines: ``instructions-linux-x86_64-cpython3.11.7-valgrind-3``.

    A count does not depend on the CPU model or the cores, only on the code
    executed: the architecture, the Python build's version and valgrind's.
    """
    parts = (
        measure,
        str(info.get("os", "")).lower(),
        str(info.get("arch", "")).lower(),
        f"{str(info.get('implementation', '')).lower()}{info.get('python', '')}",
        valgrind_major,
    )
    return re.sub(r"[^a-z0-9._-]+", "_", "-".join(parts))


BUSY_CPU_PERCENT = 50.0
"""System CPU % before measuring above which the summary warns that figures may be slow."""


def _cpu_counters() -> tuple[float, float, float]:
    import psutil

    system = psutil.cpu_times()
    idle = system.idle + getattr(system, "iowait", 0.0)
    own = psutil.Process().cpu_times()
    return sum(system) - idle, sum(system), own.user + own.system


class SystemMeter:
    """Snapshots of the machine; each one's CPU % covers the time since the one before."""

    def __init__(self) -> None:
        self._last = _cpu_counters()

    def snapshot(self) -> dict[str, float]:
        """Other processes' CPU %, memory %, disk % and 1-minute load of this machine.

        ``cpu_percent`` is the machine's busy time since this meter was made (or
        since the previous snapshot) minus this process's own, as a share of all
        cores: the load that competes with the measurements. Never sleeps.
        """
        import psutil

        now = _cpu_counters()
        busy, total, own = (a - b for a, b in zip(now, self._last, strict=True))
        self._last = now
        others = 100.0 * max(busy - own, 0.0) / total if total > 0 else 0.0
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        return {
            "cpu_percent": others,
            "memory_percent": float(psutil.virtual_memory().percent),
            "disk_percent": float(psutil.disk_usage(os.path.abspath(os.sep)).percent),
            "load_1min": float(load),
            "cpus": float(os.cpu_count() or 1),
        }


def busy_warning(snapshot: dict[str, float]) -> str | None:
    """A warning when the machine was already busy before measuring, else None."""
    if snapshot.get("cpu_percent", 0.0) > BUSY_CPU_PERCENT:
        return (
            f"the machine was already busy before measuring (other processes used "
            f"{snapshot['cpu_percent']:.0f}% of the CPUs > {BUSY_CPU_PERCENT:.0f}%): timings "
            "may be slower than usual"
        )
    return None
