"""Health monitoring: score each component 0..100 and combine them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psutil

__all__ = ["HealthReport", "get_system_health"]


@dataclass
class HealthReport:
    """Overall score and a score (with the raw figure) per component."""

    overall_score: float
    component_health: dict[str, dict[str, float]] = field(default_factory=dict)


def _score(percent: float, healthy_below: float, failed_at: float) -> float:
    """100 up to ``healthy_below``, falling linearly to 0 at ``failed_at``."""
    if percent <= healthy_below:
        return 100.0
    if percent >= failed_at:
        return 0.0
    return 100.0 * (failed_at - percent) / (failed_at - healthy_below)


def get_system_health() -> HealthReport:
    """Score CPU, memory, swap, disk and load of this machine."""
    cores = psutil.cpu_count() or 1
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    figures = {
        "cpu": (psutil.cpu_percent(interval=None), 50.0, 95.0),
        "memory": (psutil.virtual_memory().percent, 60.0, 95.0),
        "swap": (psutil.swap_memory().percent, 10.0, 80.0),
        "disk": (psutil.disk_usage(os.path.abspath(os.sep)).percent, 75.0, 98.0),
        "load": (100.0 * load1 / cores, 70.0, 300.0),
    }
    weights = {"cpu": 0.3, "memory": 0.3, "swap": 0.1, "disk": 0.15, "load": 0.15}
    components = {
        name: {"value": value, "score": _score(value, ok, bad)}
        for name, (value, ok, bad) in figures.items()
    }
    overall = sum(weights[name] * info["score"] for name, info in components.items())
    return HealthReport(overall_score=round(overall, 1), component_health=components)
