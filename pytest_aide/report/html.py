"""``report.html``: one self-contained page with plotly charts, read from ``report.json`` data.

plotly.js is embedded once in the page, gzip-compressed (1.5 MB instead of
4.8 MB) and unpacked by the browser's ``DecompressionStream``, so the page opens
offline and stays light. Charts: timing
distributions per check, change against the baseline with its confidence
interval, load latency percentiles, sweep curves, memory peaks and, when a
history is kept, each check's trend over past runs.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import re
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from pytest_aide.history import Point
from pytest_aide.report.markdown import by_attention, confirmation_lines
from pytest_aide.results import CountResult, thin
from pytest_aide.units import format_duration, format_size

__all__ = ["render_html"]

_COLOURS = {
    "PASS": "#1a7f37",
    "IMPROVED": "#0969da",
    "REGRESSED": "#bc4c00",
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
(async () => {
  const packed = document.getElementById("aide-plotly").textContent;
  const run = (code) => {
    const script = document.createElement("script");
    script.textContent = code;
    document.head.appendChild(script);
  };
  try {
    const bytes = Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    run(await new Response(stream).text());
    const charts = document.querySelectorAll('script[type="CHART_TYPE"]');
    charts.forEach((chart) => run(chart.textContent));
  } catch (error) {
    document.querySelectorAll("div.chart").forEach((chart) => {
      chart.textContent = "Charts need a browser from 2023 or later: " + error;
    });
  }
})();
""".replace("CHART_TYPE", _DEFERRED)


@functools.lru_cache(maxsize=1)
def _packed_plotly() -> str:
    """plotly.js, gzip-compressed and base64-encoded (computed once per process)."""
    return base64.b64encode(gzip.compress(get_plotlyjs().encode(), 9, mtime=0)).decode()


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
    figure.update_layout(
        title=f"Time per call (up to {_POINTS} samples per check, evenly spaced)", showlegend=False
    )
    figure.update_xaxes(title="milliseconds per call", type="log")
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
    for _, comp in rows:
        figure.add_vline(x=comp["tolerance"] * 100, line_dash="dot", line_color="#bc4c00")
    figure.update_layout(title="Current against baseline: change with 95 % interval")
    figure.update_xaxes(title="change in time (or count) per call (%); dotted: allowed slowdown")
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
        figure.update_yaxes(title="requests/s", secondary_y=False)
        figure.update_yaxes(title="p95 ms", secondary_y=True)
        parts.append(_div(figure, f"sweep-{index}"))
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
                x=[p.run for p in run],
                y=[v * 1000 if v is not None else None for v in values],
                name=name + (" (p95)" if run[0].kind != "timing" else ""),
                mode="lines+markers",
                text=[f"{p.created} {p.status}" for p in run],
                hovertemplate="run %{x}: %{y:.4g} ms<br>%{text}<extra>" + name + "</extra>",
            )
        )
    figure.update_layout(title="History: median (load: p95) per run")
    figure.update_xaxes(title="run", tickformat="d", dtick=1)
    figure.update_yaxes(title="milliseconds", type="log")
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
                x=[p.run for p in run],
                y=[p.count for p in run],
                name=name,
                mode="lines+markers",
                text=[f"{p.created} {p.status}" for p in run],
                hovertemplate="run %{x}: %{y:.4s}<br>%{text}<extra>" + name + "</extra>",
            )
        )
    figure.update_layout(title="History: count per call (valgrind) per run")
    figure.update_xaxes(title="run", tickformat="d", dtick=1)
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
            elif result["kind"] == "count":
                counted = CountResult.from_dict(result).summary()
                figures += f"{html.escape(result['name'])}: {html.escape(counted)}; "
            elif stats.get("median") is not None:
                figures += (
                    f"{html.escape(result['name'])}: median {format_duration(stats['median'])}; "
                )
        shown = check["failures"] or confirmation_lines(check)
        why = "".join(f"<li>{html.escape(line)}</li>" for line in shown)
        limits = ", ".join(t["text"] for _, t in sorted(check["thresholds"].items())) or "-"
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


def render_html(report: dict[str, Any], history: Sequence[Point] = ()) -> str:
    """The whole page; ``history`` holds past runs' points for the trend chart."""
    checks = by_attention(report["checks"])
    totals, machine = report["totals"], report["machine"]
    charts = "".join(
        part
        for part in (
            _distributions(checks),
            _baseline_changes(checks),
            _load_percentiles(checks),
            _sweeps(checks),
            _memory(checks),
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
        f'<script type="application/gzip;base64" id="aide-plotly">{_packed_plotly()}</script>'
        f"<script>{_LOADER}</script></body></html>\n"
    )
