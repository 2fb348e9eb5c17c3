"""HTTP load on Locust's distributed runner: local workers, remote workers, the same results."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.scenarios import load_scenario_file

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "pytest_aide" / "report" / "report.schema.json"

# Locust is a test dependency ([test] extra). It is never imported here: importing it
# lets gevent patch this process (an xdist worker's channel stops working).

SCENARIOS = """\
[scenarios.health]
server = "aide_system.web:app"
http = { url = "/health", expect_status = 200 }
load = { engine = "locust", workers = 2, concurrency = 10, requests = 400 }
thresholds = { p95 = "2s", error_rate_max = "5%" }

[scenarios.health_too_slow]
server = "aide_system.web:app"
http = { url = "/health", expect_status = 200 }
load = { engine = "locust", workers = 2, concurrency = 4, requests = 40 }
thresholds = { p95 = "1us" }
"""


def _project(pytester: pytest.Pytester, scenarios: str) -> None:
    pytester.makeini("[pytest]\npythonpath = .\n")
    (pytester.path / "aide_system").symlink_to(ROOT / "aide_system")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "web.toml").write_text(scenarios)


def _results(pytester: pytest.Pytester, check: str) -> dict[str, dict]:
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    (found,) = [c for c in report["checks"] if c["id"].endswith(f"::{check}")]
    return {r["kind"]: r for r in found["results"]}


def test_an_http_check_runs_on_two_local_locust_workers(pytester: pytest.Pytester) -> None:
    _project(pytester, SCENARIOS)
    result = pytester.runpytest("--aide-perf", "scenarios", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*health: 400 ok, 0 errors (0.0%), * req/s at concurrency 10*(locust)*",
            "*Locust, 2 worker(s) sent *",
            "*health_too_slow: p95 * > 1.00 us*",
        ]
    )
    report = json.loads((pytester.path / ".aide" / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    results = _results(pytester, "health")
    load, http = results["load"], results["http"]
    assert len(load["latencies"]) == 400 and load["errors"] == 0 and load["mode"] == "locust"
    assert all(0 < latency < 2 for latency in load["latencies"])  # seconds, as measured
    assert http["client"]["engine"] == "locust" and http["statuses"] == {"200": 400}
    per_worker = http["client"]["per_worker"]
    assert len(per_worker) == 2 and sum(per_worker.values()) == 400
    assert all(sent > 0 for sent in per_worker.values())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_remote_workers_join_a_master_bound_where_asked(pytester: pytest.Pytester) -> None:
    _project(pytester, SCENARIOS.split("\n\n")[0] + "\n")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    session = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "--aide-perf",
            "scenarios",
            "-p",
            "no:randomly",
            f"--aide-locust-master-bind=127.0.0.1:{port}",
        ],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Started as a user starts them on other machines: the locustfile comes from the master.
    worker = [
        sys.executable,
        "-m",
        "locust",
        "--worker",
        "-f",
        "-",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]
    time.sleep(1)
    workers = [
        subprocess.Popen(worker, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    try:
        out, _ = session.communicate(timeout=240)
    finally:
        for process in workers:
            process.kill()
            process.wait()
    assert session.returncode == 0, out
    http = _results(pytester, "health")["http"]
    assert len(http["client"]["per_worker"]) == 2
    assert sum(http["client"]["per_worker"].values()) == 400


@pytest.mark.parametrize(
    ("load", "line"),
    [
        (
            '{ engine = "gatling" }',
            "key 'load': unknown engine 'gatling' (known: aide, locust)",
        ),
        ("{ workers = 2 }", "key 'load': 'workers' are Locust's: add engine = \"locust\""),
        (
            '{ engine = "locust", rate = 50, requests = 10 }',
            "key 'load': engine 'locust' runs one level of closed-loop users: leave out "
            "'rate', 'timeout' and a list of concurrency levels",
        ),
        (
            '{ engine = "locust", workers = 0, requests = 10 }',
            "key 'load': key 'workers': expected a whole number from 1 to 1,000,000, got 0",
        ),
    ],
)
def test_a_bad_locust_load_is_one_line(tmp_path: Path, load: str, line: str) -> None:
    scenario = tmp_path / "web.toml"
    scenario.write_text(
        f'[scenarios.web]\nhttp = {{ url = "http://127.0.0.1:9/" }}\nload = {load}\n'
    )
    loaded = load_scenario_file(scenario, "web.toml")
    assert str(loaded.errors["web"]) == f"web.toml: scenario 'web': {line}"


def test_locust_without_an_http_table_is_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "calls.toml"
    scenario.write_text('[scenarios.calls]\ntarget = "m:f"\nload = { engine = "locust" }\n')
    loaded = load_scenario_file(scenario, "calls.toml")
    assert str(loaded.errors["calls"]) == (
        "calls.toml: scenario 'calls': key 'load': engine 'locust' sends HTTP requests: "
        "add an 'http' table"
    )


def test_a_locust_load_for_a_duration_stops_on_time(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        '[scenarios.health]\nserver = "aide_system.web:app"\nhttp = { url = "/health" }\n'
        'load = { engine = "locust", workers = 2, concurrency = 4, duration = "1s" }\n',
    )
    result = pytester.runpytest("--aide-perf", "scenarios", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    results = _results(pytester, "health")
    load, http = results["load"], results["http"]
    assert load["completed"] > 0 and load["errors"] == 0
    assert 0.8 < load["wall_time"] < 30  # about the second asked, never an endless run
    assert len(http["client"]["per_worker"]) == 2
