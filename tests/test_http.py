"""HTTP load against live servers on loopback: the aiohttp client, retries, servers started."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import jsonschema
import pytest

from pytest_aide.measure.http import AppServer, HttpError, http_spec, run_http_load
from pytest_aide.measure.load import LoadPlan
from pytest_aide.results import HttpResult, LoadResult, result_from_dict

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "pytest_aide" / "report" / "report.schema.json"

APPS = """
import itertools
from aiohttp import web

_count = itertools.count()

async def ok(request):
    return web.json_response({"ok": True})

async def every_other(request):
    # Odd requests fail with 503: a flaky upstream.
    if next(_count) % 2:
        return web.Response(status=503, text="busy")
    return web.Response(text="fine")

async def missing(request):
    return web.Response(status=404)

def make_app():
    app = web.Application()
    app.add_routes([web.get("/ok", ok), web.get("/flaky", every_other), web.get("/404", missing)])
    return app

app = make_app()

def broken_factory():
    raise RuntimeError("no config file")

async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    head = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": b"asgi"})

not_an_app = 42
"""


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    (tmp_path / "httpapps.py").write_text(APPS)
    return tmp_path


def _load(spec: dict, base: str | None, **plan: int) -> tuple[LoadResult, HttpResult]:
    coro = run_http_load(http_spec(spec), base, name="h", plan=LoadPlan(**plan))
    measured, http = asyncio.run(coro)
    assert isinstance(measured, LoadResult)
    return measured, http


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"url": "/x", "treshold": 1}, "unknown option 'treshold'"),
        ({"url": "ftp://example.org/x"}, "url: expected an http:// or https:// URL"),
        ({"url": "/x", "method": "FETCH"}, "method: expected one of GET, HEAD, POST"),
        ({"url": "/x", "expect_status": 700}, "expect_status: expected an HTTP status"),
        ({"url": "/x", "limit": 0}, "limit: expected a whole number from 1, got 0"),
        ({"url": "/x", "keepalive_timeout": "soon"}, "keepalive_timeout: "),
        ({"url": "/x", "retry": {"max_atempts": 2}}, "retry: unknown key 'max_atempts'"),
        ({"url": ""}, "url: expected '/path' or 'http://host:port/path'"),
    ],
)
def test_a_bad_http_table_is_one_line_naming_the_option(table: dict, message: str) -> None:
    with pytest.raises(HttpError) as raised:
        http_spec(table)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_guides_client_settings_are_the_defaults() -> None:
    spec = http_spec("/health")
    assert (spec.limit, spec.limit_per_host, spec.keepalive_timeout) == (100, 30, 30.0)
    assert (spec.total_timeout, spec.connect_timeout, spec.read_timeout) == (30.0, 10.0, 10.0)
    assert spec.retry is None
    retried = http_spec({"url": "/h", "retry": {"max_attempts": 2}})
    assert retried.retry is not None and retried.retry.max_attempts == 2
    assert retried.retry.base_delay == 1.0 and retried.retry.max_delay == 30.0


def test_a_started_server_answers_and_statuses_are_counted(apps: Path) -> None:
    with AppServer("httpapps:app", apps) as server:
        assert server.url is not None and server.url.startswith("http://127.0.0.1:")
        measured, http = _load({"url": "/ok"}, server.url, concurrency=4, requests=40)
        missing, not_found = _load({"url": "/404"}, server.url, concurrency=2, requests=6)
    assert measured.completed == 40 and measured.errors == 0
    assert http.statuses == {"200": 40} and (http.first_try, http.after_retry) == (40, 0)
    assert missing.errors == 6 and missing.error_types == {"HTTP 404": 6}
    assert "answered 404, expected 200" in missing.error_messages[0]
    assert not_found.statuses == {"404": 6}


def test_retries_follow_the_policy_and_are_counted_apart(apps: Path) -> None:
    fast = {"max_attempts": 3, "base_delay": "1ms", "max_delay": "5ms"}
    with AppServer("httpapps:make_app", apps) as server:
        plain, _ = _load({"url": "/flaky"}, server.url, concurrency=1, requests=20)
        retried, http = _load(
            {"url": "/flaky", "retry": fast}, server.url, concurrency=1, requests=20
        )
    assert plain.errors == 10 and plain.error_types == {"HTTP 503": 10}
    assert retried.errors == 0 and retried.completed == 20
    # Answers alternate and each retry takes the next one: once a request meets a 503,
    # its retry gets the 200 and the next request the 503 again. So every request but
    # perhaps the first needed exactly one retry.
    assert http.first_try + http.after_retry == 20 and http.after_retry in (19, 20)
    assert http.retries == http.after_retry
    assert http.statuses["503"] == http.retries and http.statuses["200"] == 20


def test_an_asgi_application_is_served_by_uvicorn(apps: Path) -> None:
    pytest.importorskip("uvicorn")
    with AppServer("httpapps:asgi", apps) as server:
        measured, http = _load({"url": "/"}, server.url, concurrency=2, requests=10)
    assert measured.completed == 10 and http.statuses == {"200": 10}


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("httpapps:nothing", "server 'httpapps:nothing': 'httpapps' has no attribute 'nothing'"),
        ("no_module_here:app", "server 'no_module_here:app': cannot import 'no_module_here'"),
        ("httpapps:broken_factory", "failed: RuntimeError: no config file"),
        ("httpapps:not_an_app", "int is neither an aiohttp.web.Application"),
    ],
)
def test_a_server_that_does_not_start_is_one_line(apps: Path, app: str, message: str) -> None:
    with pytest.raises(HttpError) as raised, AppServer(app, apps):
        pass
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_port_in_use_is_one_line(apps: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HttpError) as raised, AppServer("httpapps:app", apps, port=port):
            pass
    assert f"cannot listen on 127.0.0.1:{port}: " in str(raised.value)
    assert "address already in use" in str(raised.value).lower()


def test_an_unreachable_url_is_one_line() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(HttpError) as raised:
            _load({"url": f"http://127.0.0.1:{port}/x"}, None, concurrency=1, requests=1)
    assert f"cannot connect to http://127.0.0.1:{port}/x: " in str(raised.value)


def test_a_path_needs_a_server() -> None:
    with pytest.raises(HttpError, match="url '/x' is a path: name the server to start"):
        _load({"url": "/x"}, None, concurrency=1, requests=1)


def test_a_result_survives_its_dict_and_the_schema_describes_it() -> None:
    result = HttpResult(
        "h", "http://127.0.0.1:1/x", "GET", {"200": 3, "503": 1}, 2, 1, 1, {"limit": 100}
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert result_from_dict(data) == result
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(data, {"$defs": schema["$defs"], "$ref": "#/$defs/result"})


SCENARIOS = """
[scenarios.health]
server = "httpapps:app"
http = { url = "/ok", limit_per_host = 8 }
load = { concurrency = 8, requests = 80 }
thresholds = { p95 = "10s", throughput_min = 1, error_rate_max = 0 }

[scenarios.flaky_retried]
server = "httpapps:make_app"
http = { url = "/flaky", retry = { max_attempts = 3, base_delay = "1ms", max_delay = "2ms" } }
load = { concurrency = 1, requests = 20 }
thresholds = { error_rate_max = 0 }

[scenarios.flaky]
server = "httpapps:make_app"
http = { url = "/flaky" }
load = { concurrency = 1, requests = 20 }
thresholds = { error_rate_max = "5%" }

[scenarios.no_server]
server = "httpapps:nothing"
http = { url = "/ok" }

[scenarios.target_too]
target = "httpapps:make_app"
http = { url = "/ok" }
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(httpapps=APPS)
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "web.toml").write_text(SCENARIOS)
    return pytester


def test_http_scenarios_start_their_server_and_gate_the_load(project: pytest.Pytester) -> None:
    result = project.runpytest("--aide-perf", "-p", "no:randomly", "scenarios")
    result.assert_outcomes(passed=2, failed=2, errors=1)
    result.stdout.fnmatch_lines(["flaky: error_rate 50.0% > 5.0%"])
    result.stdout.fnmatch_lines(
        ["*scenario 'no_server': server 'httpapps:nothing': 'httpapps' has no attribute*"]
    )
    result.stdout.fnmatch_lines(["*scenario 'target_too': keys 'target' and 'http': give one*"])
    result.stdout.fnmatch_lines(
        [
            "health: 80 ok, 0 errors (0.0%)*at concurrency 8 (async)*",
            "health: GET http://127.0.0.1:*/ok: 200 x80; 80 ok first try, 0 after retries "
            "(0 retries); pool 100, 8 per host, keep-alive 30.00 s",
        ]
    )
    result.stdout.fnmatch_lines(["flaky_retried: GET *: 200 x20, 503 x*; * after retries*"])
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    markdown = (project.path / ".aide" / "report.md").read_text()
    assert "## HTTP" in markdown and "| `health` | `GET http://127.0.0.1:" in markdown


def test_without_perf_one_request_is_sent_to_a_started_server(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:randomly", "scenarios", "-k", "health or no_server")
    result.assert_outcomes(passed=1, failed=1)


def test_the_bundled_web_app_serves_health_and_diagnosis() -> None:
    with AppServer("aide_system.web:app", ROOT) as server:
        health, _ = _load({"url": "/health"}, server.url, concurrency=5, requests=20)
        diagnosis, _ = _load({"url": "/diagnosis?top=2"}, server.url, concurrency=2, requests=4)
        bad, http = _load(
            {"url": "/diagnosis?top=x", "expect_status": 400}, server.url, concurrency=1, requests=2
        )
    assert health.errors == 0 and diagnosis.errors == 0 and bad.errors == 0
    assert http.statuses == {"400": 2}


def test_results_come_back_from_xdist_workers(project: pytest.Pytester) -> None:
    result = project.runpytest(
        "--aide-perf", "-p", "no:randomly", "-n", "2", "scenarios", "-k", "health or flaky_retried"
    )
    result.assert_outcomes(passed=2)
    report = json.loads((project.path / ".aide" / "report.json").read_text())
    kinds = sorted(r["kind"] for c in report["checks"] for r in c["results"])
    assert kinds == ["http", "http", "load", "load"]
    result.stdout.fnmatch_lines(["health: GET http://127.0.0.1:*/ok: 200 x80; *"])


def test_a_sweep_sends_each_level(apps: Path) -> None:
    with AppServer("httpapps:app", apps) as server:
        coro = run_http_load(
            http_spec("/ok"), server.url, name="s", plan=LoadPlan(1, requests=8), levels=[1, 4]
        )
        sweep, http = asyncio.run(coro)
    assert [level.concurrency for level in sweep.levels] == [1, 4]
    assert all(level.completed == 8 for level in sweep.levels)
    assert http.statuses == {"200": 16}
