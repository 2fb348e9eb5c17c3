"""pytest-aide: performance expectations as pytest CI gates.

PYTEST_DONT_REWRITE: the plugin is imported before pytest's assertion rewriting
could apply to it and does not rely on rewritten asserts.
"""

from __future__ import annotations

from pytest_aide.check import Check
from pytest_aide.measure.timer import TimingPlan
from pytest_aide.results import (
    CpuResult,
    LoadResult,
    MemoryResult,
    SweepResult,
    TimingResult,
    result_from_dict,
)
from pytest_aide.stats import RatioEstimate
from pytest_aide.units import UnitError, parse_duration, parse_percent, parse_size
from pytest_aide.verdict import THRESHOLD_KEYS, Threshold, ThresholdError, Verdict

__version__ = "0.1.0"

__all__ = [
    "THRESHOLD_KEYS",
    "Check",
    "CpuResult",
    "LoadResult",
    "MemoryResult",
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
]
