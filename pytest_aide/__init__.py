"""pytest-aide: performance expectations as pytest CI gates.

PYTEST_DONT_REWRITE: the plugin is imported before pytest's assertion rewriting
could apply to it and does not rely on rewritten asserts.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Check": "pytest_aide.check",
    "TimingPlan": "pytest_aide.measure.timer",
    "CacheResult": "pytest_aide.results",
    "CpuResult": "pytest_aide.results",
    "HttpResult": "pytest_aide.results",
    "LoadResult": "pytest_aide.results",
    "MemoryResult": "pytest_aide.results",
    "QueryResult": "pytest_aide.results",
    "SweepResult": "pytest_aide.results",
    "TimingResult": "pytest_aide.results",
    "result_from_dict": "pytest_aide.results",
    "RatioEstimate": "pytest_aide.stats",
    "UnitError": "pytest_aide.units",
    "parse_duration": "pytest_aide.units",
    "parse_percent": "pytest_aide.units",
    "parse_size": "pytest_aide.units",
    "THRESHOLD_KEYS": "pytest_aide.verdict",
    "Threshold": "pytest_aide.verdict",
    "ThresholdError": "pytest_aide.verdict",
    "Verdict": "pytest_aide.verdict",
    "solo_clock": "pytest_aide.measure.solo",
}
"""The public names, imported on first use: importing one submodule loads no other."""


def __getattr__(name: str) -> Any:
    """Load a public name from its module when it is first asked for."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pytest_aide' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "THRESHOLD_KEYS",
    "CacheResult",
    "Check",
    "CpuResult",
    "HttpResult",
    "LoadResult",
    "MemoryResult",
    "QueryResult",
    "RatioEstimate",
    "SweepResult",
    "Threshold",
    "ThresholdError",
    "TimingPlan",
    "TimingResult",
    "UnitError",
    "Verdict",
    "__version__",
    "parse_duration",
    "parse_percent",
    "parse_size",
    "result_from_dict",
    "solo_clock",
]
