"""Run the web app under uvicorn: for `editions serve`, the demo and the browser tests."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from editions.api import Editions
from editions.web.app import create_app

log = logging.getLogger(__name__)

__all__ = ["BackgroundServer", "serve_forever"]


def _config(editions: Editions, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(editions),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # One event loop, no reloader, no worker processes: the archive object is shared.
        workers=1,
        lifespan="off",
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening now, so connections made as soon as the address is printed wait in the
    # backlog for the server rather than being refused.
    sock.listen(128)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve_forever(
    editions: Editions,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM; ``ready(url)`` is told the address once bound."""
    sock = _bind(host, port)
    server = uvicorn.Server(_config(editions, host, sock.getsockname()[1]))
    if ready:
        ready(_url(host, sock.getsockname()[1]))
    server.run(sockets=[sock])


class BackgroundServer:
    """The web app on a free port in a thread of this process (demo --serve, tests)."""

    def __init__(self, editions: Editions, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = _bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.url = _url(host, self.port)
        self._server = uvicorn.Server(_config(editions, host, self.port))
        # uvicorn's signal handlers belong to the main thread's owner, not to us.
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
