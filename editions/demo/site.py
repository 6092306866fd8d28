"""A small local HTTP site for the demo, the tests and the benchmarks.

Pages are pre-rendered bytes kept in a dict, so the server is never the
bottleneck. Each response goes out in a single ``sendall``: Python's
``http.server`` writes the status line, headers and body in separate sends,
and with keep-alive the client's delayed ACK then costs ~40 ms per request.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.server
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Page:
    """One resource of the site: body bytes plus status and headers."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    # Send ETag/Last-Modified and answer conditional requests with 304.
    conditional: bool = True
    # Seconds to wait before answering (timeouts); chunks dripped slowly.
    delay: float = 0.0
    drip: float = 0.0
    gzip: bool = False
    last_modified: float = field(default_factory=time.time)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass
class Request:
    """What the server saw: for politeness and conditional-GET checks."""

    time: float
    method: str
    path: str
    headers: dict[str, str]
    status: int
    client: str


class _QuietServer(http.server.ThreadingHTTPServer):
    # Clients that hang up early (timeouts, size caps) are normal here: log, don't print.
    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("local site: client %s went away", client_address, exc_info=True)


Handler = Callable[["http.server.BaseHTTPRequestHandler"], Page | None]


class LocalSite:
    """A threaded HTTP server on 127.0.0.1 serving ``pages`` (path -> Page).

    Use as a context manager; ``url(path)`` gives absolute URLs. Pages may be
    replaced while it runs (that is how the demo and tests edit articles).
    ``handlers`` maps a path to a function for dynamic answers.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pages: dict[str, Page] = {}
        self.handlers: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        site = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "editions-local-site"

            def log_message(self, format: str, *args: object) -> None:
                log.debug("local site: " + format, *args)

            def do_HEAD(self) -> None:
                site._answer(self, head=True)

            def do_GET(self) -> None:
                site._answer(self, head=False)

        self._server = _QuietServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> LocalSite:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- content ---------------------------------------------------------------
    def add(self, path: str, body: bytes | str, **kwargs: object) -> Page:
        if isinstance(body, str):
            body = body.encode("utf-8")
        page = Page(body=body, **kwargs)  # type: ignore[arg-type]
        with self._lock:
            self.pages[path] = page
        return page

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # --- serving ---------------------------------------------------------------
    def _answer(self, h: http.server.BaseHTTPRequestHandler, head: bool) -> None:
        path = h.path
        handler = self.handlers.get(path.split("?", 1)[0])
        page = handler(h) if handler else None
        if page is None:
            with self._lock:
                page = self.pages.get(path) or self.pages.get(path.split("?", 1)[0])
        if page is None:
            page = Page(body=b"not found", status=404, content_type="text/plain", conditional=False)
        if page.delay:
            time.sleep(page.delay)
        status = page.status
        headers = {"Content-Type": page.content_type, **page.headers}
        body = page.body
        if page.conditional and status == 200:
            etag = page.etag
            last_modified = email.utils.formatdate(page.last_modified, usegmt=True)
            headers["ETag"] = etag
            headers["Last-Modified"] = last_modified
            inm = h.headers.get("If-None-Match")
            ims = h.headers.get("If-Modified-Since")
            if inm == etag or (inm is None and ims == last_modified):
                status, body = 304, b""
                headers.pop("Content-Type", None)
        if page.gzip and body and "gzip" in (h.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers.setdefault("Content-Length", str(len(body)))
        with self._lock:
            self.requests.append(
                Request(time.time(), h.command, path, dict(h.headers), status, h.client_address[0])
            )
        reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
        head_lines = [f"HTTP/1.1 {status} {reason}"]
        head_lines += [f"{k}: {v}" for k, v in headers.items()]
        raw = ("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1")
        try:
            if page.drip and body:
                h.wfile.write(raw)
                for i in range(0, len(body), 64):
                    h.wfile.write(body[i : i + 64])
                    h.wfile.flush()
                    time.sleep(page.drip)
            else:
                h.wfile.write(raw if head else raw + body)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
