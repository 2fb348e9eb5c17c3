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

__all__ = ["fingerprint", "machine_info", "machine_slug"]

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
