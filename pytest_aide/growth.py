"""Orders of growth: how a check's cost grows with its input size, and a declared bound.

Pure: sizes and costs in, a fit and verdict lines out; no clock, no pytest.

Each candidate order ``g`` (1, log n, n, n log n, n², n³) is fitted as
``cost = a + b * g(n)`` with ``a, b >= 0`` by least squares on relative
errors: ``a`` absorbs a call's fixed overhead, which makes small sizes look
sub-linear when fitted on a bare power. The best order is the lowest one whose
error is within :data:`LOWER_ORDER_MARGIN_TIME` (on time) or
:data:`LOWER_ORDER_MARGIN` (on counts) of the smallest. The exponent is
fitted the same way (``a + b * n^k``). Wall-time costs are medians per size;
their noise is carried into the fit by resampling each size's samples
(bootstrap), which gives the exponent's interval and how often the best
order won. Instruction counts are exact: the interval then comes from leaving
out one size at a time.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FAIL_MARGIN_TIME",
    "NAMED_ORDERS",
    "Fit",
    "GrowthError",
    "Order",
    "ScalingSpec",
    "clearly_exceeds",
    "compare_fits",
    "fit_growth",
    "growth_failure",
    "parse_order",
    "scaling_spec",
    "size_label",
    "unjudgeable",
]

LOWER_ORDER_MARGIN = 1.2
"""On instruction counts, a lower order is preferred while its relative error is at most
this times the best's."""
LOWER_ORDER_MARGIN_TIME = 1.5
"""The same on time, where caches and load bend linear code's CPU time upwards. Over
five runs of benchmarks/scaling_accuracy.py (450 fits, machine busy in four ways), x1.5
named 444 right, x1.2 and x2 441 each: under the heaviest load linear's error ratio
(as n over as n log n) reached 1.65 and a real n log n's fell to 1.54."""
BOOTSTRAP_ROUNDS = 200
FAIL_MARGIN_TIME = 2.0
"""On time, how much worse than the best order a declared one may fit and still pass."""
SEPARATION_TIME = 1.5
"""On wall time, the next order above the declared one must grow this much more across
the sizes (n and n log n across 1,000..100,000 differ by x1.67)."""
SEPARATION_EXACT = 1.05
"""The same on instruction counts, which do not move from run to run."""
MIN_SPAN_TIME = 100.0
"""Wall-time sizes span at least two decades."""


class GrowthError(ValueError):
    """An order or a set of sizes that cannot be used; the message is one line."""


@dataclass(frozen=True, order=True)
class Order:
    """``n^power * (log n)^logs``: compared by power, then by logs."""

    power: float
    logs: int = 0

    def g(self, n: float) -> float:
        """The order's growth function at ``n``."""
        return n**self.power * math.log(n) ** self.logs if self.logs else n**self.power

    @property
    def name(self) -> str:
        """``1``, ``log n``, ``n``, ``n log n``, ``n²``, ``n³`` or ``n^1.5``."""
        for name, order in NAMED_ORDERS.items():
            if order == self:
                return name
        return f"n^{self.power:g}" + (" log n" if self.logs else "")

    def above(self) -> Order:
        """The next order up: the one a declared bound must be told apart from."""
        named = list(NAMED_ORDERS.values())
        if self in named and named.index(self) + 1 < len(named):
            return named[named.index(self) + 1]
        return Order(self.power + 0.5)


NAMED_ORDERS: dict[str, Order] = {
    "1": Order(0.0),
    "log n": Order(0.0, 1),
    "n": Order(1.0),
    "n log n": Order(1.0, 1),
    "n²": Order(2.0),
    "n³": Order(3.0),
}
"""The orders a fit chooses among, lowest first."""

_SPELLINGS = {"1": "1", "logn": "log n", "n": "n", "nlogn": "n log n", "n^1": "n"}
_SPELLINGS.update({"n^2": "n²", "n²": "n²", "n^3": "n³", "n³": "n³"})


def parse_order(value: object) -> Order:
    """``"n log n"``, ``"O(n^2)"``, ``"n**3"``, ``"n^1.5"`` or ``1`` as an :class:`Order`."""
    if value == 1 and not isinstance(value, bool):
        return NAMED_ORDERS["1"]
    if not isinstance(value, str):
        raise GrowthError(f"order {value!r}: expected a string such as 'n log n' or 'n^1.5'")
    text = value.strip().lower().replace("**", "^").replace(" ", "").replace("*", "")
    if text.startswith("o(") and text.endswith(")"):
        text = text[2:-1]
    if text in _SPELLINGS:
        return NAMED_ORDERS[_SPELLINGS[text]]
    power = re.fullmatch(r"n\^(\d+(?:\.\d+)?)", text)
    if power and float(power.group(1)) <= 10:
        return Order(float(power.group(1)))
    known = ", ".join(repr(name) for name in NAMED_ORDERS)
    raise GrowthError(f"order {value!r}: expected one of {known} or an exponent such as 'n^1.5'")


@dataclass
class Fit:
    """How the cost grew with size: the best order and the fitted exponent."""

    best: Order
    exponent: float
    low: float
    """The exponent's interval (95 % bootstrap on wall time; leave-one-size-out on counts)."""
    high: float
    errors: dict[str, float] = field(default_factory=dict)
    """Each named order's relative error (root mean square) on the costs."""
    share: float | None = None
    """On wall time: the share of resampled fits that chose :attr:`best`."""
    intercept: float = 0.0
    """``a`` of the best order's fit, in the costs' unit."""
    slope: float = 0.0
    """``b`` of the best order's fit."""

    def describe(self) -> str:
        """``n log n (exponent 1.11 [1.08, 1.14])``."""
        text = f"{self.best.name} (exponent {self.exponent:.2f} [{self.low:.2f}, {self.high:.2f}]"
        if self.share is not None:
            text += f", {self.best.name} in {self.share:.0%} of resamples"
        return text + ")"

    def predict(self, n: float) -> float:
        """The best order's fitted cost at ``n``."""
        return self.intercept + self.slope * self.best.g(n)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "best": self.best.name,
            "exponent": self.exponent,
            "low": self.low,
            "high": self.high,
            "errors": dict(self.errors),
            "share": self.share,
            "intercept": self.intercept,
            "slope": self.slope,
        }


def _weighted_fit(
    sizes: Sequence[float], costs: Sequence[float], order: Order
) -> tuple[float, float, float]:
    """``(a, b, relative rms error)`` of ``cost = a + b g(n)``, ``a, b >= 0``."""
    top = order.g(max(sizes)) or 1.0
    # g scaled to 1 at the largest size, so n³ at 10^9 stays well inside floats.
    rows = [(1.0 / (c * c), order.g(n) / top, c) for n, c in zip(sizes, costs, strict=True)]
    sw = sum(w for w, _, _ in rows)
    sg = sum(w * g for w, g, _ in rows)
    sgg = sum(w * g * g for w, g, _ in rows)
    sc = sum(w * c for w, _, c in rows)
    sgc = sum(w * g * c for w, g, c in rows)
    det = sw * sgg - sg * sg
    if det <= 1e-12 * sw * sgg:
        a, b = sc / sw, 0.0
    else:
        a, b = (sc * sgg - sg * sgc) / det, (sw * sgc - sg * sc) / det
        if b < 0:
            a, b = sc / sw, 0.0
        elif a < 0:
            a, b = 0.0, sgc / sgg
    rss = sum(w * (c - a - b * g) ** 2 for w, g, c in rows)
    return a, b / top, math.sqrt(rss / len(costs))


def _best(
    sizes: Sequence[float], costs: Sequence[float], exact: bool
) -> tuple[Order, dict[str, float]]:
    errors = {name: _weighted_fit(sizes, costs, o)[2] for name, o in NAMED_ORDERS.items()}
    least = min(errors.values())
    margin = LOWER_ORDER_MARGIN if exact else LOWER_ORDER_MARGIN_TIME
    name = next(n for n, e in errors.items() if e <= least * margin + 1e-12)
    return NAMED_ORDERS[name], errors


def _exponent(sizes: Sequence[float], costs: Sequence[float]) -> float:
    """The ``k`` of ``a + b n^k`` with the least relative error (golden-section on 0..4)."""
    lo, hi = 0.0, 4.0
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if _weighted_fit(sizes, costs, Order(x1))[2] <= _weighted_fit(sizes, costs, Order(x2))[2]:
            hi = x2
        else:
            lo = x1
    return (lo + hi) / 2


def fit_growth(
    sizes: Sequence[int], samples: Sequence[Sequence[float]], exact: bool = False, seed: int = 0
) -> Fit:
    """Fit the costs measured at ``sizes`` (per size, one count or wall-time samples).

    ``exact`` marks instruction counts: one figure per size, no resampling.
    The resampling is seeded, so equal inputs give equal fits.
    """
    costs = [statistics.median(s) for s in samples]
    if any(c <= 0 for c in costs):
        raise GrowthError("every size must cost more than nothing to fit an order")
    best, errors = _best(sizes, costs, exact)
    a, b, _ = _weighted_fit(sizes, costs, best)
    exponent = _exponent(sizes, costs)
    share = None
    if exact or all(len(s) < 2 for s in samples):
        others = [
            _exponent([n for j, n in enumerate(sizes) if j != i], costs[:i] + costs[i + 1 :])
            for i in range(len(sizes))
        ]
        low, high = (min(others), max(others)) if len(sizes) >= 4 else (exponent, exponent)
    else:
        rng = random.Random(seed)
        exponents, wins = [], 0
        for _ in range(BOOTSTRAP_ROUNDS):
            drawn = [statistics.median(rng.choices(s, k=len(s))) for s in samples]
            exponents.append(_exponent(sizes, drawn))
            wins += _best(sizes, drawn, exact)[0] == best
        exponents.sort()
        low = exponents[int(0.025 * (len(exponents) - 1))]
        high = exponents[math.ceil(0.975 * (len(exponents) - 1))]
        share = wins / BOOTSTRAP_ROUNDS
    low, high = min(low, exponent), max(high, exponent)
    return Fit(best, exponent, low, high, errors, share, a, b)


def _growth(order: Order, small: float, large: float) -> float:
    """How much ``order`` grows from ``small`` to ``large``."""
    start = order.g(small)
    return math.inf if start == 0 else order.g(large) / start


def _apart(declared: Order, small: float, large: float) -> float:
    """How much more the next order up grows than ``declared`` from ``small`` to ``large``."""
    return _growth(declared.above(), small, large) / _growth(declared, small, large)


def _enough(small: int, declared: Order, exact: bool) -> int:
    """The smallest largest size (doubling from ``small``) that can tell the orders apart."""
    needed = SEPARATION_EXACT if exact else SEPARATION_TIME
    large = small * 2
    while large < _MAX_SIZE and (
        _apart(declared, small, large) < needed or (not exact and large / small < MIN_SPAN_TIME)
    ):
        large *= 2
    return large


def unjudgeable(sizes: Sequence[int], declared: Order, exact: bool) -> str | None:
    """Why ``sizes`` cannot tell ``declared`` from the next order up, or None if they can.

    The reason names sizes that would.
    """
    distinct = sorted(set(sizes))
    wanted = 3 if exact else 4
    measure = "instruction counts" if exact else "wall time"
    small, large = distinct[0], distinct[-1]
    would = f"e.g. {wanted} sizes or more from {small} to {_enough(small, declared, exact)}"
    if len(distinct) < wanted:
        return (
            f"{len(distinct)} size(s): fitting an order on {measure} needs at least {wanted} "
            f"({would})"
        )
    if not exact and large / small < MIN_SPAN_TIME:
        return (
            f"sizes {small}..{large} span x{large / small:g}: on wall time they must span "
            f"two decades (x{MIN_SPAN_TIME:g}) to tell {declared.name} from "
            f"{declared.above().name} ({would})"
        )
    apart = _apart(declared, small, large)
    needed = SEPARATION_EXACT if exact else SEPARATION_TIME
    if apart < needed:
        return (
            f"sizes {small}..{large} cannot tell {declared.name} from {declared.above().name} "
            f"on {measure}: their growth differs by x{apart:.2f} across the sizes, x{needed:g} "
            f"is needed ({would})"
        )
    return None


def clearly_exceeds(fit: Fit, sizes: Sequence[int], declared: Order) -> bool:
    """Whether the costs grow beyond even the next order above ``declared``, past doubt.

    Then the declared bound is broken whatever the sizes span: quadratic code
    declared ``n`` over sizes 50..400 grows x64 for x8 in n, and no noise makes
    that linear. The exponent's whole interval must lie above the next order's
    growth across these sizes, read as an exponent.
    """
    small, large = min(sizes), max(sizes)
    if len(set(sizes)) < 3 or fit.best <= declared:
        return False
    growth = _growth(declared.above(), small, large)
    if not math.isfinite(growth) or growth <= 0:
        return False
    return fit.low > math.log(growth) / math.log(large / small)


def compare_fits(was: Fit, now: Fit) -> str:
    """``grew``, ``fell``, ``same`` or ``unclear``: how the order changed from ``was``.

    A different best order counts only when the two exponents' intervals do not
    overlap: between n and n log n (x1.67 apart over two decades) a busy
    machine can tip the choice either way, and that is not a change of code.
    """
    if now.best == was.best:
        return "same"
    if now.best > was.best and now.low > was.high:
        return "grew"
    if now.best < was.best and now.high < was.low:
        return "fell"
    return "unclear"


def growth_failure(fit: Fit, declared: Order, exact: bool = False) -> str | None:
    """Why the fit breaks the declared bound (``order`` is an upper bound), or None.

    On time, a named bound fails only when it fits the costs at least
    :data:`FAIL_MARGIN_TIME` times worse than the best order does: a working set
    that outgrows the caches raises linear code's CPU time per item by a
    fifth or more across two decades of sizes, which reads as n log n, and
    that is the machine, not the algorithm.
    """
    named = declared in NAMED_ORDERS.values()
    if not (fit.best > declared if named else fit.low > declared.power):
        return None
    if named and not exact:
        own, best = fit.errors[declared.name], fit.errors[fit.best.name]
        if own <= FAIL_MARGIN_TIME * best:
            return None
    return f"grows as {fit.describe()}, worse than the declared {declared.name}"


SCALING_OPTIONS = ("sizes", "order", "arg", "setup")
_MAX_SIZE = 10**9


@dataclass(frozen=True)
class ScalingSpec:
    """What a scaling check asks for: the sizes, the declared order, how a size is passed."""

    sizes: tuple[int, ...]
    order: str
    """The declared order's name (``n log n``), an upper bound."""
    arg: str | None = None
    """Keyword the size (or the set-up's input) is passed as; None: first positional."""
    setup: str | None = None
    """``package.module:factory`` building each size's input outside the measured calls."""

    @property
    def label(self) -> str:
        """What the size is called in reports."""
        return self.arg or "n"


def size_label(name: str, arg: str, size: int) -> str:
    """The name of a scaling check's measured call at ``size``: ``check[n=1000]``."""
    return f"{name}[{arg}={size}]"


def scaling_spec(value: object) -> ScalingSpec:
    """Validate a ``scaling = { sizes, order, arg, setup }`` table (or fixture keywords)."""
    if not isinstance(value, dict):
        raise GrowthError(
            "expected a table like { sizes = [1000, 10000, 100000], order = 'n log n' }, "
            f"got {value!r}"
        )
    unknown = sorted(set(value) - set(SCALING_OPTIONS))
    if unknown:
        raise GrowthError(f"unknown option {unknown[0]!r} (known: {', '.join(SCALING_OPTIONS)})")
    for needed in ("sizes", "order"):
        if needed not in value:
            raise GrowthError(f"{needed!r} is missing")
    sizes = value["sizes"]
    if not isinstance(sizes, (list, tuple)) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= _MAX_SIZE for n in sizes
    ):
        raise GrowthError(
            f"sizes: expected an array of whole numbers from 1 to 10^9, got {sizes!r}"
        )
    if len(set(sizes)) < 3:
        raise GrowthError(f"sizes: expected at least 3 different sizes, got {sizes!r}")
    arg, setup = value.get("arg"), value.get("setup")
    if arg is not None and (not isinstance(arg, str) or not arg.isidentifier()):
        raise GrowthError(f"arg: expected a keyword argument name, got {arg!r}")
    if setup is not None and (not isinstance(setup, str) or ":" not in setup or " " in setup):
        raise GrowthError(f"setup: expected 'package.module:factory', got {setup!r}")
    return ScalingSpec(tuple(sorted(set(sizes))), parse_order(value["order"]).name, arg, setup)
