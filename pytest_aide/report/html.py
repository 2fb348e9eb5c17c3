"""``report.html``: one page with plotly charts, read from ``report.json`` data.

plotly.js (4.8 MB) is not in the page: it is written once beside it, as
``plotly-<version>.min.js`` (:func:`plotly_asset`), and the page loads it by
that relative name, so the page opens offline from the report directory (or
a CI artifact of it) and stays a few hundred kB. Without the file the page
says which file to put beside it; ``inline=True`` embeds it instead. Charts: timing
distributions per check, change against the baseline with its confidence
interval, load latency percentiles, sweep curves, memory peaks, cache hit
rates, SQL statements per call and, when a history is kept, each check's trend
over past runs.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from typing import Any

import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from pytest_aide.changes import change_points
from pytest_aide.history import Point
from pytest_aide.report.markdown import by_attention, confirmation_lines
from pytest_aide.results import CountResult, ScalingResult, thin
from pytest_aide.units import format_duration, format_size
from pytest_aide.verdict import in_order

__all__ = ["render_html"]

_COLOURS = {
    "PASS": "#1a7f37",
    "IMPROVED": "#0969da",
    "REGRESSED": "#bc4c00",
    "NOT COMPARED": "#9a6700",
    "FAIL": "#cf222e",
    "ERROR": "#8250df",
    "SKIP": "#6e7781",
}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1f2328; }
h1 { margin-bottom: 0.2rem; } .sub { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d1d9e0; padding: 0.35rem 0.5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { color: white; border-radius: 0.3rem; padding: 0.1rem 0.4rem; font-weight: 600; }
.chart { margin: 1rem 0 2rem; } ul.why { margin: 0.2rem 0 0.8rem; color: #cf222e; }
"""


_POINTS = 200
"""Samples drawn per check in the distribution chart (the page stays small and quick)."""


def _ms(seconds: Sequence[float]) -> list[float]:
    return [s * 1000.0 for s in seconds]


def _div(figure: go.Figure, chart_id: str, height: int = 320) -> str:
    figure.update_layout(
        height=height, margin={"l": 60, "r": 20, "t": 50, "b": 50}, template="plotly_white"
    )
    body = figure.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id)
    # Drawn by _LOADER once plotly.js is unpacked, not as the page parses.
    body = re.sub(r"<script(?: type=\"text/javascript\")?>", f'<script type="{_DEFERRED}">', body)
    return f'<div class="chart" data-chart="{chart_id}">{body}</div>'


_DEFERRED = "text/x-aide-chart"
_LOADER = """
(() => {
  const charts = document.querySelectorAll("div.chart");
  if (typeof window.Plotly === "undefined") {
    charts.forEach((chart) => {
      chart.textContent = "Charts need ASSET beside this page (written with it).";
    });
    return;
  }
  document.querySelectorAll('script[type="CHART_TYPE"]').forEach((chart) => {
    const script = document.createElement("script");
    script.textContent = chart.textContent;
    document.head.appendChild(script);
  });
})();
""".replace("CHART_TYPE", _DEFERRED)


@functools.lru_cache(maxsize=1)
def plotly_asset() -> tuple[str, str]:
    """plotly.js as ``(file name, text)``: the file the page loads from its own directory."""
    return f"plotly-{plotly.__version__}.min.js", get_plotlyjs()


def _results(checks: list[dict[str, Any]], kind: str) -> list[tuple[dict, dict]]:
    return [(c, r) for c in checks for r in c["results"] if r["kind"] == kind]


def _distributions(checks: list[dict[str, Any]]) -> str:
    timings = [(c, r) for c, r in _results(checks, "timing") if r["mode"] == "perf"]
    if not timings:
        return ""
    figure = go.Figure()
    for check, result in timings:
        figure.add_trace(
            go.Box(
                x=_ms(thin(result["samples"], _POINTS)),
                name=result["name"],
                boxpoints="all",
                jitter=0.4,
                marker_color=_COLOURS.get(check["status"]),
                hovertemplate="%{x:.4g} ms<extra>" + html.escape(result["name"]) + "</extra>",
            )
        )
    baselines = [
        (result["name"], comp["baseline_median"])
        for check, result in timings
        for comp in check["comparisons"]
        if comp["result"] == result["name"]
        and comp.get("measure", "time") == "time"
        and comp.get("baseline_median") is not None
    ]
    if baselines:
        figure.add_trace(
            go.Scatter(
                x=_ms([median for _, median in baselines]),
                y=[name for name, _ in baselines],
                mode="markers",
                name="baseline median",
                marker={"symbol": "diamond-open", "size": 13, "color": "#1f2328"},
                hovertemplate="baseline median %{x:.4g} ms<extra>%{y}</extra>",
            )
        )
    title = f"Time per call (up to {_POINTS} samples per check, evenly spaced)"
    if baselines:
        title += "; ◇ baseline median"
    figure.update_layout(title=title, showlegend=False)
    figure.update_xaxes(title="milliseconds per call", type="log", tickformat="~g")
    return _div(figure, "distributions", 120 + 60 * len(timings))


def _baseline_changes(checks: list[dict[str, Any]]) -> str:
    rows = [(c, comp) for c in checks for comp in c["comparisons"]]
    if not rows:
        return ""
    names = [
        comp["result"] + (f" ({comp['measure']})" if comp.get("measure", "time") != "time" else "")
        for _, comp in rows
    ]
    change = [(comp["ratio"] - 1) * 100 for _, comp in rows]
    figure = go.Figure(
        go.Bar(
            y=names,
            x=change,
            orientation="h",
            marker_color=[_COLOURS.get(c["status"]) for c, _ in rows],
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [(comp["ci_high"] - comp["ratio"]) * 100 for _, comp in rows],
                "arrayminus": [(comp["ratio"] - comp["ci_low"]) * 100 for _, comp in rows],
            },
            hovertemplate="%{x:+.1f} %<extra>%{y}</extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            y=names,
            x=[comp["tolerance"] * 100 for _, comp in rows],
            mode="markers",
            marker={"symbol": "line-ns", "size": 26, "line": {"width": 3, "color": "#bc4c00"}},
            hovertemplate="allowed slowdown %{x:.3g} %<extra>%{y}</extra>",
        )
    )
    figure.add_vline(x=0, line_color="#59636e", line_width=1)
    figure.update_layout(
        title="Current against baseline: change with 95 % interval", showlegend=False
    )
    figure.update_xaxes(
        title="change in time (or count) per call (%); orange mark: that check's allowed slowdown"
    )
    return _div(figure, "baseline", 120 + 45 * len(rows))


def _load_percentiles(checks: list[dict[str, Any]]) -> str:
    loads = _results(checks, "load")
    if not loads:
        return ""
    figure = go.Figure()
    labels = [r["name"] for _, r in loads]
    for key, label in (("median", "p50"), ("p95", "p95"), ("p99", "p99"), ("max", "max")):
        figure.add_trace(
            go.Bar(
                name=label,
                x=labels,
                y=[(r["stats"].get(key) or 0.0) * 1000 for _, r in loads],
                hovertemplate="%{y:.4g} ms<extra>" + label + "</extra>",
            )
        )
    figure.update_layout(title="Load: latency percentiles", barmode="group")
    figure.update_yaxes(title="milliseconds", rangemode="tozero")
    return _div(figure, "load")


def _sweeps(checks: list[dict[str, Any]]) -> str:
    parts = []
    for index, (_, sweep) in enumerate(_results(checks, "sweep")):
        levels = sweep["levels"]
        x = [level["concurrency"] for level in levels]
        figure = make_subplots(specs=[[{"secondary_y": True}]])
        figure.add_trace(
            go.Scatter(
                x=x, y=[lv["throughput"] for lv in levels], name="req/s", mode="lines+markers"
            ),
            secondary_y=False,
        )
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[(lv["stats"].get("p95") or 0.0) * 1000 for lv in levels],
                name="p95 (ms)",
                mode="lines+markers",
                line_dash="dash",
            ),
            secondary_y=True,
        )
        figure.add_vline(x=sweep["knee"], line_dash="dot", annotation_text=f"knee {sweep['knee']}")
        figure.update_layout(title=f"Sweep {sweep['name']}: throughput and p95 by concurrency")
        figure.update_xaxes(title="concurrency", type="log", tickvals=x)
        figure.update_yaxes(title="requests/s", rangemode="tozero", secondary_y=False)
        figure.update_yaxes(title="p95 ms", rangemode="tozero", secondary_y=True)
        parts.append(_div(figure, f"sweep-{index}"))
    return "".join(parts)


def _scaling(checks: list[dict[str, Any]]) -> str:
    """Per scaling check, log-log: cost per size, the fitted order and the declared bound."""
    parts = []
    for index, (_, data) in enumerate(_results(checks, "scaling")):
        result = ScalingResult.from_dict(data)
        sizes = result.sizes
        exact = result.counts is not None
        measured = result.counts if exact else data["medians"]
        scale = 1.0 if exact else 1000.0  # milliseconds
        unit = (
            f"{result.measure} per call"
            if exact
            else f"{result.basis.split()[0]} milliseconds per call"
        )
        figure = go.Figure()
        figure.add_trace(
            go.Scatter(x=sizes, y=[v * scale for v in measured], name="measured", mode="markers")
        )
        if result.unjudged() is None:
            fit, declared = result.fit, result.declared
            dense = [sizes[0] * (sizes[-1] / sizes[0]) ** (i / 40) for i in range(41)]
            figure.add_trace(
                go.Scatter(
                    x=dense,
                    y=[fit.predict(n) * scale for n in dense],
                    name=f"fitted: {fit.best.name} (exponent {fit.exponent:.2f})",
                    mode="lines",
                )
            )
            anchor = fit.predict(sizes[0]) / declared.g(sizes[0])
            figure.add_trace(
                go.Scatter(
                    x=dense,
                    y=[anchor * declared.g(n) * scale for n in dense],
                    name=f"declared bound: {declared.name} (from the smallest size)",
                    mode="lines",
                    line_dash="dash",
                )
            )
        figure.update_layout(title=f"Scaling {result.name}: {unit} by {result.arg} (log-log)")
        figure.update_xaxes(title=result.arg, type="log", tickvals=sizes, tickformat="~s")
        figure.update_yaxes(title=unit, type="log", tickformat="~g")
        parts.append(_div(figure, f"scaling-{index}"))
    return "".join(parts)


def _memory(checks: list[dict[str, Any]]) -> str:
    memory = _results(checks, "memory")
    if not memory:
        return ""
    names = [r["name"] for _, r in memory]
    figure = go.Figure(
        [
            go.Bar(name="peak", x=names, y=[r["peak_bytes"] / 1024 for _, r in memory]),
            go.Bar(name="still held", x=names, y=[r["leaked_bytes"] / 1024 for _, r in memory]),
        ]
    )
    figure.update_layout(title="Memory (memray): peak and still held at the end", barmode="group")
    figure.update_yaxes(title="KiB")
    return _div(figure, "memory")


def _caches(checks: list[dict[str, Any]]) -> str:
    found = _results(checks, "cache")
    rows = [(r["name"], cache) for _, r in found for cache in r["caches"]]
    if not rows:
        return ""
    labels = [f"{name}: {cache['name']}" for name, cache in rows]
    figure = go.Figure(
        go.Bar(
            x=[(cache["hit_rate"] or 0.0) * 100 for _, cache in rows],
            y=labels,
            orientation="h",
            text=[f"{cache['hits']:,} hits, {cache['misses']:,} misses" for _, cache in rows],
            hovertemplate="%{y}: %{x:.1f} %% hits<br>%{text}<extra></extra>",
            name="hit rate",
        )
    )
    for check, r in found:
        limit = (check.get("thresholds") or {}).get("cache_hit_rate_min")
        if limit is None:
            continue
        own = [label for label, (name, _) in zip(labels, rows, strict=True) if name == r["name"]]
        figure.add_trace(
            go.Scatter(
                x=[limit["limit"] * 100] * len(own),
                y=own,
                mode="markers",
                marker={"symbol": "line-ns-open", "size": 18, "color": "#cf222e"},
                name="cache_hit_rate_min",
                hovertemplate=f"{check['id']}: limit %{{x:.1f}} %<extra></extra>",
                showlegend=False,
            )
        )
    figure.update_layout(title="Caches: hit rate over the measured calls (limit marked)")
    figure.update_xaxes(title="hits per lookup, %", range=[0, 100])
    return _div(figure, "caches", 120 + 40 * len(rows))


def _queries(checks: list[dict[str, Any]]) -> str:
    found = _results(checks, "queries")
    if not found:
        return ""
    figure = go.Figure()
    names = [r["name"] for _, r in found]
    shapes: dict[str, list[float]] = {}
    for index, (_, r) in enumerate(found):
        for entry in r["top"]:
            row = shapes.setdefault(entry["statement"], [0.0] * len(found))
            row[index] = entry["count"] / r["calls"]
    for statement, per_call in shapes.items():
        label = statement if len(statement) <= 60 else statement[:57] + "..."
        figure.add_trace(
            go.Bar(
                x=names,
                y=per_call,
                name=label,
                hovertemplate=f"{html.escape(statement)}<br>%{{y:.4g}} per call<extra></extra>",
            )
        )
    figure.update_layout(
        title="SQL statements per call, by statement (a tall single block is an N+1)",
        barmode="stack",
        legend={"font": {"size": 10}},
    )
    figure.update_yaxes(title="statements per call", rangemode="tozero")
    return _div(figure, "queries", 360)


def _run_label(point: Point) -> str:
    """``#12 1a2b3c4 11-26``: the run, its commit where recorded, and its day."""
    commit = f" {point.commit[:7]}" if point.commit else ""
    return f"#{point.run}{commit} {point.created[5:10]}"


def _run_order(points: Sequence[Point]) -> list[str]:
    return [_run_label(p) for p in sorted({p.run: p for p in points}.values(), key=lambda p: p.run)]


def _mark_changes(
    figure: go.Figure,
    run: list[Point],
    values: list[float | None],
    name: str,
    scale: float = 1000,
) -> None:
    """Stars on the first run of each new level that :mod:`pytest_aide.changes` finds."""
    kept = [(p, v) for p, v in zip(run, values, strict=True) if v is not None and v > 0]
    found = change_points([v for _, v in kept])
    if not found:
        return
    figure.add_trace(
        go.Scatter(
            x=[_run_label(kept[c.index][0]) for c in found],
            y=[kept[c.index][1] * scale for c in found],
            name=f"{name}: change point",
            mode="markers",
            marker={"symbol": "star", "size": 14, "line": {"width": 1}},
            text=[
                f"{(c.size.ratio - 1) * 100:+.1f} % (95 % CI {(c.size.low - 1) * 100:+.1f} "
                f"to {(c.size.high - 1) * 100:+.1f} %) from here"
                for c in found
            ],
            hovertemplate="%{x}: %{text}<extra>" + name + "</extra>",
        )
    )


def _trends(points: Sequence[Point]) -> str:
    series: dict[str, list[Point]] = {}
    for point in points:
        if point.kind in ("timing", "load"):
            series.setdefault(point.result, []).append(point)
    if not any(len(s) > 1 for s in series.values()):
        return ""
    figure = go.Figure()
    for name, run in series.items():
        values = [p.median if p.kind == "timing" else p.p95 for p in run]
        figure.add_trace(
            go.Scatter(
                x=[_run_label(p) for p in run],
                y=[v * 1000 if v is not None else None for v in values],
                name=name + (" (p95)" if run[0].kind != "timing" else ""),
                mode="lines+markers",
                text=[f"{p.created} {p.status}" for p in run],
                hovertemplate="%{x}: %{y:.4g} ms<br>%{text}<extra>" + name + "</extra>",
            )
        )
        _mark_changes(figure, run, values, name)
    figure.update_layout(title="History: median (load: p95) per run (stars: change points)")
    figure.update_xaxes(
        title="run: number, commit, date",
        type="category",
        categoryorder="array",
        categoryarray=_run_order(points),
    )
    figure.update_yaxes(title="milliseconds", type="log", tickformat="~g")
    return _div(figure, "history", 380)


def _count_trends(points: Sequence[Point]) -> str:
    series: dict[str, list[Point]] = {}
    for point in points:
        if point.kind == "count" and point.count is not None:
            series.setdefault(point.result, []).append(point)
    if not any(len(s) > 1 for s in series.values()):
        return ""
    figure = go.Figure()
    for name, run in series.items():
        figure.add_trace(
            go.Scatter(
                x=[_run_label(p) for p in run],
                y=[p.count for p in run],
                name=name,
                mode="lines+markers",
                text=[f"{p.created} {p.status}" for p in run],
                hovertemplate="%{x}: %{y:.4s}<br>%{text}<extra>" + name + "</extra>",
            )
        )
        _mark_changes(figure, run, [p.count for p in run], name, scale=1)
    figure.update_layout(title="History: count per call (valgrind) per run (stars: change points)")
    figure.update_xaxes(
        title="run: number, commit, date",
        type="category",
        categoryorder="array",
        categoryarray=_run_order(points),
    )
    figure.update_yaxes(title="instructions (or estimated cycles) per call")
    return _div(figure, "count-history", 380)


def _summary_table(checks: list[dict[str, Any]]) -> str:
    rows = []
    for check in checks:
        colour = _COLOURS.get(check["status"], "#6e7781")
        figures = ""
        for result in check["results"]:
            stats = result.get("stats") or {}
            if result["kind"] == "sweep":
                figures += f"knee at concurrency {result['knee']}; "
            elif result["kind"] == "memory":
                figures += f"peak {format_size(result['peak_bytes'])}; "
            elif result["kind"] == "cache":
                rate = result["hit_rate"]
                shown = "no cache lookups" if rate is None else f"cache hit rate {rate:.1%}"
                figures += f"{shown}; "
            elif result["kind"] == "http":
                statuses = ", ".join(f"{k} ×{v:,}" for k, v in result["statuses"].items())
                figures += (
                    f"{html.escape(result['method'])} {html.escape(result['url'])}: "
                    f"{html.escape(statuses)}; "
                )
                if result["after_retry"]:
                    figures += f"{result['after_retry']:,} ok after retries; "
            elif result["kind"] == "queries":
                figures += f"{result['per_call']:,.4g} SQL statements per call; "
            elif result["kind"] == "count":
                counted = CountResult.from_dict(result).summary()
                figures += f"{html.escape(result['name'])}: {html.escape(counted)}; "
            elif stats.get("median") is not None:
                figures += (
                    f"{html.escape(result['name'])}: median {format_duration(stats['median'])}; "
                )
        shown = check["failures"] or confirmation_lines(check)
        why = "".join(f"<li>{html.escape(line)}</li>" for line in shown)
        why += "".join(_profile_item(profile) for profile in check.get("profiles") or [])
        thresholds = check["thresholds"]
        limits = ", ".join(thresholds[key]["text"] for key in in_order(thresholds)) or "-"
        rows.append(
            f'<tr><td><span class="badge" style="background:{colour}">{check["status"]}</span></td>'
            f"<td><code>{html.escape(check['id'])}</code>"
            + (f'<ul class="why">{why}</ul>' if why else "")
            + f"</td><td>{figures.rstrip('; ') or '-'}</td>"
            f"<td>{html.escape(limits)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>status</th><th>check</th><th>figures</th><th>limits</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _profile_item(profile: dict[str, Any]) -> str:
    """A list item naming a profile's costliest function and linking its files."""
    links = " · ".join(
        f'<a href="{html.escape(path)}">{html.escape(kind)}</a>'
        for kind, path in profile["files"].items()
    )
    top = max(profile["functions"], key=lambda f: f["own"], default=None)
    most = (
        f": most own time in {html.escape(top['function'])} ({format_duration(top['own'])}/call)"
        if top
        else ""
    )
    return f"<li>profile of {html.escape(profile['name'])}{most}" + (
        f" ({links})</li>" if links else "</li>"
    )


def _plotly_script(inline: bool) -> str:
    name, text = plotly_asset()
    if inline:
        return f"<script>{text}</script>"
    return f'<script src="{html.escape(name)}"></script>'


def render_html(
    report: dict[str, Any], history: Sequence[Point] = (), *, inline: bool = False
) -> str:
    """The whole page; ``history`` holds past runs' points for the trend chart.

    The page loads :func:`plotly_asset`'s file from its own directory, or, with
    ``inline``, carries plotly.js itself (4.8 MB).
    """
    checks = by_attention(report["checks"])
    totals, machine = report["totals"], report["machine"]
    asset = html.escape(plotly_asset()[0])
    charts = "".join(
        part
        for part in (
            _distributions(checks),
            _baseline_changes(checks),
            _load_percentiles(checks),
            _sweeps(checks),
            _scaling(checks),
            _memory(checks),
            _caches(checks),
            _queries(checks),
            _trends(history),
            _count_trends(history),
        )
        if part
    )
    subtitle = (
        f"{totals['passed']} of {totals['checks']} checks passed · profile "
        f"{html.escape(report['profile'])} · {html.escape(report['created'])} · "
        f"{html.escape(machine['os'])} {html.escape(machine['arch'])}, {machine['cores']} cores, "
        f"{html.escape(machine['implementation'])} {html.escape(machine['python'])}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>pytest-aide performance report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f'<h1>pytest-aide performance report</h1><p class="sub">{subtitle}</p>'
        f"{_summary_table(checks)}{charts}"
        f"{_plotly_script(inline)}<script>{_LOADER.replace('ASSET', asset)}</script>"
        "</body></html>\n"
    )
