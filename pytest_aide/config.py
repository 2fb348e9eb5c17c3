"""Settings read from the command line and ini file (no pytest import)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = ["Settings", "non_negative_int", "positive_int"]


def _whole(text: str, minimum: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid count {text!r}: expected a whole number >= {minimum}"
        ) from None
    if value < minimum:
        raise argparse.ArgumentTypeError(
            f"invalid count {text!r}: expected a whole number >= {minimum}"
        )
    return value


def positive_int(text: str) -> int:
    """Parse a count of at least 1 (``--aide-iterations``)."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """Parse a count of at least 0 (``--aide-warmup``)."""
    return _whole(text, 0)


@dataclass(frozen=True)
class Settings:
    """The options in force for this session."""

    perf: bool = False
    """``--aide-perf``: measure fully and enforce limits; otherwise smoke-run once."""
    iterations: int | None = None
    """``--aide-iterations``: overrides every check's iteration count."""
    warmup: int | None = None
    """``--aide-warmup``: overrides every check's warmup count."""
    scenario_dirs: tuple[str, ...] = ("scenarios",)
    """Directories, relative to the rootdir, whose TOML files are scenario files."""
