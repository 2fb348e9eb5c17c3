"""HTTP load against a live server: an aiohttp client with a pooled connector.

The client follows the tuning guide's network settings: a ``TCPConnector``
with a total and a per-host connection limit and keep-alive, and a
``ClientTimeout`` with total, connect and read limits; each can be set in the
scenario. A response whose status is not expected, a connection error and a
timeout are errors, counted by type (``HTTP 503``, ``ClientConnectorError``).
With ``retry`` the client retries connection errors, timeouts and 429, 502,
503 and 504 with exponential backoff and jitter; requests that needed it are
counted apart from first-try successes.

:class:`AppServer` starts the application under test (``python -m
pytest_aide.serve``) on loopback in a process of its own. Nothing but that
server and URLs the scenario gives is ever contacted.
"""

from __future__ import annotations

import asyncio
import os
import random
import select
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from pytest_aide.confirm import RetryError, RetryPolicy, retry_table
from pytest_aide.measure.load import LoadPlan, Progress, level_plans, run_load_async, sweep_result
from pytest_aide.results import HttpResult, LoadResult, SweepResult
from pytest_aide.serve import READY
from pytest_aide.units import UnitError, hint, parse_duration

__all__ = [
    "HTTP_OPTIONS",
    "NETWORK_RETRY",
    "RETRIED_STATUSES",
    "AppServer",
    "HttpError",
    "HttpSpec",
    "client_session",
    "http_spec",
    "run_http_load",
]

HTTP_OPTIONS = (
    "url",
    "method",
    "headers",
    "body",
    "expect_status",
    "limit",
    "limit_per_host",
    "keepalive_timeout",
    "total_timeout",
    "connect_timeout",
    "read_timeout",
    "retry",
)
"""Options of a scenario's ``http`` table."""
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses a client with ``retry`` tries again (as connection errors and timeouts)."""
_START_TIMEOUT = 30.0
NETWORK_RETRY = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=30.0, jitter=0.5)
"""The guide's network retry policy: what a ``retry`` table leaves out comes from it."""


class HttpError(ValueError):
    """An HTTP check that cannot run as described; the message is one line."""


@dataclass(frozen=True)
class HttpSpec:
    """One request, sent many times, and the client that sends it."""

    url: str
    """Absolute, or a path joined to the started server's base URL."""
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    expect_status: tuple[int, ...] = (200,)
    limit: int = 100
    """Connections the pool holds at most (the guide's ``limit=100``)."""
    limit_per_host: int = 30
    """Connections to one host at most (the guide's ``limit_per_host=30``)."""
    keepalive_timeout: float = 30.0
    total_timeout: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 10.0
    retry: RetryPolicy | None = None
    """Retries of connection errors, timeouts and 429/502/503/504; None: no retries."""

    def target(self, base: str | None) -> str:
        """The URL requested: :attr:`url`, joined to ``base`` when it is a path."""
        if urlsplit(self.url).scheme:
            return self.url
        if base is None:
            raise HttpError(
                f"url {self.url!r} is a path: name the server to start (server = "
                "'package.module:app') or give an absolute URL"
            )
        return urljoin(base + "/", self.url.lstrip("/"))


def _whole(value: object, key: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise HttpError(f"{key}: expected a whole number from {least}, got {value!r}")
    return value


def _seconds(value: object, key: str) -> float:
    try:
        seconds = parse_duration(value)
    except UnitError as exc:
        raise HttpError(f"{key}: {exc}") from None
    if seconds <= 0:
        raise HttpError(f"{key}: must be more than 0, got {value!r}")
    return seconds


def _statuses(value: object) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(
        isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in values
    ):
        raise HttpError(
            f"expect_status: expected an HTTP status or an array of them, got {value!r}"
        )
    return tuple(values)


def http_spec(table: object) -> HttpSpec:
    """Validate a scenario's ``http`` table; :class:`HttpError` names the option at fault."""
    if isinstance(table, str):
        table = {"url": table}
    if not isinstance(table, dict):
        raise HttpError(f"expected a table like {{ url = '/health' }}, got {table!r}")
    unknown = sorted(set(table) - set(HTTP_OPTIONS))
    if unknown:
        raise HttpError(f"unknown option {unknown[0]!r} ({hint(unknown[0], HTTP_OPTIONS)})")
    url = table.get("url")
    if not isinstance(url, str) or not url.strip():
        raise HttpError(f"url: expected '/path' or 'http://host:port/path', got {url!r}")
    scheme = urlsplit(url).scheme
    if scheme and scheme not in ("http", "https"):
        raise HttpError(f"url: expected an http:// or https:// URL, got {url!r}")
    method = table.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise HttpError(f"method: expected one of {', '.join(_METHODS)}, got {method!r}")
    headers = table.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise HttpError(f"headers: expected a table of strings, got {headers!r}")
    body = table.get("body")
    if body is not None and not isinstance(body, str):
        raise HttpError(f"body: expected a string, got {body!r}")
    retry = None
    if "retry" in table:
        try:
            retry = RetryPolicy.from_mapping(retry_table(table["retry"]), NETWORK_RETRY)
        except RetryError as exc:
            raise HttpError(f"retry: {exc}") from None
    return HttpSpec(
        url=url,
        method=method.upper(),
        headers=dict(headers),
        body=body,
        expect_status=_statuses(table.get("expect_status", 200)),
        limit=_whole(table.get("limit", 100), "limit"),
        limit_per_host=_whole(table.get("limit_per_host", 30), "limit_per_host"),
        keepalive_timeout=_seconds(table.get("keepalive_timeout", 30), "keepalive_timeout"),
        total_timeout=_seconds(table.get("total_timeout", 30), "total_timeout"),
        connect_timeout=_seconds(table.get("connect_timeout", 10), "connect_timeout"),
        read_timeout=_seconds(table.get("read_timeout", 10), "read_timeout"),
        retry=retry,
    )


@cache
def _status_error(status: int) -> type[Exception]:
    """An exception class named ``HTTP 503``, so errors are counted by status."""
    return type(f"HTTP {status}", (Exception,), {})


@dataclass
class _Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    first_try: int = 0
    after_retry: int = 0
    retries: int = 0


def client_session(spec: HttpSpec) -> Any:
    """An ``aiohttp.ClientSession`` with ``spec``'s pooled connector and timeouts.

    Made inside the running event loop; use it as ``async with``.
    """
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=spec.limit,
        limit_per_host=spec.limit_per_host,
        keepalive_timeout=spec.keepalive_timeout,
    )
    timeout = aiohttp.ClientTimeout(
        total=spec.total_timeout, connect=spec.connect_timeout, sock_read=spec.read_timeout
    )
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


async def run_http_load(
    spec: HttpSpec,
    base: str | None,
    *,
    name: str,
    plan: LoadPlan,
    levels: list[int] | None = None,
    progress: Progress | None = None,
) -> tuple[LoadResult | SweepResult, HttpResult]:
    """Send ``spec``'s request under ``plan`` (per level of a sweep) on the running loop."""
    import aiohttp

    url = spec.target(base)
    tally = _Tally()
    retryable = (aiohttp.ClientConnectionError, asyncio.TimeoutError)
    async with client_session(spec) as session:

        async def send() -> int:
            async with session.request(
                spec.method, url, headers=spec.headers, data=spec.body
            ) as response:
                await response.read()
                return response.status

        try:
            await send()
        except aiohttp.ClientConnectorError as exc:
            raise HttpError(f"cannot connect to {url}: {exc.os_error.strerror or exc}") from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise HttpError(f"{url}: {type(exc).__name__}: {exc}") from None

        async def request() -> None:
            await _request(send, spec, url, tally, retryable)

        plans = [plan] if levels is None else level_plans(plan, levels)
        results = [
            await run_load_async(request, (), {}, name=name, plan=level, progress=progress)
            for level in plans
        ]
    measured: LoadResult | SweepResult = (
        results[0] if levels is None else sweep_result(name, results)
    )
    return measured, _http_result(name, spec, url, tally)


async def _request(
    send: Callable[[], Awaitable[int]],
    spec: HttpSpec,
    url: str,
    tally: _Tally,
    retryable: tuple[type[BaseException], ...],
) -> None:
    """One request of the load, retried as ``spec.retry`` says; a failure raises."""
    attempt = 1
    while True:
        failure: BaseException | None = None
        status = 0
        try:
            status = await send()
        except retryable as exc:
            failure = exc
        if failure is None:
            tally.statuses[status] += 1
            if status in spec.expect_status:
                if attempt == 1:
                    tally.first_try += 1
                else:
                    tally.after_retry += 1
                return
            failure = _status_error(status)(
                f"{spec.method} {url} answered {status}, expected "
                + " or ".join(map(str, spec.expect_status))
            )
        again = failure is not None and (status == 0 or status in RETRIED_STATUSES)
        if spec.retry is None or not again or attempt >= spec.retry.max_attempts:
            raise failure
        tally.retries += 1
        await asyncio.sleep(spec.retry.delay(attempt, random.random()))
        attempt += 1


def _http_result(name: str, spec: HttpSpec, url: str, tally: _Tally) -> HttpResult:
    """What the requests were answered, and the client's settings."""
    return HttpResult(
        name,
        url=url,
        method=spec.method,
        statuses={str(k): v for k, v in sorted(tally.statuses.items())},
        first_try=tally.first_try,
        after_retry=tally.after_retry,
        retries=tally.retries,
        client={
            "limit": spec.limit,
            "limit_per_host": spec.limit_per_host,
            "keepalive_timeout": spec.keepalive_timeout,
            "total_timeout": spec.total_timeout,
            "connect_timeout": spec.connect_timeout,
            "read_timeout": spec.read_timeout,
            "retry_attempts": spec.retry.max_attempts if spec.retry else 1,
        },
    )


class AppServer:
    """The application under test, served on loopback by a process of its own while in use."""

    def __init__(self, app: str, root: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.app, self.root, self.port, self.host = app, root, port, host
        self.url: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._stderr: Any = None

    def __enter__(self) -> AppServer:
        """Start the server and wait until it listens; :class:`HttpError` if it cannot."""
        self._stderr = tempfile.TemporaryFile(mode="w+")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "pytest_aide.serve", self.app, "--root", str(self.root)]
        command += ["--host", self.host, "--port", str(self.port)]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
            cwd=self.root,
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + _START_TIMEOUT
        line = ""
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self._process.stdout], [], [], left)[0]:
                break  # a server that never says it listens
            line = self._process.stdout.readline()
            if not line or line.startswith(READY):
                break
        if not line.startswith(READY):
            problem = self._problem()
            self.__exit__(None, None, None)
            raise HttpError(f"server {problem}")
        self.url = line[len(READY) :].strip()
        return self

    def _problem(self) -> str:
        assert self._process is not None
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return f"{self.app!r} did not start listening within {_START_TIMEOUT:g} s"
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        last = lines[-1] if lines else f"exited with status {self._process.returncode}"
        return last if last.startswith(repr(self.app)) else f"{self.app!r}: {last}"

    def __exit__(self, *exc: object) -> None:
        """Stop the server (stdin closed, then SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
