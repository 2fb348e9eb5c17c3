"""Confirm before failing: a suspected wall-time failure is measured again before it counts.

Pure decisions, no clock: the session measures; :func:`~pytest_aide.verdict.suspicions`
says which failures may be noise; this module says how long to wait before the next
attempt (:meth:`RetryPolicy.delay`, exponential backoff with jitter, as the
guide's retry policy), and whether a suspicion held in every attempt
(:class:`Retrying`). A failure that is not a wall-clock figure (an exception,
memory, a count, a problem) is never retried: it fails at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_aide.units import UnitError, format_duration, hint, parse_duration
from pytest_aide.verdict import Comparison, failure_key

__all__ = [
    "DECIDE_AT",
    "RETRY_KEYS",
    "Attempt",
    "Confirmation",
    "RetryError",
    "RetryPolicy",
    "Retrying",
    "retry_table",
]

RETRY_KEYS = ("max_attempts", "base_delay", "max_delay", "jitter")
"""Keys of a scenario's or marker's ``retry`` table."""

DECIDE_AT = 5
"""Rounds after which a same-job confirmation stops as soon as it is decided (the
interval wholly below or wholly beyond the tolerance). Five paired rounds are the
fewest whose signed-rank interval (their lowest to highest ratio) still covers
more than 93 %; most suspicions on a busy machine are cleared there, at half the
cost of measuring to full precision (``benchmarks/README.md``)."""


class RetryError(ValueError):
    """A ``retry`` table that cannot be used; the message names the key."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how far apart, a suspected failure is measured again."""

    max_attempts: int = 3
    """Measurements in all, the first included; 1 turns confirmation off."""
    base_delay: float = 1.0
    """Seconds before the first re-measurement; each later wait doubles."""
    max_delay: float = 10.0
    """No wait is longer than this."""
    jitter: float = 0.5
    """Each wait is moved by up to this fraction of itself, either way, at random."""

    def delay(self, retry: int, draw: float) -> float:
        """Seconds to wait before re-measurement number ``retry`` (1, 2, ...).

        ``draw`` is a uniform random number in [0, 1): the caller's, so that
        the policy stays a pure function.
        """
        wait = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return max(0.0, min(self.max_delay, wait * (1 + self.jitter * (2 * draw - 1))))

    @classmethod
    def from_mapping(cls, raw: object, default: RetryPolicy) -> RetryPolicy:
        """A policy from a ``retry`` table; keys it leaves out come from ``default``."""
        if not isinstance(raw, Mapping):
            raise RetryError(
                f"expected a table such as {{ max_attempts = 3 }}, got {type(raw).__name__}"
            )
        unknown = sorted(set(raw) - set(RETRY_KEYS))
        if unknown:
            raise RetryError(f"unknown key {unknown[0]!r} ({hint(unknown[0], RETRY_KEYS)})")
        values: dict[str, Any] = {}
        if "max_attempts" in raw:
            attempts = raw["max_attempts"]
            if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
                raise RetryError(
                    f"max_attempts: expected a whole number of at least 1, got {attempts!r}"
                )
            values["max_attempts"] = attempts
        for key in ("base_delay", "max_delay"):
            if key in raw:
                values[key] = _seconds(key, raw[key])
        if "jitter" in raw:
            values["jitter"] = _jitter(raw["jitter"])
        policy = cls(**{**default.__dict__, **values})
        if policy.max_delay < policy.base_delay:
            raise RetryError(
                f"max_delay {format_duration(policy.max_delay)} is shorter than base_delay "
                f"{format_duration(policy.base_delay)}"
            )
        return policy


def retry_table(value: object) -> dict[str, Any]:
    """A marker's or scenario's ``retry`` table, validated (:class:`RetryError` if not)."""
    RetryPolicy.from_mapping(value, RetryPolicy())
    assert isinstance(value, dict)
    return value


def _seconds(key: str, value: object) -> float:
    try:
        seconds = parse_duration(value)
    except UnitError as exc:
        raise RetryError(f"{key}: {exc}") from None
    if seconds > 3600:
        raise RetryError(f"{key}: {format_duration(seconds)} is more than an hour")
    return seconds


def _jitter(value: object) -> float:
    if isinstance(value, bool):
        return 0.5 if value else 0.0
    if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
        raise RetryError(f"jitter: expected true, false or a fraction from 0 to 1, got {value!r}")
    return float(value)


@dataclass
class Attempt:
    """One measurement of a suspected check."""

    number: int
    """1 for the measurement that raised the suspicion."""
    at: float
    """Seconds after the first attempt began."""
    seconds: float
    """How long the attempt took."""
    suspects: dict[str, str] = field(default_factory=dict)
    """What this attempt found beyond its limits: key -> the failure line."""
    raised: str | None = None
    """The exception the target raised in this attempt, if it did."""
    hard: str | None = None
    """A failure this attempt found that is not the machine's noise (memory, a count...)."""

    def summary(self) -> str:
        """``attempt 2 at +3.1 s (1.2 s): mean 2.31 s > 2.00 s``."""
        found = "; ".join(_figure(line) for line in self.suspects.values()) or "within limits"
        if self.raised:
            found = f"raised {self.raised}"
        elif self.hard:
            found += f"; {_figure(self.hard)}"
        return (
            f"attempt {self.number} at +{self.at:.1f} s ({format_duration(self.seconds)}): {found}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain form for ``report.json``."""
        return {
            "number": self.number,
            "at": round(self.at, 3),
            "seconds": round(self.seconds, 6),
            "suspects": dict(self.suspects),
            "raised": self.raised,
            "hard": self.hard,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attempt:
        """Rebuild an attempt from :meth:`to_dict`."""
        return cls(
            int(data["number"]),
            float(data["at"]),
            float(data["seconds"]),
            dict(data.get("suspects") or {}),
            data.get("raised"),
            data.get("hard"),
        )


def _figure(line: str) -> str:
    """A failure line without the check's name in front."""
    return line.split(": ", 1)[1] if ": " in line else line


@dataclass
class Confirmation:
    """How a suspected check was confirmed or cleared, for the verdict and the reports."""

    kind: str
    """``retry`` (measured again) or ``same-job`` (against the baseline's commit)."""
    suspected: dict[str, str]
    """What the first measurement found: key -> line."""
    confirmed: set[str] = field(default_factory=set)
    """Keys broken in every attempt (retry) or regressed in the same job: these fail."""
    attempts: list[Attempt] = field(default_factory=list)
    decided_by: int = 1
    """The attempt that decided: the last one measured."""
    seconds: float = 0.0
    """Time spent confirming, waits included (the first measurement excluded)."""
    against: str | None = None
    """Same job: the label of the baseline's commit measured beside this tree."""
    paired: list[Comparison] = field(default_factory=list)
    """Same job: the paired comparisons that replace the stored ones."""
    stored: list[Comparison] = field(default_factory=list)
    """Same job: the stored comparisons that were suspected."""
    notes: list[str] = field(default_factory=list)
    """Why the same-job route was not taken, if it was not."""

    @property
    def outcome(self) -> str:
        """``confirmed``, ``not confirmed`` or ``raised`` (the target raised in an attempt)."""
        if any(a.raised for a in self.attempts):
            return "raised"
        return "confirmed" if self.confirmed else "not confirmed"

    def lines(self, subject: str) -> list[str]:
        """What the confirmation found, one line per limit suspected (and the attempts)."""
        if self.kind == "same-job":
            return self._same_job_lines(subject)
        spent = f"{len(self.attempts)} attempts, {self.seconds:.1f} s confirming"
        lines = []
        for key, line in self.suspected.items():
            if key in self.confirmed:
                lines.append(f"{_figure(line)}: confirmed in every attempt ({spent})")
            elif self.outcome == "raised":
                lines.append(f"{_figure(line)}: not confirmed: the target raised in a retry")
            else:
                held = sum(1 for a in self.attempts if key in a.suspects)
                lines.append(
                    f"{_figure(line)}: not confirmed (machine noise): broken in {held} of "
                    f"{len(self.attempts)} attempts ({spent})"
                )
        return [f"{subject}: {line}" for line in lines] + [
            f"{subject}:   {a.summary()}" for a in self.attempts
        ]

    def _same_job_lines(self, subject: str) -> list[str]:
        lines = []
        said = {c.subject: f"{c.estimate.percent:+.1f} %" for c in self.stored}
        far = {c.subject for c in self.stored if not _within(c.estimate.ratio, c.tolerance)}
        flagged = {c.subject for c in self.stored if c.status == "regressed"}
        for comparison in self.paired:
            name = comparison.subject
            stored, interval = said.get(name, "?"), _short_change(comparison)
            if failure_key(name, "regression") in self.confirmed:
                lines.append(
                    f"{name}: regressed {interval}: confirmed against {self.against} in "
                    f"the same job (stored baseline said {stored}; {self.seconds:.1f} s confirming)"
                )
            elif name not in flagged and name in said and comparison.status != "undecided":
                found = {"unchanged": "within the tolerance"}.get(comparison.status, "improved")
                band = f"±{comparison.tolerance * 100:g} %"
                why = f"beyond {band}" if name in far else f"too uncertain to rule out {band}"
                lines.append(
                    f"{name}: stored baseline said {stored}, {why}; same job says {interval}: "
                    f"{found} (against {self.against}, {self.seconds:.1f} s confirming)"
                )
            else:
                lines.append(
                    f"{name}: stored baseline said {stored}, same job says {interval}: not "
                    f"confirmed (machine noise; against {self.against}, "
                    f"{self.seconds:.1f} s confirming)"
                )
        return lines or [f"{subject}: same-job confirmation against {self.against} made no call"]

    def to_dict(self) -> dict[str, Any]:
        """Plain form for ``report.json`` (and xdist workers)."""
        return {
            "kind": self.kind,
            "outcome": self.outcome,
            "suspected": dict(self.suspected),
            "confirmed": sorted(self.confirmed),
            "attempts": [a.to_dict() for a in self.attempts],
            "decided_by": self.decided_by,
            "seconds": round(self.seconds, 3),
            "against": self.against,
            "paired": [c.to_dict() for c in self.paired],
            "stored": [c.to_dict() for c in self.stored],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Confirmation:
        """Rebuild a confirmation from :meth:`to_dict`."""
        return cls(
            kind=str(data["kind"]),
            suspected=dict(data["suspected"]),
            confirmed=set(data["confirmed"]),
            attempts=[Attempt.from_dict(a) for a in data["attempts"]],
            decided_by=int(data["decided_by"]),
            seconds=float(data["seconds"]),
            against=data.get("against"),
            paired=[Comparison.from_dict(c) for c in data.get("paired") or []],
            stored=[Comparison.from_dict(c) for c in data.get("stored") or []],
            notes=list(data.get("notes") or []),
        )


def _within(ratio: float, tolerance: float) -> bool:
    return 1.0 / (1.0 + tolerance) <= ratio <= 1.0 + tolerance


def _short_change(comparison: Comparison) -> str:
    e = comparison.estimate
    return f"{e.percent:+.1f} % [{(e.low - 1) * 100:+.1f}, {(e.high - 1) * 100:+.1f}]"


class Retrying:
    """The retry route: which suspicions still hold, and whether to measure again."""

    def __init__(self, policy: RetryPolicy, first: Attempt) -> None:
        self.policy = policy
        self.attempts = [first]
        self.holding = set(first.suspects)
        """Keys broken in every attempt so far."""

    @property
    def done(self) -> bool:
        """No suspicion left, an attempt raised, or every attempt used."""
        last = self.attempts[-1]
        return (
            not self.holding
            or last.raised is not None
            or last.hard is not None
            or len(self.attempts) >= self.policy.max_attempts
        )

    def next_delay(self, draw: float) -> float:
        """Seconds to wait before the next attempt (``draw`` uniform in [0, 1))."""
        return self.policy.delay(len(self.attempts), draw)

    def add(self, attempt: Attempt) -> None:
        """Record the next attempt: a limit stays suspected only if this attempt broke it too."""
        self.attempts.append(attempt)
        self.holding &= set(attempt.suspects)

    def result(self, seconds: float) -> Confirmation:
        """The confirmation: keys broken in every attempt are confirmed."""
        raised = self.attempts[-1].raised is not None
        return Confirmation(
            kind="retry",
            suspected=dict(self.attempts[0].suspects),
            confirmed=set() if raised else set(self.holding),
            attempts=list(self.attempts),
            decided_by=self.attempts[-1].number,
            seconds=seconds,
        )
