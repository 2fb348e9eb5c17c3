"""pytest-benchmark's JSON format, both ways.

Writing: aide's timings as a ``--benchmark-json`` file, with the statistics
computed by pytest-benchmark's own ``Stats``, so its ``compare`` command,
dashboards and github-action-benchmark read them. A counted result's count
goes in ``extra_info`` (``aide_instructions``, ``aide_cycles``, the calls
counted and ``aide_count``, the figure with its unit). Reading: a pytest-benchmark
file saved with ``--benchmark-save-data`` becomes timing results aide can
compare; that needs no pytest-benchmark installed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pytest_aide.results import CountResult, TimingResult

__all__ = ["is_benchmark_json", "read_benchmark_json", "to_benchmark_json"]


def is_benchmark_json(data: object) -> bool:
    """True for a file written by pytest-benchmark (or by ``--aide-benchmark-json``)."""
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def _count_info(check: dict[str, Any], name: str) -> dict[str, Any]:
    """``extra_info`` of a counted result: its valgrind count per call."""
    for data in check["results"]:
        if data["kind"] == "count" and data["name"] == name:
            count = CountResult.from_dict(data)
            info: dict[str, Any] = {
                "aide_measure": count.measure,
                "aide_instructions": count.instructions,
                "aide_count_calls": count.calls,
                "aide_count": count.summary(),
            }
            if count.cycles is not None:
                info["aide_cycles"] = count.cycles
            return info
    return {}


def _entry(check: dict[str, Any], result: dict[str, Any], alone: bool) -> dict[str, Any]:
    from pytest_benchmark.stats import Stats

    stats = Stats()
    for sample in result["samples"]:
        stats.update(sample)
    figures = stats.as_dict()
    figures["data"] = list(result["samples"])
    figures["iterations"] = result["calls_per_sample"]
    fullname = check["id"] if alone else f"{check['id']}[{result['name']}]"
    return {
        "group": None,
        "name": result["name"],
        "fullname": fullname,
        "params": None,
        "param": None,
        "extra_info": {
            "aide_status": check["status"],
            "aide_check": check["name"],
            **_count_info(check, result["name"]),
        },
        "options": {
            "disable_gc": result["gc"] == "disabled",
            "timer": "perf_counter",
            "min_rounds": len(result["samples"]),
            "max_time": 0,
            "min_time": 0,
            "warmup": result["warmup"] > 0,
        },
        "stats": figures,
    }


def to_benchmark_json(report: dict[str, Any]) -> dict[str, Any]:
    """The timings of a ``report.json`` as a pytest-benchmark JSON document.

    Needs pytest-benchmark (the ``benchmark`` extra): its ``Stats`` computes the figures.
    """
    from pytest_benchmark import __version__ as benchmark_version

    benchmarks = []
    for check in report["checks"]:
        timings = [r for r in check["results"] if r["kind"] == "timing" and r["mode"] == "perf"]
        benchmarks += [_entry(check, r, len(timings) == 1) for r in timings]
    machine = report["machine"]
    return {
        "machine_info": {
            "node": machine.get("slug", ""),
            "processor": machine.get("arch", ""),
            "machine": machine.get("arch", ""),
            "python_implementation": machine.get("implementation", ""),
            "python_version": machine.get("python", ""),
            "system": machine.get("os", ""),
            "release": machine.get("os_release", ""),
            "cpu": {"brand_raw": machine.get("cpu", ""), "count": machine.get("cores", 0)},
        },
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": report.get("created") or datetime.now(timezone.utc).isoformat(),
        "version": benchmark_version,
    }


def read_benchmark_json(data: dict[str, Any], source: str) -> dict[str, list[TimingResult]]:
    """Timing results by check id from a pytest-benchmark file.

    The check id is the benchmark's ``fullname`` (pytest's node id), without the
    ``[result]`` suffix that ``--aide-benchmark-json`` adds for a check with
    several timings. Raises ``ValueError`` naming a benchmark saved without its
    per-round data.
    """
    checks: dict[str, list[TimingResult]] = {}
    for bench in data["benchmarks"]:
        name = str(bench.get("name") or "")
        fullname = str(bench.get("fullname") or name)
        stats = bench.get("stats") or {}
        samples = stats.get("data")
        if not samples:
            raise ValueError(
                f"{source}: benchmark {fullname!r} has no per-round data; write it with "
                "--benchmark-json=FILE, or add --benchmark-save-data to --benchmark-save, so an "
                "interval can be estimated"
            )
        check_id = fullname.removesuffix(f"[{name}]") if name else fullname
        checks.setdefault(check_id, []).append(
            TimingResult(
                name or fullname,
                [float(sample) for sample in samples],
                calls_per_sample=int(stats.get("iterations", 1)),
                gc="disabled" if (bench.get("options") or {}).get("disable_gc") else "enabled",
            )
        )
    return checks
