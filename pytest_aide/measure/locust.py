"""HTTP load on Locust's distributed runner: a master and N worker processes, or remote workers.

For load beyond what one process (or one machine) can send, an HTTP check
can run on Locust (``load = { engine = "locust", workers = N }``). A
locustfile is written for the check: one ``FastHttpUser`` sending the
check's request with no wait, each user stopping after its share of the
requests (or at the load's duration). Locust runs as separate processes
(``python -m locust``): its gevent monkey-patching never touches the pytest
process. The master starts, ``workers`` local workers join it (or, with a
master bind address, remote ones started as ``locust --worker -f -
--master-host HOST --master-port PORT``, which fetch the locustfile from the
master); each user records every request's exact response time and, when it
stops, sends them to the master with its worker's id; the master writes
them out and quits once every user has. The result is the
same :class:`~pytest_aide.results.LoadResult` and
:class:`~pytest_aide.results.HttpResult` as aide's own driver, with the
requests each worker sent.

Knows nothing of pytest.
"""

from __future__ import annotations

import importlib.util
import json
import math
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_aide.measure.http import HttpError, HttpSpec
from pytest_aide.measure.load import LoadPlan
from pytest_aide.results import HttpResult, LoadResult

__all__ = ["LOCUST_MISSING", "locust_installed", "run_locust_load"]

LOCUST_MISSING = "load engine 'locust' needs Locust: pip install 'pytest-aide[locust]'"

LOCUSTFILE = '''"""Written by pytest-aide for one HTTP check."""
import json, time
import locust.runners
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

SPEC = json.loads({spec!r})


class AideUser(FastHttpUser):
    wait_time = constant(0)
    host = SPEC["host"]

    def on_start(self):
        self.left = SPEC["per_user"]
        self.until = time.monotonic() + SPEC["duration"] if SPEC["duration"] else None
        self.times, self.errors, self.statuses = [], {{}}, {{}}
        self.first = self.last = None

    @task
    def send(self):
        if (self.left is not None and self.left <= 0) or (
            self.until is not None and time.monotonic() >= self.until
        ):
            runner = self.environment.runner
            runner.send_message("aide_user", {{
                "worker": runner.client_id, "times": self.times, "errors": self.errors,
                "statuses": self.statuses, "first": self.first, "last": self.last,
            }})
            raise StopUser()
        if self.left is not None:
            self.left -= 1
        began = time.time()
        with self.client.request(
            SPEC["method"], SPEC["path"], headers=SPEC["headers"], data=SPEC["body"],
            catch_response=True, name="aide",
        ) as response:
            status = response.status_code or 0
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if status in SPEC["expect"]:
                response.success()
                self.times.append(response.request_meta["response_time"] / 1000.0)
            else:
                kind = f"HTTP {{status}}" if status else type(response.error).__name__
                self.errors[kind] = self.errors.get(kind, 0) + 1
                response.failure(kind)
        self.first = began if self.first is None else self.first
        self.last = time.time()


@events.init.add_listener
def _listen(environment, **kwargs):
    runner = environment.runner
    if isinstance(runner, locust.runners.MasterRunner):
        reports = []

        def user_done(environment, msg, **kwargs):
            reports.append(msg.data)
            if len(reports) >= SPEC["users"]:
                with open(SPEC["out"], "w") as out:
                    json.dump(reports, out)
                environment.runner.quit()

        runner.register_message("aide_user", user_done)
'''


def locust_installed() -> bool:
    """Whether Locust can be run from this interpreter (without importing it here)."""
    return importlib.util.find_spec("locust") is not None


def _locustfile(
    spec: HttpSpec, url: str, plan: LoadPlan, workers: int, out: Path, where: Path
) -> Path:
    concurrency = plan.concurrency
    per_user = math.ceil(plan.requests / concurrency) if plan.requests else None
    base, _, path = url.partition("://")
    host, slash, rest = path.partition("/")
    settings = {
        "host": f"{base}://{host}",
        "path": slash + rest,
        "method": spec.method,
        "headers": dict(spec.headers),
        "body": spec.body,
        "expect": list(spec.expect_status),
        "per_user": per_user,
        "duration": plan.duration,
        "users": concurrency,
        "out": str(out),
    }
    file = where / "aide_locustfile.py"
    file.write_text(LOCUSTFILE.format(spec=json.dumps(settings)))
    return file


def _command(file: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(file), "--skip-log-setup", *args]


def run_locust_load(
    spec: HttpSpec,
    url: str,
    *,
    name: str,
    plan: LoadPlan,
    workers: int,
    master_bind: tuple[str, int] | None = None,
    progress: Any = None,
) -> tuple[LoadResult, HttpResult]:
    """Send ``spec``'s request to ``url`` under ``plan`` on Locust with ``workers`` workers.

    Local workers are started here unless ``master_bind`` is given; then the
    master listens there and waits for ``workers`` remote workers.
    """
    if not locust_installed():
        raise HttpError(LOCUST_MISSING)
    if plan.requests is None and plan.duration is None:
        raise HttpError("load engine 'locust': give requests = N or duration = '10s'")
    with tempfile.TemporaryDirectory(prefix="aide-locust-") as scratch:
        where = Path(scratch)
        out = where / "workers.json"
        file = _locustfile(spec, url, plan, workers, out, where)
        host, port = master_bind or ("127.0.0.1", 0)
        port = port or _free_port(host)
        limit = (plan.duration or 0) + 600
        if master_bind is not None and progress is not None:
            progress(
                f"aide: {name}: Locust's master waits on {host}:{port} for {workers} worker(s): "
                f"locust --worker -f - --master-host HOST --master-port {port}"
            )
        stderr = _run(file, plan.concurrency, workers, (host, port), master_bind is None, limit)
        if not out.is_file():
            why = (stderr.strip().splitlines() or ["no output"])[-1]
            raise HttpError(f"Locust ended without every worker's report: {why}")
        return _results(name, spec, url, plan, json.loads(out.read_text()))


def _run(
    file: Path, users: int, workers: int, bind: tuple[str, int], local: bool, limit: float
) -> str:
    """Run the master (and ``workers`` local workers) to its end; the master's stderr."""
    host, port = bind
    master_args = ["--headless", "--master", "--expect-workers", str(workers)]
    master_args += ["--master-bind-host", host, "--master-bind-port", str(port)]
    master_args += ["-u", str(users), "-r", str(users), "--stop-timeout", "5"]
    master_args += ["--run-time", f"{int(limit)}s", "--expect-workers-max-wait", "60"]
    master = subprocess.Popen(
        _command(file, *master_args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    started = [
        subprocess.Popen(
            _command(file, *worker_args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(workers if local else 0)
    ]
    try:
        _, stderr = master.communicate(timeout=limit + 120)
    except subprocess.TimeoutExpired:
        master.kill()
        _, stderr = master.communicate()
    finally:
        for worker in started:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    return stderr


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _results(
    name: str,
    spec: HttpSpec,
    url: str,
    plan: LoadPlan,
    reports: list[dict[str, Any]],
) -> tuple[LoadResult, HttpResult]:
    """The users' reports (each with its worker) as aide's results."""
    latencies = [float(t) for report in reports for t in report["times"]]
    errors: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for report in reports:
        errors.update(report["errors"])
        statuses.update(report["statuses"])
    per_worker: Counter[str] = Counter()
    for report in reports:
        per_worker[str(report["worker"])] += len(report["times"]) + sum(report["errors"].values())
    firsts = [r["first"] for r in reports if r["first"] is not None]
    lasts = [r["last"] for r in reports if r["last"] is not None]
    wall = max(lasts) - min(firsts) if firsts else 0.0
    load = LoadResult(
        name,
        latencies,
        errors=sum(errors.values()),
        error_types=dict(errors),
        wall_time=wall,
        concurrency=plan.concurrency,
        mode="locust",
    )
    http = HttpResult(
        name,
        url=url,
        method=spec.method,
        statuses=dict(sorted(statuses.items())),
        first_try=len(latencies),
        client={"engine": "locust", "workers": len(per_worker), "per_worker": dict(per_worker)},
    )
    return load, http
