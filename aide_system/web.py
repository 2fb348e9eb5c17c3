"""The AIDE system over HTTP: health and diagnosis as JSON, on aiohttp's web server.

aiohttp serves it because aiohttp is also the client pytest-aide drives HTTP
load with (one dependency, the guide's own choice for its network section),
and its server is production-grade on its own, without an ASGI layer in
between. The health score is cheap and computed on the event loop; the
diagnosis walks every process, so it runs in a worker thread and never blocks
the loop (the guide's async advice).

    python -m aiohttp.web -H 127.0.0.1 -P 8080 aide_system.web:make_app
"""

from __future__ import annotations

import asyncio
import dataclasses

from aiohttp import web

from aide_system.diagnostics import diagnose_system
from aide_system.monitor import get_system_health

__all__ = ["app", "make_app"]


async def health(request: web.Request) -> web.Response:
    """``GET /health``: the weighted health score and its components."""
    report = get_system_health()
    data = dataclasses.asdict(report) if dataclasses.is_dataclass(report) else report
    return web.json_response(data)


async def diagnosis(request: web.Request) -> web.Response:
    """``GET /diagnosis?top=N``: one diagnosis of this machine (in a worker thread)."""
    try:
        top = int(request.query.get("top", "5"))
    except ValueError:
        raise web.HTTPBadRequest(text="top: expected a whole number") from None
    if not 1 <= top <= 100:
        raise web.HTTPBadRequest(text="top: expected 1 to 100")
    report = await asyncio.to_thread(diagnose_system, top)
    return web.json_response(dataclasses.asdict(report))


def make_app(argv: list[str] | None = None) -> web.Application:
    """A new application (``argv`` for ``python -m aiohttp.web``, unused)."""
    application = web.Application()
    application.add_routes([web.get("/health", health), web.get("/diagnosis", diagnosis)])
    return application


app = make_app()
"""The application pytest-aide's HTTP scenarios start (``server = "aide_system.web:app"``)."""
