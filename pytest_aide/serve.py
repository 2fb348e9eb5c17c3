"""Serve an application on loopback for an HTTP check: ``python -m pytest_aide.serve``.

Run by :class:`pytest_aide.measure.http.AppServer` in a process of its own, so
the server under test and the load client do not share one interpreter's GIL.
The application is an ``aiohttp.web.Application``, a function returning one,
or an ASGI application (served by uvicorn). Once listening it prints one line,
``aide-serve: listening on http://HOST:PORT``; it stops when its stdin closes
(the controller ending, or dying) or on SIGTERM. Any failure to start is one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import signal
import sys
from typing import Any

__all__ = ["READY", "main"]

READY = "aide-serve: listening on "
"""The line the server prints once it accepts connections, followed by its base URL."""


def _kind(app: Any) -> tuple[str, Any]:
    """``("aiohttp", application)`` or ``("asgi", app)``; ValueError when it is neither."""
    from aiohttp import web

    if isinstance(app, web.Application):
        return "aiohttp", app
    if callable(app):
        try:
            params = [
                p
                for p in inspect.signature(app).parameters.values()
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):
            params = []
        if len(params) == 3:
            return "asgi", app
        if not params:
            made = app()
            if inspect.isawaitable(made):
                made = asyncio.new_event_loop().run_until_complete(made)
            if isinstance(made, web.Application):
                return "aiohttp", made
            raise ValueError(f"calling it returned {type(made).__name__}, not an aiohttp app")
    raise ValueError(
        f"{type(app).__name__} is neither an aiohttp.web.Application (or a function "
        "returning one) nor an ASGI application (scope, receive, send)"
    )


async def _until_stopped() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.read(1) or stop.set())
    await stop.wait()


async def _serve_aiohttp(app: Any, host: str, port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        print(f"{READY}http://{host}:{bound}", flush=True)
        await _until_stopped()
    finally:
        await runner.cleanup()


async def _serve_asgi(app: Any, host: str, port: int) -> None:
    try:
        import uvicorn
    except ImportError:
        raise ValueError(
            "an ASGI application is served by uvicorn, which is not installed (pip install uvicorn)"
        ) from None
    config = uvicorn.Config(app, host=host, port=port, log_level="error", access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise OSError(f"uvicorn could not listen on {host}:{port}")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    print(f"{READY}http://{host}:{bound}", flush=True)
    await _until_stopped()
    server.should_exit = True
    await task


def main(argv: list[str] | None = None) -> int:
    """Import the application, serve it, print the ready line; 1 with one line on failure."""
    parser = argparse.ArgumentParser(prog="python -m pytest_aide.serve")
    parser.add_argument("app", help="package.module:attribute")
    parser.add_argument("--root", default=".", help="directory put first on sys.path")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    from pytest_aide.targets import TargetError, import_target

    try:
        kind, app = _kind(import_target(args.app, args.root))
        serve = _serve_aiohttp if kind == "aiohttp" else _serve_asgi
        asyncio.run(serve(app, args.host, args.port))
    except (TargetError, ValueError) as exc:
        message = str(exc)
        if not message.startswith(repr(args.app)):
            message = f"{args.app!r}: {message}"
        print(message, file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"{args.app!r}: cannot listen on {args.host}:{args.port}: {reason}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except Exception as exc:
        print(f"{args.app!r}: failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
