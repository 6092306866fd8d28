"""The fetcher against a real local HTTP server: outcomes, limits, retries, redirects, politeness."""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import itertools
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest

from editions.demo.site import LocalSite, Page
from editions.settings import Settings
from tests.pages import article_html, paragraphs
from worker.fetch import Fetcher, FetchResult, Outcome, mime_type, retry_after_seconds
from worker.politeness import LocalHostLimiter
from worker.robots import RobotsCache, site_key

ARTICLE = "<html><head><title>Story</title></head><body><p>Élysée: l’été.</p></body></html>"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)
HTML_TYPES = {"text/html", "application/xhtml+xml"}
# Clock granularity slack between the server's time.time() stamps.
SLACK = 0.05
ROOT = Path(__file__).resolve().parent.parent


def make_fetcher(**overrides: object) -> Fetcher:
    """A fetcher with small, fast limits; robots off unless asked for."""
    values: dict[str, object] = {
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 10.0,
        "max_retries": 0,
        "retry_backoff": 0.01,
        "retry_max_wait": 2.0,
        "robots_enabled": False,
    }
    values.update(overrides)
    return Fetcher(Settings(**values))


def fetch(url: str, **kwargs: object) -> FetchResult:
    with make_fetcher() as fetcher:
        return fetcher.fetch(url, **kwargs)  # type: ignore[arg-type]


def gaps(site: LocalSite, path: str) -> list[float]:
    times = [r.time for r in site.requests_for(path)]
    return [b - a for a, b in itertools.pairwise(times)]


def chunked(body: bytes, size: int = 4096) -> bytes:
    """Frame a body in HTTP/1.1 chunked transfer coding, as a server streaming it would."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


# --- plain outcomes --------------------------------------------------------------------


def test_ok(site: LocalSite) -> None:
    site.add("/story", ARTICLE)
    result = fetch(site.url("/story"))
    assert result.outcome is Outcome.OK and result.ok
    assert result.status == 200
    assert result.body == ARTICLE.encode()
    assert result.text == ARTICLE
    assert result.size == len(ARTICLE.encode())
    assert result.content_type == "text/html"
    assert result.url == result.final_url == site.url("/story")
    assert result.redirects == []
    assert result.error is None
    assert result.etag and result.last_modified
    assert all(key == key.lower() for key in result.headers)
    assert result.started_at.tzinfo is UTC
    assert result.duration >= 0
    seen = site.requests_for("/story")[0]
    assert seen.headers["User-Agent"].startswith("editions/")
    assert "text/html" in seen.headers["Accept"]


def test_gzip_body_is_decompressed(site: LocalSite) -> None:
    site.add("/zipped", ARTICLE * 20, gzip=True)
    result = fetch(site.url("/zipped"))
    assert result.ok
    assert result.headers["content-encoding"] == "gzip"
    assert result.text == ARTICLE * 20


def test_not_modified_by_etag(site: LocalSite) -> None:
    site.add("/story", ARTICLE)
    with make_fetcher() as fetcher:
        first = fetcher.fetch(site.url("/story"))
        again = fetcher.fetch(site.url("/story"), etag=first.etag)
    assert again.outcome is Outcome.NOT_MODIFIED and not again.ok
    assert again.status == 304 and again.body == b"" and again.error is None
    assert site.requests_for("/story")[1].headers["If-None-Match"] == first.etag


def test_not_modified_by_last_modified(site: LocalSite) -> None:
    site.add("/story", ARTICLE)
    with make_fetcher() as fetcher:
        first = fetcher.fetch(site.url("/story"))
        again = fetcher.fetch(site.url("/story"), last_modified=first.last_modified)
    assert again.outcome is Outcome.NOT_MODIFIED
    seen = site.requests_for("/story")[1].headers
    assert seen["If-Modified-Since"] == first.last_modified and "If-None-Match" not in seen


def test_changed_page_is_fetched_despite_old_etag(site: LocalSite) -> None:
    site.add("/story", ARTICLE)
    with make_fetcher() as fetcher:
        first = fetcher.fetch(site.url("/story"))
        site.add("/story", ARTICLE.replace("l’été", "l’hiver"))
        again = fetcher.fetch(site.url("/story"), etag=first.etag)
    assert again.outcome is Outcome.OK and "l’hiver" in again.text


@pytest.mark.parametrize("status", [404, 410, 500])
def test_http_error(site: LocalSite, status: int) -> None:
    site.add("/broken", "<p>nope</p>", status=status, conditional=False)
    result = fetch(site.url("/broken"))
    assert result.outcome is Outcome.HTTP_ERROR
    assert result.status == status and result.body == b""
    assert str(status) in (result.error or "")


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/")
    assert result.outcome is Outcome.CONNECTION_ERROR
    assert result.status is None and result.error


@pytest.mark.parametrize(
    "url", ["ftp://example.org/file", "file:///etc/passwd", "not a url", "http://", "http://[::1"]
)
def test_refused_urls(url: str) -> None:
    result = fetch(url)
    assert result.outcome is Outcome.BLOCKED
    assert result.error and "http" in result.error


def test_programmer_errors() -> None:
    with make_fetcher() as fetcher:
        with pytest.raises(TypeError):
            fetcher.fetch(b"http://127.0.0.1/")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_bytes"):
            fetcher.fetch("http://127.0.0.1/", max_bytes=0)
        with pytest.raises(TypeError, match="allowed_types"):
            fetcher.fetch("http://127.0.0.1/", allowed_types="text/html")


# --- retries -----------------------------------------------------------------------------


def flaky(site: LocalSite, path: str, failures: list[Page], final: Page) -> None:
    """Serve ``failures`` in turn, then ``final`` forever."""
    answers = iter(failures)
    site.handlers[path] = lambda _h: next(answers, final)


def test_retry_after_honoured(site: LocalSite) -> None:
    busy = Page(b"busy", status=503, headers={"Retry-After": "1"}, conditional=False)
    flaky(site, "/busy", [busy], Page(ARTICLE.encode()))
    with make_fetcher(max_retries=2) as fetcher:
        result = fetcher.fetch(site.url("/busy"))
    assert result.ok and result.text == ARTICLE
    assert [r.status for r in site.requests_for("/busy")] == [503, 200]
    assert gaps(site, "/busy")[0] >= 1.0 - SLACK


def test_retry_after_too_long_gives_up(site: LocalSite) -> None:
    site.add("/later", "busy", status=429, headers={"Retry-After": "3600"}, conditional=False)
    with make_fetcher(max_retries=3, retry_max_wait=2.0) as fetcher:
        result = fetcher.fetch(site.url("/later"))
    assert result.outcome is Outcome.HTTP_ERROR and result.status == 429
    assert "3600" in (result.error or "") and "RETRY_MAX_WAIT" in (result.error or "")
    assert len(site.requests_for("/later")) == 1


def test_retry_after_http_date(site: LocalSite) -> None:
    when = email.utils.formatdate(time.time() + 7200, usegmt=True)
    site.add("/later", "busy", status=503, headers={"Retry-After": when}, conditional=False)
    with make_fetcher(max_retries=2) as fetcher:
        result = fetcher.fetch(site.url("/later"))
    assert result.outcome is Outcome.HTTP_ERROR and "gave up" in (result.error or "")
    assert len(site.requests_for("/later")) == 1


def test_server_errors_retried_with_backoff_then_give_up(site: LocalSite) -> None:
    site.add("/down", "down", status=502, conditional=False)
    with make_fetcher(max_retries=2) as fetcher:
        result = fetcher.fetch(site.url("/down"))
    assert result.outcome is Outcome.HTTP_ERROR and result.status == 502
    assert "3 attempts" in (result.error or "")
    assert len(site.requests_for("/down")) == 3


def test_client_errors_not_retried(site: LocalSite) -> None:
    site.add("/gone", "gone", status=404, conditional=False)
    with make_fetcher(max_retries=3) as fetcher:
        assert fetcher.fetch(site.url("/gone")).outcome is Outcome.HTTP_ERROR
    assert len(site.requests_for("/gone")) == 1


def test_timeout_retried_then_succeeds(site: LocalSite) -> None:
    flaky(site, "/slow", [Page(ARTICLE.encode(), delay=1.0)], Page(ARTICLE.encode()))
    with make_fetcher(read_timeout=0.3, max_retries=1) as fetcher:
        result = fetcher.fetch(site.url("/slow"))
    assert result.ok


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (" 0 ", 0.0), (None, None), ("soon", None), ("-5", None)],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value) == expected


def test_retry_after_seconds_dates() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 90, usegmt=True), now=now) == 90
    assert retry_after_seconds(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0


# --- time and size limits ------------------------------------------------------------------


def test_read_timeout(site: LocalSite) -> None:
    site.add("/stuck", ARTICLE, delay=1.5)
    with make_fetcher(read_timeout=0.3) as fetcher:
        result = fetcher.fetch(site.url("/stuck"))
    assert result.outcome is Outcome.TIMEOUT
    assert result.body == b"" and "timed out" in (result.error or "")


def test_total_deadline_cuts_a_slow_drip(site: LocalSite) -> None:
    # 64 bytes every 0.05 s: each read is quick, the whole body would take ~4 s.
    site.add("/drip", "x" * 64 * 80, drip=0.05)
    with make_fetcher(read_timeout=1.0, total_timeout=0.6) as fetcher:
        result = fetcher.fetch(site.url("/drip"))
    assert result.outcome is Outcome.TIMEOUT
    assert result.status == 200 and "TOTAL_TIMEOUT" in (result.error or "")


def test_too_large_by_content_length(site: LocalSite) -> None:
    site.add("/big", "x" * 5000)
    result = fetch(site.url("/big"), max_bytes=1000)
    assert result.outcome is Outcome.TOO_LARGE
    assert "Content-Length 5000" in (result.error or "") and result.body == b""


def test_too_large_when_streamed_without_length(site: LocalSite) -> None:
    # With chunked transfer coding any Content-Length is ignored (RFC 9112 6.3),
    # so only the streamed count can stop it.
    site.add("/stream", chunked(b"y" * 50_000), headers={"Transfer-Encoding": "chunked"})
    result = fetch(site.url("/stream"), max_bytes=10_000)
    assert result.outcome is Outcome.TOO_LARGE
    assert "10000-byte limit" in (result.error or "")


def test_chunked_body_within_limit(site: LocalSite) -> None:
    body = ARTICLE.encode() * 10
    site.add("/stream", chunked(body, 100), headers={"Transfer-Encoding": "chunked"})
    result = fetch(site.url("/stream"))
    assert result.ok and result.body == body


def test_gzip_bomb_is_cut(site: LocalSite) -> None:
    bomb = gzip.compress(b"<p>" + b"\0" * 20_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    site.add("/bomb", bomb, headers={"Content-Encoding": "gzip"}, conditional=False)
    result = fetch(site.url("/bomb"), max_bytes=1_000_000)
    assert result.outcome is Outcome.TOO_LARGE
    assert "after decompression" in (result.error or "")


def gzip_bomb(gib: int = 1) -> bytes:
    """About 1 MB of valid gzip that inflates to ``gib`` GiB of zeros, built in well under a second.

    Each 16 MiB block is deflated by a fresh compressor and ends in a full flush, so it
    refers to nothing before it and the same bytes can be repeated instead of compressing
    a whole GiB.
    """
    block = bytes(1 << 24)
    count = gib * 64
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (count * len(block)) & 0xFFFFFFFF)
    return header + piece * count + last + trailer


# The fetch runs in a child whose address space is capped: inflating 1 GiB there raises
# MemoryError instead of taking the shared machine's memory.
_ADDRESS_SPACE_CAP = 256 * 1024 * 1024
_CHILD_FETCH = """
import json, resource, sys
cap = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from editions.settings import Settings
from worker.fetch import Fetcher
settings = Settings(
    allow_private_addresses=True, host_delay=0, robots_enabled=False,
    max_retries=1, retry_backoff=0.01, total_timeout=20,
)
with Fetcher(settings) as fetcher:
    result = fetcher.fetch(sys.argv[1])
print(json.dumps({
    "outcome": result.outcome.value,
    "status": result.status,
    "final_url": result.final_url,
    "error": result.error,
    # VmHWM is this process's own peak: ru_maxrss can carry the parent's over exec.
    "maxrss_kib": int(next(
        line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")
    )),
}))
"""


def fetch_in_capped_child(url: str) -> dict[str, object]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    child = subprocess.run(
        [sys.executable, "-c", _CHILD_FETCH, url, str(_ADDRESS_SPACE_CAP)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert child.returncode == 0, f"the fetch raised in the child:\n{child.stderr[-3000:]}"
    return json.loads(child.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb()


@pytest.mark.parametrize(
    ("status", "extra", "outcome"),
    [
        # The hole: requests read a redirect's whole body, inflated, before we saw it.
        (302, {"Location": "/story"}, "ok"),
        (503, {}, "http_error"),
        (200, {}, "too_large"),
    ],
)
def test_gzip_bomb_in_any_response_keeps_memory_bounded(
    site: LocalSite, bomb: bytes, status: int, extra: dict[str, str], outcome: str
) -> None:
    site.add("/story", ARTICLE)
    headers = {"Content-Encoding": "gzip", **extra}
    site.add("/bomb", bomb, status=status, headers=headers, conditional=False)
    result = fetch_in_capped_child(site.url("/bomb"))
    assert result["outcome"] == outcome, result
    assert isinstance(result["maxrss_kib"], int) and result["maxrss_kib"] < 150 * 1024
    if status == 302:
        assert result["final_url"] == site.url("/story")


def test_redirect_body_drip_is_not_waited_for(site: LocalSite) -> None:
    # 20 chunks of 64 bytes, one every 0.5 s: reading this redirect's body would take 10 s.
    site.add("/story", ARTICLE)
    site.add(
        "/moved",
        "x" * 64 * 20,
        status=302,
        headers={"Location": "/story"},
        drip=0.5,
        conditional=False,
    )
    with make_fetcher(read_timeout=5.0, total_timeout=2.0) as fetcher:
        began = time.monotonic()
        result = fetcher.fetch(site.url("/moved"))
        elapsed = time.monotonic() - began
    assert result.ok and result.final_url == site.url("/story")
    assert elapsed < 2.0 + 3


class RawServer:
    """A raw TCP server on 127.0.0.1 for answers http.server cannot give.

    Each connection's request is read, then ``respond(conn, stop)`` writes whatever
    it likes; ``stop`` is set when the server shuts down.
    """

    def __init__(self, respond: Callable[[socket.socket, threading.Event], None]) -> None:
        self.respond = respond
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/raw"

    def __enter__(self) -> RawServer:
        accepter = threading.Thread(target=self._accept, daemon=True)
        accepter.start()
        self._threads.append(accepter)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            handler = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            handler.start()
            self._threads.append(handler)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            # OSError: the client hung up, which is what a deadline or a size cap does.
            with contextlib.suppress(OSError):
                self.respond(conn, self._stop)


def header_drip(interval: float = 0.5, give_up: float = 8.0) -> RawServer:
    """A server that never finishes its response headers.

    A status line, then one header byte every ``interval`` seconds; after
    ``give_up`` seconds it hangs up, so a fetcher with no total deadline still ends
    (late) and the test fails instead of hanging.
    """

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        ends = time.monotonic() + give_up
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        while time.monotonic() < ends and not stop.wait(interval):
            conn.sendall(b"a")

    return RawServer(respond)


@pytest.mark.parametrize("retries", [0, 5])
def test_total_deadline_covers_a_header_drip(retries: int) -> None:
    # Each header byte arrives well within READ_TIMEOUT; only a total deadline can stop it.
    with header_drip(interval=0.5) as server:
        with make_fetcher(read_timeout=5.0, total_timeout=2.0, max_retries=retries) as fetcher:
            began = time.monotonic()
            result = fetcher.fetch(server.url)
            elapsed = time.monotonic() - began
        connections = server.connections
    assert result.outcome is Outcome.TIMEOUT, result.error
    assert "TOTAL_TIMEOUT" in (result.error or "")
    assert elapsed < 2.0 + 3
    # The deadline is spent by the first attempt, so no retry starts.
    assert connections == 1


def test_body_ending_with_the_connection_is_read_whole() -> None:
    # No length, Connection: close: the socket's end is the body's end. The deadline-aware
    # response file must keep the socket open after http.client hands it over.
    body = b"<html><body><p>" + b"x" * 200_000 + b"</p></body></html>"

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        for i in range(0, len(body), 50_000):
            conn.sendall(body[i : i + 50_000])
            stop.wait(0.05)

    with RawServer(respond) as server, make_fetcher() as fetcher:
        results = [fetcher.fetch(server.url) for _ in range(2)]
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.OK]
    assert all(r.body == body for r in results)


def test_total_deadline_covers_all_retries(site: LocalSite) -> None:
    # Every answer is a 503 after 0.8 s: with 20 retries that would be 17 s of trying.
    site.add("/busy", "busy", status=503, delay=0.8, conditional=False)
    with make_fetcher(
        read_timeout=5.0, total_timeout=2.0, max_retries=20, retry_max_wait=1.0
    ) as fetcher:
        began = time.monotonic()
        result = fetcher.fetch(site.url("/busy"))
        elapsed = time.monotonic() - began
    assert result.outcome is Outcome.TIMEOUT, result.error
    assert "TOTAL_TIMEOUT" in (result.error or "")
    assert elapsed < 2.0 + 3
    assert 2 <= len(site.requests_for("/busy")) <= 3


def test_default_limit_from_settings(site: LocalSite) -> None:
    site.add("/big", "z" * 3000)
    with make_fetcher(max_body_bytes=2000) as fetcher:
        assert fetcher.fetch(site.url("/big")).outcome is Outcome.TOO_LARGE


# --- content checks --------------------------------------------------------------------------


def test_binary_type_refused_for_articles(site: LocalSite) -> None:
    site.add("/photo", PNG, content_type="image/png")
    result = fetch(site.url("/photo"), allowed_types=HTML_TYPES)
    assert result.outcome is Outcome.BAD_CONTENT
    assert "image/png" in (result.error or "") and result.body == b""


def test_binary_type_accepted_when_any_type_is(site: LocalSite) -> None:
    site.add("/photo", PNG, content_type="image/png")
    result = fetch(site.url("/photo"))
    assert result.ok and result.body == PNG


def test_binary_body_claiming_html_sniffed(site: LocalSite) -> None:
    site.add("/fake", PNG, content_type="text/html; charset=utf-8")
    result = fetch(site.url("/fake"), allowed_types=HTML_TYPES)
    assert result.outcome is Outcome.BAD_CONTENT and "looks binary" in (result.error or "")


def test_nul_bytes_in_text_sniffed(site: LocalSite) -> None:
    site.add("/nul", b"<html>\x00\x00\x00garbage</html>", content_type="text/html")
    assert fetch(site.url("/nul")).outcome is Outcome.BAD_CONTENT


def test_wildcard_allowed_types(site: LocalSite) -> None:
    site.add("/feed", "<rss/>", content_type="text/xml")
    assert fetch(site.url("/feed"), allowed_types={"text/*"}).ok
    assert fetch(site.url("/feed"), allowed_types={"application/rss+xml"}).outcome is (
        Outcome.BAD_CONTENT
    )


def test_lying_charset_decoded_right(site: LocalSite) -> None:
    html = (
        '<html><head><meta charset="shift_jis"><title>t</title></head><body>'
        + "<p>Le président a déclaré à l’Assemblée que la réforme « s’appliquera » dès l’été.</p>"
        * 3
        + "</body></html>"
    )
    site.add("/cp1252", html.encode("cp1252"), content_type="text/html; charset=utf-8")
    result = fetch(site.url("/cp1252"))
    assert result.ok and result.text == html


def test_stray_byte_does_not_garble_a_page(site: LocalSite) -> None:
    # Header and <meta> agree on utf-8; one invalid byte in a comment is replaced, alone.
    html = article_html(
        title="Genève: la conférence s’ouvre",
        paragraphs=["La conférence de Genève s’ouvre demain.", *paragraphs("Genève", 3)],
    ).replace("</main>", "<!-- \x00 --></main>")
    site.add("/geneva", html.encode("utf-8").replace(b"\x00", b"\xff"))
    result = fetch(site.url("/geneva"))
    assert result.ok and result.text == html.replace("\x00", "\ufffd")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Text/HTML; charset=UTF-8", "text/html"), ("", None), (None, None), (" ; x", None)],
)
def test_mime_type(value: str | None, expected: str | None) -> None:
    assert mime_type(value) == expected


# --- redirects -------------------------------------------------------------------------------


def redirect(site: LocalSite, path: str, location: str, status: int = 301) -> None:
    site.add(path, b"", status=status, headers={"Location": location}, conditional=False)


def test_redirects_followed_and_recorded(site: LocalSite) -> None:
    redirect(site, "/old", "/moved", 301)
    redirect(site, "/moved", site.url("/story?x=1#frag"), 302)
    site.add("/story", ARTICLE)
    result = fetch(site.url("/old"))
    assert result.ok and result.text == ARTICLE
    assert result.redirects == [site.url("/old"), site.url("/moved")]
    assert result.final_url == site.url("/story?x=1")


def test_redirect_loop(site: LocalSite) -> None:
    redirect(site, "/a", "/b")
    redirect(site, "/b", "/a")
    result = fetch(site.url("/a"))
    assert result.outcome is Outcome.REDIRECT_ERROR
    assert "loop" in (result.error or "")
    assert site.url("/a") in (result.error or "") and site.url("/b") in (result.error or "")
    assert len(site.requests) == 2


def test_too_many_redirects(site: LocalSite) -> None:
    for i in range(5):
        redirect(site, f"/hop{i}", f"/hop{i + 1}", 307)
    site.add("/hop5", ARTICLE)
    with make_fetcher(max_redirects=2) as fetcher:
        result = fetcher.fetch(site.url("/hop0"))
    assert result.outcome is Outcome.REDIRECT_ERROR
    assert "more than 2 redirects" in (result.error or "")
    assert [r.path for r in site.requests] == ["/hop0", "/hop1", "/hop2"]
    with make_fetcher(max_redirects=5) as fetcher:
        assert fetcher.fetch(site.url("/hop0")).ok


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/"])
def test_redirect_to_other_scheme_refused(site: LocalSite, target: str) -> None:
    redirect(site, "/trap", target, 302)
    result = fetch(site.url("/trap"))
    assert result.outcome is Outcome.REDIRECT_ERROR
    assert target in (result.error or "") and result.body == b""


def test_redirect_without_location(site: LocalSite) -> None:
    site.add("/nowhere", b"", status=302, conditional=False)
    result = fetch(site.url("/nowhere"))
    assert result.outcome is Outcome.REDIRECT_ERROR and "Location" in (result.error or "")


# --- robots.txt ----------------------------------------------------------------------------


def test_robots_disallow_never_requests_page(site: LocalSite) -> None:
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.add("/private/story", ARTICLE)
    site.add("/public/story", ARTICLE)
    with make_fetcher(robots_enabled=True) as fetcher:
        blocked = fetcher.fetch(site.url("/private/story"))
        allowed = fetcher.fetch(site.url("/public/story"))
    assert blocked.outcome is Outcome.ROBOTS and "robots.txt" in (blocked.error or "")
    assert allowed.ok
    assert site.requests_for("/private/story") == []
    assert len(site.requests_for("/robots.txt")) == 1  # cached for the second fetch


def test_robots_agent_specific_rules(site: LocalSite) -> None:
    site.add(
        "/robots.txt",
        "User-agent: editions\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
        content_type="text/plain",
    )
    site.add("/story", ARTICLE)
    with make_fetcher(robots_enabled=True) as fetcher:
        assert fetcher.fetch(site.url("/story")).outcome is Outcome.ROBOTS


def test_robots_missing_allows_all(site: LocalSite) -> None:
    site.add("/story", ARTICLE)
    with make_fetcher(robots_enabled=True) as fetcher:
        assert fetcher.fetch(site.url("/story")).ok
    assert [r.path for r in site.requests] == ["/robots.txt", "/story"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_robots_server_error_disallows(site: LocalSite, status: int) -> None:
    site.add("/robots.txt", "oops", status=status, conditional=False)
    site.add("/story", ARTICLE)
    with make_fetcher(robots_enabled=True) as fetcher:
        result = fetcher.fetch(site.url("/story"))
    assert result.outcome is Outcome.ROBOTS
    assert "unreachable" in (result.error or "") and str(status) in (result.error or "")
    assert site.requests_for("/story") == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_host_is_a_connection_error_not_robots() -> None:
    # Nothing listens: the robots.txt fetch itself fails, so the page fetch reports the
    # network outcome (issue 12 item 3), not a robots verdict the site never gave.
    url = f"http://127.0.0.1:{_free_port()}/feed.xml"
    with make_fetcher(robots_enabled=True) as fetcher:
        first = fetcher.fetch(url)
        again = fetcher.fetch(url)  # from the cached verdict
    for result in (first, again):
        assert result.outcome is Outcome.CONNECTION_ERROR, result.error
        assert "host unreachable" in (result.error or "")
        assert "robots.txt disallows" not in (result.error or "")


def test_silent_host_is_a_timeout_not_robots() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # accepts connections, never answers
        url = f"http://127.0.0.1:{server.getsockname()[1]}/story"
        with make_fetcher(robots_enabled=True, read_timeout=0.3, total_timeout=2.0) as fetcher:
            result = fetcher.fetch(url)
    assert result.outcome is Outcome.TIMEOUT, result.error
    assert "host unreachable" in (result.error or "")


def test_robots_error_verdict_expires(site: LocalSite) -> None:
    site.add("/robots.txt", "oops", status=503, conditional=False)
    site.add("/story", ARTICLE)
    with make_fetcher(robots_enabled=True, robots_error_cache_seconds=0.2) as fetcher:
        assert fetcher.fetch(site.url("/story")).outcome is Outcome.ROBOTS
        site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        time.sleep(0.3)
        assert fetcher.fetch(site.url("/story")).ok
    assert len(site.requests_for("/robots.txt")) == 2


def test_crawl_delay_honoured(site: LocalSite) -> None:
    site.add("/robots.txt", "User-agent: *\nCrawl-delay: 0.4\n", content_type="text/plain")
    site.add("/story", ARTICLE)
    with make_fetcher(robots_enabled=True) as fetcher:
        for _ in range(3):
            assert fetcher.fetch(site.url("/story")).ok
    times = [r.time for r in site.requests]
    assert [r.path for r in site.requests] == ["/robots.txt"] + ["/story"] * 3
    assert all(b - a >= 0.4 - SLACK for a, b in itertools.pairwise(times[1:]))


def test_crawl_delay_capped(site: LocalSite) -> None:
    site.add("/robots.txt", "User-agent: *\nCrawl-delay: 86400\n", content_type="text/plain")
    robots = RobotsCache(
        Settings(robots_max_crawl_delay=5.0), fetcher=make_fetcher(robots_enabled=False)
    )
    assert robots.crawl_delay(site.url("/story"), "editions/0.1") == 5.0


def test_site_key() -> None:
    assert site_key("HTTP://Example.ORG:80/a?b") == "http://example.org"
    assert site_key("https://example.org:8443/a") == "https://example.org:8443"
    assert site_key("http://[2001:db8::1]:8080/") == "http://[2001:db8::1]:8080"


# --- politeness ---------------------------------------------------------------------------


def test_host_delay_spaces_requests(site: LocalSite) -> None:
    site.add("/story", ARTICLE)
    with make_fetcher(host_delay=0.3) as fetcher:
        for _ in range(3):
            assert fetcher.fetch(site.url("/story")).ok
    assert all(gap >= 0.3 - SLACK for gap in gaps(site, "/story"))


def test_shared_limiter_across_threads(site: LocalSite) -> None:
    site.add("/story", ARTICLE)
    limiter = LocalHostLimiter()
    results: list[FetchResult] = []

    def worker() -> None:
        with Fetcher(Settings(host_delay=0.2, robots_enabled=False), limiter=limiter) as fetcher:
            results.append(fetcher.fetch(site.url("/story")))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(r.ok for r in results)
    times = sorted(r.time for r in site.requests_for("/story"))
    assert all(b - a >= 0.2 - SLACK for a, b in itertools.pairwise(times))


def test_limiter_rejects_negative_delay() -> None:
    with pytest.raises(ValueError, match="min_delay"):
        LocalHostLimiter().wait("example.org", -1)


def test_robots_oversized_counts_as_unreachable(site: LocalSite) -> None:
    site.add("/robots.txt", "# padding\n" * 500, content_type="text/plain")
    site.add("/story", ARTICLE)
    with make_fetcher(robots_enabled=True, robots_max_bytes=1000) as fetcher:
        result = fetcher.fetch(site.url("/story"))
    assert result.outcome is Outcome.ROBOTS and "limit" in (result.error or "")
    assert site.requests_for("/story") == []


def test_robots_redirect_followed(site: LocalSite) -> None:
    redirect(site, "/robots.txt", "/real-robots.txt")
    site.add("/real-robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    site.add("/story", ARTICLE)
    with make_fetcher(robots_enabled=True) as fetcher:
        assert fetcher.fetch(site.url("/story")).outcome is Outcome.ROBOTS
