"""Requests per second the HTTP driver sustains, beside a plain aiohttp loop and Locust.

    python benchmarks/http_ceiling.py [--requests 5000] [--concurrency 50] [--repeats 3]

One trivial endpoint (``GET /ok`` answering ``ok``) is served by aiohttp in a
process of its own (:class:`pytest_aide.measure.http.AppServer`, as an HTTP
check starts it). Against it, alternating, each repeat runs:

- ``aide``: :func:`pytest_aide.measure.http.run_http_load`, the driver of an
  ``http`` scenario (every latency kept, statuses counted, retry wrapper);
- ``plain``: the least a client can do with aiohttp: ``concurrency`` tasks on
  one ``ClientSession`` with the same connector and timeouts as the driver's
  (the guide's: keep-alive 30 s, 30 s total, 10 s connect and read), reading
  each body, no bookkeeping;
- ``locust``: Locust's headless runner (``FastHttpUser``, no wait), in a venv
  of its own made on first use under the temporary directory, for the same
  number of requests' worth of seconds; skipped, and said so, when it does
  not install.
- ``on-locust-Nw``: an HTTP check on ``engine = "locust"``
  (:func:`pytest_aide.measure.locust.run_locust_load`): Locust's master and N
  local worker processes (``--locust-workers``, default 1 2 4) sending the
  same number of requests, every response time kept; needs Locust in this
  interpreter (``pip install 'pytest-aide[locust]'``).

Both in-process clients also report the client's CPU seconds per 1,000
requests: on 2 cores the server may be what limits requests per second, and
then CPU per request is what tells the clients apart. Prints each repeat and
the medians, and the median over repeats of each repeat's ratio aide / plain
(the two run back to back, so the machine's drift between repeats cancels;
the target is at least 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402, F401  (imported before any client is timed: neither pays for it)

from pytest_aide.measure.http import (  # noqa: E402
    AppServer,
    client_session,
    http_spec,
    run_http_load,
)
from pytest_aide.measure.load import LoadPlan  # noqa: E402
from pytest_aide.measure.locust import locust_installed, run_locust_load  # noqa: E402

APP = """
from aiohttp import web

async def ok(request):
    return web.Response(text="ok")

app = web.Application()
app.add_routes([web.get("/ok", ok)])
"""

LOCUSTFILE = """
from locust import constant
from locust.contrib.fasthttp import FastHttpUser
from locust import task

class Client(FastHttpUser):
    wait_time = constant(0)

    @task
    def ok(self):
        self.client.get("/ok")
"""


def _aide(url: str, concurrency: int, requests: int) -> tuple[float, float]:
    spec = http_spec({"url": url, "limit": concurrency, "limit_per_host": concurrency})
    cpu = time.process_time()
    measured, _ = asyncio.run(
        run_http_load(spec, None, name="aide", plan=LoadPlan(concurrency, requests=requests))
    )
    spent = time.process_time() - cpu
    assert measured.errors == 0, measured.error_messages
    return measured.throughput, spent / requests * 1000


def _on_locust(url: str, concurrency: int, requests: int, workers: int) -> float:
    spec = http_spec({"url": url})
    measured, http = run_locust_load(
        spec, url, name="locust", plan=LoadPlan(concurrency, requests=requests), workers=workers
    )
    assert measured.errors == 0 and len(http.client["per_worker"]) == workers
    return measured.throughput


async def _plain_run(url: str, concurrency: int, requests: int) -> float:
    spec = http_spec({"url": url, "limit": concurrency, "limit_per_host": concurrency})
    async with client_session(spec) as session:
        async with session.get(url) as response:  # the same first connection as the driver's
            await response.read()
        counter = itertools.count()

        async def worker() -> None:
            while next(counter) < requests:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"status {response.status}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - began)


def _plain(url: str, concurrency: int, requests: int) -> tuple[float, float]:
    cpu = time.process_time()
    rate = asyncio.run(_plain_run(url, concurrency, requests))
    return rate, (time.process_time() - cpu) / requests * 1000


def _locust_venv(where: Path) -> Path | None:
    venv = where / "locust-venv"
    locust = venv / "bin" / "locust"
    if locust.exists():
        return locust
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "locust"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(f"locust: does not install here: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return locust


def _locust(locust: Path, base: str, concurrency: int, seconds: float, where: Path) -> float:
    (where / "locustfile.py").write_text(LOCUSTFILE)
    prefix = where / "locust"
    subprocess.run(
        [
            str(locust),
            "-f",
            str(where / "locustfile.py"),
            "--headless",
            "--users",
            str(concurrency),
            "--spawn-rate",
            str(concurrency),
            "--run-time",
            f"{max(2, round(seconds))}s",
            "--host",
            base,
            "--only-summary",
            "--csv",
            str(prefix),
            "--loglevel",
            "ERROR",
        ],
        capture_output=True,
        check=True,
        cwd=where,
        timeout=300,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    raise RuntimeError("locust wrote no Aggregated row")


def main() -> int:
    """Run the alternated repeats and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-locust", action="store_true", help="leave Locust out")
    parser.add_argument(
        "--locust-workers", type=int, nargs="*", default=[1, 2, 4], help="engine = locust runs"
    )
    args = parser.parse_args()
    if not locust_installed():
        args.locust_workers = []
        print("on-locust: Locust is not installed here (pip install 'pytest-aide[locust]')")
    work = Path(tempfile.mkdtemp(prefix="aide-http-ceiling-"))
    (work / "ceiling_app.py").write_text(APP)
    locust = None if args.no_locust else _locust_venv(work)
    rates: dict[str, list[float]] = {"aide": [], "plain": [], "locust": []}
    for workers in args.locust_workers:
        rates[f"on-locust-{workers}w"] = []
    cpu: dict[str, list[float]] = {"aide": [], "plain": []}
    try:
        with AppServer("ceiling_app:app", work) as server:
            url = f"{server.url}/ok"
            print(f"server: ceiling_app:app at {server.url}, in its own process")
            for repeat in range(1, args.repeats + 1):
                for name, run in (("aide", _aide), ("plain", _plain)):
                    rate, per_k = run(url, args.concurrency, args.requests)
                    rates[name].append(rate)
                    cpu[name].append(per_k)
                    print(
                        f"#{repeat} {name:6} {rate:9,.0f} req/s  "
                        f"client cpu {per_k:6.3f} s per 1,000 requests"
                    )
                for workers in args.locust_workers:
                    rate = _on_locust(url, args.concurrency, args.requests, workers)
                    rates[f"on-locust-{workers}w"].append(rate)
                    print(f"#{repeat} on-locust-{workers}w {rate:9,.0f} req/s  (master + workers)")
                if locust is not None:
                    seconds = args.requests / statistics.median(rates["plain"])
                    rate = _locust(locust, server.url or "", args.concurrency, seconds, work)
                    rates["locust"].append(rate)
                    print(f"#{repeat} locust {rate:9,.0f} req/s  (own process, gevent)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    aide, plain = statistics.median(rates["aide"]), statistics.median(rates["plain"])
    ratio = statistics.median(a / p for a, p in zip(rates["aide"], rates["plain"], strict=True))
    print(
        f"median: aide {aide:,.0f} req/s, plain aiohttp {plain:,.0f} req/s; "
        f"aide/plain per repeat, median x{ratio:.2f} (target >= 0.80); client cpu per "
        f"1,000 requests {statistics.median(cpu['aide']):.3f} s vs "
        f"{statistics.median(cpu['plain']):.3f} s"
    )
    for workers in args.locust_workers:
        name = f"on-locust-{workers}w"
        print(
            f"median: aide on Locust, {workers} worker(s) {statistics.median(rates[name]):,.0f} "
            f"req/s (x{statistics.median(rates[name]) / aide:.2f} aide's own driver)"
        )
    if rates["locust"]:
        print(f"median: locust {statistics.median(rates['locust']):,.0f} req/s")
    elif not args.no_locust:
        print("locust: not run (see above)")
    print(
        f"({args.repeats} repeats alternated, {args.requests:,} requests at concurrency "
        f"{args.concurrency} each)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
