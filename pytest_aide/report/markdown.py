"""``report.md``: the report for people and pull requests, read from ``report.json`` data."""

from __future__ import annotations

from typing import Any

from pytest_aide.results import CountResult, ScalingResult
from pytest_aide.units import format_duration, format_size
from pytest_aide.verdict import in_order

__all__ = [
    "STATUS_ORDER",
    "attention_lines",
    "by_attention",
    "confirmation_lines",
    "needs_attention",
    "render_markdown",
]

STATUS_ORDER = ("ERROR", "FAIL", "REGRESSED", "NOT COMPARED", "IMPROVED", "PASS", "SKIP")
"""Checks are listed in this order: what needs attention first."""
_ICONS = {
    "ERROR": "💥",
    "FAIL": "❌",
    "REGRESSED": "📉",
    "NOT COMPARED": "❔",
    "IMPROVED": "📈",
    "PASS": "✅",
    "SKIP": "⏭️",
}


def _time(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _status(check: dict[str, Any]) -> str:
    return f"{_ICONS.get(check['status'], '')} {check['status']}"


def _change(check: dict[str, Any], name: str) -> str:
    found = [c for c in check["comparisons"] if c["result"] == name]
    # A counted result's count comparison is the one that gates: it comes first.
    found.sort(key=lambda c: c.get("measure", "time") == "time")
    for c in found:
        if c.get("measure", "time") != "time":
            text = f"{(c['ratio'] - 1) * 100:+.2f} % {c['measure']}"
        else:
            low, high = (c["ci_low"] - 1) * 100, (c["ci_high"] - 1) * 100
            text = f"{(c['ratio'] - 1) * 100:+.1f} % [{low:+.1f}, {high:+.1f}]"
        return text if c["gating"] else f"{text} (info)"
    return "-"


def by_attention(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks in :data:`STATUS_ORDER`: errors and failures first, skips last.

    Within a status, checks that had to be measured again come first.
    """
    rank = {status: i for i, status in enumerate(STATUS_ORDER)}
    return sorted(
        checks, key=lambda c: (rank.get(c["status"], len(rank)), not c.get("confirmation"))
    )


def confirmation_lines(check: dict[str, Any]) -> list[str]:
    """How a suspected failure of ``check`` was confirmed or cleared (empty if it was not)."""
    confirmation = check.get("confirmation") or {}
    return list(confirmation.get("lines") or [])


def needs_attention(check: dict[str, Any]) -> bool:
    """Failed, errored, regressed, or passed only after it was measured again."""
    failing = ("ERROR", "FAIL", "REGRESSED", "NOT COMPARED")
    return check["status"] in failing or bool(check.get("confirmation"))


def attention_lines(check: dict[str, Any]) -> list[str]:
    """Why ``check`` needs attention: failures, else why not compared, else how confirmed."""
    return (
        check["failures"]
        or list(check.get("uncompared") or [])
        or confirmation_lines(check)
        or [f"pytest outcome: {check['outcome']}"]
    )


def _main_rows(check: dict[str, Any]) -> list[str]:
    thresholds = check["thresholds"]
    limits = ", ".join(thresholds[key]["text"] for key in in_order(thresholds)) or "-"
    rows = []
    for result in check["results"]:
        if result["kind"] == "sweep":
            result = next(r for r in result["levels"] if r["concurrency"] == result["knee"])
        if result["kind"] not in ("timing", "load"):
            continue
        stats = result["stats"]
        median = stats.get("median")
        rows.append(
            f"| {_status(check)} | `{_cell(result['name'])}` | {_time(stats.get('mean'))} | "
            f"{_time(median)} | {_time(stats.get('p95'))} | {stats['throughput']:,.1f} | "
            f"{_change(check, result['name'])} | {_cell(limits)} |"
        )
    if not rows:
        rows.append(
            f"| {_status(check)} | `{_cell(check['name'])}` | - | - | - | - | - | {_cell(limits)} |"
        )
    return rows


def _load_section(checks: list[dict[str, Any]]) -> list[str]:
    loads, sweeps = [], []
    for check in checks:
        for result in check["results"]:
            if result["kind"] == "load":
                loads.append(result)
            elif result["kind"] == "sweep":
                sweeps.append(result)
    if not loads and not sweeps:
        return []
    lines = ["", "## Load", ""]
    if loads:
        lines += [
            "| result | mode | concurrency | req/s | p50 | p95 | p99 | max | errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in loads:
            s = r["stats"]
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(r["error_types"].items()))
            errors = f"{r['error_rate']:.1%}" + (f" ({kinds})" if kinds else "")
            lines.append(
                f"| `{_cell(r['name'])}` | {r['mode']} | {r['concurrency']} | "
                f"{r['throughput']:,.1f} | {_time(s.get('median'))} | {_time(s.get('p95'))} | "
                f"{_time(s.get('p99'))} | {_time(s.get('max'))} | {_cell(errors)} |"
            )
    for sweep in sweeps:
        lines += [
            "",
            f"**`{_cell(sweep['name'])}`**: recommended concurrency **{sweep['knee']}** "
            "(the smallest reaching 95 % of the best throughput)",
            "",
            "| concurrency | req/s | p50 | p95 | errors |",
            "|---:|---:|---:|---:|---:|",
        ]
        for level in sweep["levels"]:
            s = level["stats"]
            knee = " ⬅ knee" if level["concurrency"] == sweep["knee"] else ""
            lines.append(
                f"| {level['concurrency']}{knee} | {level['throughput']:,.1f} | "
                f"{_time(s.get('median'))} | {_time(s.get('p95'))} | {level['error_rate']:.1%} |"
            )
    return lines


def _scaling_section(checks: list[dict[str, Any]]) -> list[str]:
    found = [r for c in checks for r in c["results"] if r["kind"] == "scaling"]
    if not found:
        return []
    lines = ["", "## Scaling"]
    for data in found:
        result = ScalingResult.from_dict(data)
        lines += [
            "",
            f"**`{_cell(result.name)}`**: {_cell(result.summary())}",
            "",
            f"| {_cell(result.arg)} | {result.basis if result.counts is None else 'time'} "
            "per call | count per call | fitted |",
            "|---:|---:|---:|---:|",
        ]
        lines += [f"| {' | '.join(row)} |" for row in result.rows()]
    return lines


def _resource_section(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        for r in check["results"]:
            if r["kind"] == "memory":
                lines.append(
                    f"| `{_cell(r['name'])}` | memory | peak {format_size(r['peak_bytes'])}, "
                    f"leaked {format_size(r['leaked_bytes'])}, {r['allocations']:,} "
                    f"allocations ({_cell(r['mode'])}) |"
                )
            elif r["kind"] == "cpu":
                lines.append(
                    f"| `{_cell(r['name'])}` | cpu | mean {r['mean_percent']:.1f} %, max "
                    f"{r['max_percent']:.1f} % ({len(r['samples'])} samples) |"
                )
    if not lines:
        return []
    return ["", "## Memory and CPU", "", "| result | kind | figures |", "|---|---|---|", *lines]


def _rate(rate: float | None) -> str:
    return "no lookups" if rate is None else f"{rate:.1%}"


def _cache_section(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        for r in check["results"]:
            if r["kind"] != "cache":
                continue
            for cache in r["caches"]:
                bound = "unbounded" if cache["maxsize"] is None else f"{cache['maxsize']:,}"
                lines.append(
                    f"| `{_cell(r['name'])}` | `{_cell(cache['name'])}` | "
                    f"{_rate(cache['hit_rate'])} | {cache['hits']:,} | {cache['misses']:,} | "
                    f"{cache['currsize']:,} / {bound} |"
                )
            if len(r["caches"]) > 1:
                lines.append(
                    f"| `{_cell(r['name'])}` | all | {_rate(r['hit_rate'])} | {r['hits']:,} | "
                    f"{r['misses']:,} | |"
                )
    if not lines:
        return []
    return [
        "",
        "## Caches",
        "",
        "Over the measured calls, warmup left out.",
        "",
        "| result | cache | hit rate | hits | misses | entries / bound |",
        "|---|---|---:|---:|---:|---:|",
        *lines,
    ]


def _query_section(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        for r in check["results"]:
            if r["kind"] != "queries":
                continue
            calls = r["calls"]
            lines.append(
                f"| `{_cell(r['name'])}` | **all** | **{r['per_call']:,.4g}** | "
                f"{r['statements']:,} over {calls:,} calls, {r['distinct']} distinct |"
            )
            lines += [
                f"| `{_cell(r['name'])}` | `{_cell(entry['statement'])}` | "
                f"{entry['count'] / calls:,.4g} | {entry['count']:,} |"
                for entry in r["top"]
            ]
    if not lines:
        return []
    return [
        "",
        "## SQL queries",
        "",
        "Statements per call, literals shown as `?`; one statement run many times per "
        "call is the N+1 pattern.",
        "",
        "| result | statement | per call | executed |",
        "|---|---|---:|---:|",
        *lines,
    ]


def _http_section(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        for r in check["results"]:
            if r["kind"] != "http":
                continue
            statuses = ", ".join(f"{code} ×{count:,}" for code, count in r["statuses"].items())
            client = r["client"]
            lines.append(
                f"| `{_cell(r['name'])}` | `{_cell(r['method'])} {_cell(r['url'])}` | "
                f"{statuses or '-'} | {r['first_try']:,} | {r['after_retry']:,} | "
                f"{r['retries']:,} | {client.get('limit')} / {client.get('limit_per_host')} |"
            )
    if not lines:
        return []
    return [
        "",
        "## HTTP",
        "",
        "Latencies and errors are in the load table above; here, what the server answered.",
        "",
        "| result | request | statuses | ok first try | ok after retries | retries | "
        "pool / per host |",
        "|---|---|---|---:|---:|---:|---:|",
        *lines,
    ]


def _count_section(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        for r in check["results"]:
            if r["kind"] != "count":
                continue
            trace = f"`{_cell(r['trace_path'])}`" if r.get("trace_path") else "-"
            lines.append(
                f"| `{_cell(r['name'])}` | {r['measure']} | "
                f"{_cell(CountResult.from_dict(r).summary())} | {trace} |"
            )
    if not lines:
        return []
    return [
        "",
        "## Counts (valgrind)",
        "",
        "| result | gated on | per call | callgrind output |",
        "|---|---|---|---|",
        *lines,
    ]


def _profile_section(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        for profile in check.get("profiles") or []:
            files = ", ".join(f"[{kind}]({path})" for kind, path in profile["files"].items())
            total = sum(f["own"] for f in profile["functions"]) or 1.0
            lines += [
                "",
                f"### `{_cell(profile['name'])}`" + (f" ({files})" if files else ""),
                "",
                f"{profile['calls']:,} call(s) profiled, {format_duration(profile['seconds'])} "
                "per call with the profiler's overhead.",
                "",
                "| own | share | cumulative | calls | function |",
                "|---:|---:|---:|---:|---|",
            ]
            top = sorted(profile["functions"], key=lambda f: f["own"], reverse=True)[:8]
            lines += [
                f"| {format_duration(f['own'])} | {f['own'] / total:.1%} | "
                f"{format_duration(f['cumulative'])} | {f['calls']:,.4g} | "
                f"`{_cell(_where(f))}` |"
                for f in top
            ]
    if not lines:
        return []
    return [
        "",
        "## Profiles",
        "",
        "`--aide-explain`: the check run once more under cProfile; figures per call of "
        "its target. Open the callgrind file in KCachegrind or QCachegrind, the pstats "
        "file in snakeviz.",
        *lines,
    ]


def _where(function: dict[str, Any]) -> str:
    if not function["line"]:
        return function["function"]
    return f"{function['file']}:{function['line']} {function['function']}"


def _environment(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    lines = [
        "",
        "## Environment",
        "",
        f"- machine: {m['os']} {m['arch']}, {m['cores']} cores"
        + (f" ({m['cpu']})" if m.get("cpu") else "")
        + f", {m['implementation']} {m['python']}",
        f"- profile: `{report['profile']}`",
    ]
    packages = m.get("packages") or {}
    if packages:
        lines.append("- packages: " + ", ".join(f"{k} {v}" for k, v in sorted(packages.items())))
    for moment, snap in sorted((report.get("system") or {}).items(), reverse=True):
        lines.append(
            f"- system at {moment}: other processes' cpu {snap['cpu_percent']:.0f} %, memory "
            f"{snap['memory_percent']:.0f} %, load {snap['load_1min']:.2f} on "
            f"{snap['cpus']:.0f} cpus"
        )
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """The whole ``report.md``: totals, what went wrong, every check, load, environment."""
    totals = report["totals"]
    checks = by_attention(report["checks"])
    errors = totals.get("errors", 0)
    uncompared = totals.get("not_compared", 0)
    verdict = (
        "all checks passed"
        if totals["failed"] == 0 and not errors and not uncompared
        else f"{totals['failed']} of {totals['checks']} checks failed"
        + (f", {errors} error(s)" if errors else "")
        + (f", {uncompared} not compared" if uncompared else "")
    )
    lines = [
        "# pytest-aide performance report",
        "",
        f"**{verdict}** · success rate {totals['success_rate']:.1%} · "
        f"profile `{report['profile']}` · {report['created']}",
    ]
    bad = [c for c in checks if needs_attention(c)]
    if bad:
        lines += ["", "## Needs attention", ""]
        for check in bad:
            lines.append(f"- {_status(check)} `{_cell(check['id'])}`")
            lines += [f"  - {_cell(line)}" for line in attention_lines(check)]
    confirming = sum((c.get("confirmation") or {}).get("seconds", 0.0) for c in checks)
    if confirming:
        lines += ["", f"Time spent confirming suspected failures: {confirming:.1f} s."]
    lines += [
        "",
        "## Checks",
        "",
        "| status | result | mean | median | p95 | ops/s | change vs baseline (95 % CI) | limits |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for check in checks:
        lines += _main_rows(check)
    lines += _count_section(checks)
    lines += _load_section(checks)
    lines += _scaling_section(checks)
    lines += _resource_section(checks)
    lines += _cache_section(checks)
    lines += _query_section(checks)
    lines += _http_section(checks)
    lines += _profile_section(checks)
    notes = [note for check in checks for note in check["notes"]]
    if notes:
        lines += ["", "## Notes", "", *[f"- {_cell(note)}" for note in notes]]
    lines += _environment(report)
    return "\n".join(lines) + "\n"
