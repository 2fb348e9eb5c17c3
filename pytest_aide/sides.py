"""Two sides of a comparison: reports, baselines or pytest-benchmark JSON, loaded and compared.

Pure: ``pytest-aide compare`` (cli.py) renders what this decides.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_aide.baselines import BaselineError, load_baseline
from pytest_aide.fileio import file_kind, read_text
from pytest_aide.gate import COUNT_TOLERANCE
from pytest_aide.growth import compare_fits
from pytest_aide.report.benchmark_json import is_benchmark_json, read_benchmark_json
from pytest_aide.report.json import REPORT_SCHEMA
from pytest_aide.results import (
    CacheResult,
    CountResult,
    QueryResult,
    ScalingResult,
    TimingResult,
    result_from_dict,
)
from pytest_aide.stats import DEFAULT_DRIFT
from pytest_aide.verdict import Comparison, compare, compare_count_results, tolerance_for

__all__ = [
    "InputError",
    "Side",
    "compare_sides",
    "figures",
    "hit_rates",
    "kinds",
    "load_side",
    "not_compared",
    "old_runs",
    "order_changes",
    "row_json",
    "tolerance_origin",
]


class InputError(Exception):
    """A file or directory given to the CLI that cannot be used."""


@dataclass
class Side:
    """Results by check id and result name, from a report or baseline files."""

    results: dict[str, dict[str, TimingResult]] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    tolerances: dict[str, float] = field(default_factory=dict)
    """A check's own ``regression_max``, where a report recorded one."""
    runs: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """Per check and result, the medians of the runs a baseline file pooled."""
    counts: dict[str, dict[str, CountResult | QueryResult]] = field(default_factory=dict)
    """Per check, the valgrind counts of its results (counted checks only)."""
    others: dict[str, list[str]] = field(default_factory=dict)
    """Per check, the kinds of its results that are not compared (load, sweep, memory...)."""
    hit_rates: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per check, the hit rate of each cache result (shown beside the comparisons)."""
    scaling: dict[str, dict[str, ScalingResult]] = field(default_factory=dict)
    """Per check, its scaling results, whose fitted orders are compared."""

    def add(self, check_id: str, results: list[Any], date: str, source: str) -> None:
        """Add one check; the same id twice is ambiguous and refused."""
        if check_id in self.results:
            raise InputError(
                f"{source}: {check_id!r} also comes from {self.sources[check_id]} "
                "(point at one machine's baseline directory)"
            )
        self.results[check_id] = {
            r.name: r for r in results if isinstance(r, TimingResult) and r.mode == "perf"
        }
        # Statements per call compare as exact counts too; a valgrind count of the
        # same name wins the name.
        counted = [r for r in results if isinstance(r, QueryResult)]
        counted += [r for r in results if isinstance(r, CountResult)]
        self.counts[check_id] = {r.name: r for r in counted}
        self.others[check_id] = sorted(
            {
                getattr(r, "kind", type(r).__name__)
                for r in results
                if not isinstance(r, (TimingResult, CountResult, QueryResult, ScalingResult))
            }
        )
        self.scaling[check_id] = {r.name: r for r in results if isinstance(r, ScalingResult)}
        self.hit_rates[check_id] = {
            r.name: r.hit_rate
            for r in results
            if isinstance(r, CacheResult) and r.hit_rate is not None
        }
        self.dates[check_id] = date
        self.sources[check_id] = source


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except OSError as exc:
        raise InputError(f"{path}: unreadable: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: not JSON ({exc}): expected a pytest-aide report.json, a "
            "pytest-benchmark JSON file or a baseline file"
        ) from None


def _add_report(side: Side, path: Path, data: dict[str, Any]) -> None:
    schema = data.get("schema")
    if not isinstance(schema, int) or schema > REPORT_SCHEMA:
        raise InputError(f"{path}: report schema {schema!r} is not one this pytest-aide reads")
    date = str(data.get("created", ""))[:10]
    try:
        for check in data["checks"]:
            results = [result_from_dict(r) for r in check.get("results", [])]
            side.add(str(check["id"]), results, date, str(path))
            own = check.get("thresholds", {}).get("regression_max")
            if own is not None:
                side.tolerances[str(check["id"])] = float(own["limit"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a valid report: {exc}") from None


def _add_benchmark_json(side: Side, path: Path, data: dict[str, Any]) -> None:
    date = str(data.get("datetime", ""))[:10]
    try:
        checks = read_benchmark_json(data, str(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(str(exc) if isinstance(exc, ValueError) else f"{path}: {exc}") from None
    for check_id, results in checks.items():
        side.add(check_id, list(results), date, str(path))


def _add_file(side: Side, path: Path) -> None:
    data = _read_json(path)
    if isinstance(data, dict) and "checks" in data:
        _add_report(side, path, data)
        return
    if is_benchmark_json(data):
        _add_benchmark_json(side, path, data)
        return
    try:
        baseline = load_baseline(path)
    except BaselineError as exc:
        raise InputError(str(exc)) from None
    side.add(baseline.id, baseline.results, baseline.date, str(path))
    side.runs[baseline.id] = {r.name: baseline.run_medians(r.name) for r in baseline.results}


def load_side(path: Path) -> Side:
    """Read a report file, a baseline file, or a directory of baseline files."""
    side = Side()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise InputError(f"{path}: no baseline or report files in this directory")
        for file in files:
            _add_file(side, file)
    elif path.is_file():
        _add_file(side, path)
    elif path.exists():
        raise InputError(f"{path}: not a regular file ({file_kind(path.stat().st_mode)})")
    else:
        raise InputError(f"{path}: no such file or directory")
    return side


def compare_sides(
    old: Side,
    new: Side,
    tolerance: float,
    drift: float = DEFAULT_DRIFT,
    count_tolerance: float = COUNT_TOLERANCE,
) -> list[tuple[str, Comparison]]:
    """Compare every result both sides have, as (check id, comparison) pairs.

    A check's own ``regression_max`` (NEW's, else OLD's) wins over ``tolerance``
    and ``count_tolerance``, as it does in the plugin. A check counted on both
    sides is judged on its counts; its wall-time comparison is only reported.
    """
    rows = []
    for check_id in sorted(set(old.results) & set(new.results)):
        before, after = old.results[check_id], new.results[check_id]
        own = new.tolerances.get(check_id, old.tolerances.get(check_id))
        counted = compare_count_results(
            old.counts.get(check_id, {}),
            sorted(new.counts.get(check_id, {}).values(), key=lambda r: r.name),
            tolerance=tolerance_for(count_tolerance, own),
            baseline_date=old.dates[check_id],
        )
        rows += [(check_id, comparison) for comparison in counted]
        pairs = [(name, before[name], after[name]) for name in sorted(set(before) & set(after))]
        if not pairs and len(before) == 1 and len(after) == 1:
            # One timing on each side (a pytest-benchmark test and its aide check): a pair.
            (old_result,), ((name, new_result),) = before.values(), after.items()
            pairs = [(name, old_result, new_result)]
        for name, old_result, new_result in pairs:
            comparison = compare(
                name,
                old_result.samples,
                new_result.samples,
                tolerance=tolerance_for(tolerance, own),
                baseline_date=old.dates[check_id],
                drift=drift,
                runs=old.runs.get(check_id, {}).get(old_result.name, []),
                gating=not counted,
            )
            rows.append((check_id, comparison))
    return rows


def tolerance_origin(
    old: Side, new: Side, check_id: str, given: bool, measure: str = "time"
) -> str:
    """Where a check's tolerance in :func:`compare_sides` comes from, in a few words."""
    if check_id in new.tolerances:
        return "regression_max in NEW"
    if check_id in old.tolerances:
        return "regression_max in OLD"
    if measure != "time":
        return "counts' default"
    return "--tolerance" if given else "default"


def order_changes(old: Side, new: Side) -> list[dict[str, Any]]:
    """The fitted order of every scaling result both sides judged on the same basis."""
    found = []
    for check_id in sorted(set(old.scaling) & set(new.scaling)):
        for name, after in sorted(new.scaling[check_id].items()):
            before = old.scaling[check_id].get(name)
            if before is None or before.unjudged() or after.unjudged():
                continue
            if before.basis != after.basis:
                continue
            was, now = before.fit, after.fit
            status = {"grew": "regressed", "fell": "improved"}.get(
                compare_fits(was, now), "unchanged"
            )
            found.append(
                {
                    "id": check_id,
                    "result": name,
                    "basis": after.basis,
                    "old": was.best.name,
                    "new": now.best.name,
                    "old_exponent": was.exponent,
                    "new_exponent": now.exponent,
                    "status": status,
                }
            )
    return found


def not_compared(
    old: Side, new: Side, rows: list[tuple[str, Comparison]], orders: list[dict[str, Any]]
) -> dict[str, str]:
    """Checks on both sides that have no row, with the reason."""
    compared = {check_id for check_id, _ in rows} | {o["id"] for o in orders}
    reasons = {}
    for check_id in sorted((set(old.results) & set(new.results)) - compared):
        kinds = sorted(set(old.others.get(check_id, [])) | set(new.others.get(check_id, [])))
        if kinds:
            reasons[check_id] = (
                f"{' and '.join(kinds)} results: the regression gate compares timings and "
                "counts; their limits are in each run's report"
            )
        else:
            reasons[check_id] = "no timing or count of the same name on both sides"
    return reasons


def hit_rates(old: Side, new: Side) -> list[dict[str, Any]]:
    """Cache hit rates of the checks both sides measured, OLD then NEW (not gated here)."""
    found = []
    for check_id in sorted(set(old.hit_rates) & set(new.hit_rates)):
        for name, rate in sorted(new.hit_rates[check_id].items()):
            before = old.hit_rates[check_id].get(name)
            if before is not None:
                found.append({"id": check_id, "result": name, "old": before, "new": rate})
    return found


def kinds(side: Side, check_id: str) -> str:
    """`` (load results)`` for a check with nothing compared but such results, else ""."""
    if side.results.get(check_id) or side.counts.get(check_id) or not side.others.get(check_id):
        return ""
    return f" ({' and '.join(side.others[check_id])} results: not kept in baselines)"


def _only_or_named(results: dict[str, Any], name: str) -> Any:
    return results[name] if name in results else next(iter(results.values()))


def old_runs(c: Comparison, check_id: str, old: Side) -> list[float]:
    """The run medians OLD's baseline pooled for the result ``c`` compares (none: [])."""
    older = _only_or_named(old.results[check_id], c.subject)
    return old.runs.get(check_id, {}).get(older.name, [])


def figures(c: Comparison, check_id: str, old: Side, new: Side) -> tuple[str, str, float, float]:
    """The row's label, its change as text, and the two figures the change is between."""
    e = c.estimate
    if c.measure != "time":
        label = f"{check_id} ({c.measure})"
        if len(new.counts[check_id]) > 1:
            label = f"{check_id} ({c.subject}, {c.measure})"
        before = old.counts[check_id][c.subject].value
        return label, f"{e.percent:+.1f} % exact", before, new.counts[check_id][c.subject].value
    label = check_id if len(old.results[check_id]) == 1 else f"{check_id} ({c.subject})"
    runs = old_runs(c, check_id, old)
    # A baseline of several runs is judged against the runs' medians: show their centre.
    before = (
        statistics.geometric_mean(runs)
        if len(runs) >= 2
        else _only_or_named(old.results[check_id], c.subject).median
    )
    change = f"{e.percent:+.1f} % [{(e.low - 1) * 100:+.1f}, {(e.high - 1) * 100:+.1f}]"
    return label, change, before, new.results[check_id][c.subject].median


def row_json(check_id: str, c: Comparison, old: Side, new: Side, given: bool) -> dict[str, Any]:
    """A row of ``compare --format json``: the comparison, its tolerance's origin, its figures."""
    _, _, before, after = figures(c, check_id, old, new)
    origin = tolerance_origin(old, new, check_id, given, c.measure)
    return {"id": check_id, **c.to_dict(), "tolerance_from": origin, "old": before, "new": after}
