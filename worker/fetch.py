"""The fetcher: one polite, bounded, SSRF-safe HTTP GET per call, never raising for the network.

Every problem the network or the server can cause ends up in ``FetchResult.outcome``
with a human-readable ``error``; only programmer errors raise. Redirects are
followed here, not by requests, so that every hop is checked (scheme, robots,
address, loops) and recorded; their bodies are never read.

One deadline, ``TOTAL_TIMEOUT``, covers the whole fetch of a URL from its first
request: every hop, every retry and the pauses between them, and every read of
status line, headers and body.
"""

from __future__ import annotations

import email.utils
import http.client
import io
import logging
import random
import socket
import time
from collections.abc import Collection, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from editions.errors import BlockedAddressError, FetchError, NetworkListError, ResolutionError
from editions.settings import Settings
from worker.netguard import (
    IPNetwork,
    parse_networks,
    resolve_and_check,
)
from worker.politeness import HostLimiter, LocalHostLimiter
from worker.response import FetchResult, Outcome, mime_type
from worker.robots import RobotsCache

__all__ = [
    "BlockedAddressError",
    "FetchError",
    "FetchResult",
    "Fetcher",
    "NetworkListError",
    "Outcome",
    "ResolutionError",
]

log = logging.getLogger(__name__)

DEFAULT_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHUNK = 64 * 1024
# Types whose bodies must look like text; anything else is not sniffed.
_TEXTUAL_PREFIXES = ("text/", "application/xhtml", "application/xml", "application/json")
_TEXTUAL_SUFFIXES = ("+xml", "+json")
_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"%PDF-",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked by a Retry-After value (delta-seconds or HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


# --- the deadline at socket level ----------------------------------------------------

# (deadline on the monotonic clock, READ_TIMEOUT) of the fetch this thread is running;
# set around each request so the response built for it reads under that deadline.
_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("fetch_deadline", default=None)


class _DeadlineReader(io.RawIOBase):
    """Reads a response from its socket, never waiting past the fetch's deadline.

    A socket timeout bounds each recv, not the whole: a server dripping one header
    byte every second would never trip it, since http.client reads the status line
    and headers itself. Here each recv may wait only until the deadline.
    """

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, ends: float, read: float) -> None:
        super().__init__()
        # The socket file http.client made: it keeps the socket open when the
        # connection hands it over (Connection: close), so it is wrapped, not replaced.
        self._raw = raw
        self._sock = sock
        self._ends = ends
        self._read_timeout = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._ends - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the fetch's total deadline has passed")
        self._sock.settimeout(min(self._read_timeout, remaining))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineHTTPResponse(http.client.HTTPResponse):
    """http.client's response, reading through a _DeadlineReader when a fetch set a deadline."""

    def __init__(
        self, sock: Any, debuglevel: int = 0, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        deadline = _DEADLINE.get()
        if deadline is not None:
            # Nothing has been read yet, so detaching the buffer loses nothing.
            raw = self.fp.detach()
            self.fp = io.BufferedReader(_DeadlineReader(raw, sock, *deadline))


class _NoRedirectSession(requests.Session):
    """A Session that never touches redirects: the fetcher follows them itself.

    Even with ``allow_redirects=False`` requests runs ``resolve_redirects`` once (to
    fill ``response.next``), and that reads the redirect's whole body into memory,
    decompressed, with no size cap or deadline: a gzip bomb or a slow drip in a 3xx
    body went straight past both.
    """

    def resolve_redirects(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iter(())


# --- connection-time address pinning -------------------------------------------------


class _GuardedConnectionMixin:
    """Resolve, check and connect to the checked address itself: no second lookup."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    response_class = _DeadlineHTTPResponse

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        try:
            infos = resolve_and_check(
                conn._dns_host,
                conn.port,
                self.allow_private,
                allowed_networks=self.allowed_networks,
            )
        except ResolutionError as exc:
            raise NameResolutionError(conn.host, conn, socket.gaierror(str(exc))) from exc
        last_error: OSError | None = None
        for family, _type, _proto, _canon, sockaddr in infos:
            try:
                sock = create_connection(
                    (sockaddr[0], conn.port),
                    conn.timeout,
                    source_address=conn.source_address,
                    socket_options=conn.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    conn,
                    f"Connection to {conn.host} ({sockaddr[0]}) timed out "
                    f"(connect timeout={conn.timeout})",
                ) from exc
            except OSError as exc:
                last_error = exc
                continue
            log.debug("connected to %s at %s (family %s)", conn.host, sockaddr[0], family)
            return sock
        raise NewConnectionError(conn, f"Failed to establish a new connection: {last_error}")


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose every new socket goes through the address guard."""

    def __init__(self, allow_private: bool, allowed_networks: tuple[IPNetwork, ...]) -> None:
        self._guard = {"allow_private": allow_private, "allowed_networks": allowed_networks}
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        guard = self._guard
        # Subclass per adapter so the flag travels with the connection class, not a global.
        http_cls = type("PinnedHTTPConnection", (_GuardedHTTPConnection,), guard)
        https_cls = type("PinnedHTTPSConnection", (_GuardedHTTPSConnection,), guard)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type(
                "PinnedHTTPPool", (_GuardedHTTPConnectionPool,), {"ConnectionCls": http_cls}
            ),
            "https": type(
                "PinnedHTTPSPool", (_GuardedHTTPSConnectionPool,), {"ConnectionCls": https_cls}
            ),
        }


# --- the fetcher ---------------------------------------------------------------------


class _Failure(Exception):
    """One attempt ended in a non-OK outcome (internal control flow)."""

    def __init__(
        self,
        outcome: Outcome,
        error: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.retry_after = retry_after
        self.retryable = False


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _Budget:
    """The one time budget of a fetch, shared by its hops, retries and reads.

    It starts with the first request: waiting for robots.txt or for the host's
    turn under the politeness limiter is not the server's time.
    """

    seconds: float
    ends: float = float("inf")

    def start(self) -> None:
        if self.ends == float("inf"):
            self.ends = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()


class Fetcher:
    """Fetches URLs politely and safely; see ``fetch``. Use as a context manager or ``close()``.

    The limiter and robots cache may be shared between fetchers (and threads);
    the HTTP session is per fetcher.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        limiter: HostLimiter | None = None,
        robots: RobotsCache | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings.defaults()
        self.limiter: HostLimiter = limiter if limiter is not None else LocalHostLimiter()
        self._robots_fetcher: Fetcher | None = None
        if robots is None and self.settings.robots_enabled:
            # robots.txt goes through the same guard, limits and host spacing as pages.
            self._robots_fetcher = Fetcher(
                self.settings.replace(robots_enabled=False), limiter=self.limiter
            )
            robots = RobotsCache(self.settings, fetcher=self._robots_fetcher)
        self.robots = robots if self.settings.robots_enabled else None
        self._session = _NoRedirectSession()
        # Proxies from the environment would connect on our behalf, past the guard.
        self._session.trust_env = False
        adapter = _GuardedAdapter(
            allow_private=bool(self.settings.allow_private_addresses),
            allowed_networks=parse_networks(self.settings.allowed_networks),
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = self.settings.user_agent

    # --- lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        self._session.close()
        if self._robots_fetcher is not None:
            self._robots_fetcher.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public ------------------------------------------------------------------
    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = DEFAULT_ACCEPT,
        allowed_types: Collection[str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET ``url``. Never raises for network, HTTP or content problems: see ``outcome``."""
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, got {type(url).__name__}")
        if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes <= 0):
            raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
        if isinstance(allowed_types, str):
            raise TypeError("allowed_types must be a collection of mime types, not one str")
        limit = max_bytes if max_bytes is not None else int(self.settings.max_body_bytes)
        allowed = {t.lower() for t in allowed_types} if allowed_types is not None else None

        started_at = datetime.now(UTC)
        clock = time.monotonic()
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        current = url
        redirects: list[str] = []
        answer: _Answer | None = None
        budget = _Budget(float(self.settings.total_timeout))
        try:
            while True:
                self._check_scheme(current, redirected=bool(redirects))
                self._check_robots(current)
                answer = self._fetch_with_retries(current, headers, limit, allowed, budget)
                if answer.status not in _REDIRECT_STATUSES:
                    break
                redirects.append(current)
                current = self._next_hop(current, answer, redirects)
        except _Failure as failure:
            result = FetchResult(
                url=url,
                final_url=current,
                outcome=failure.outcome,
                status=failure.status,
                headers=failure.headers,
                body=b"",
                started_at=started_at,
                duration=time.monotonic() - clock,
                error=failure.error,
                redirects=redirects,
            )
            # The fetcher never raises and never alarms: the caller (the pipeline)
            # reports each failure once, with what it was fetching it for.
            log.info("fetch %s: %s (%s)", url, failure.outcome.value, failure.error)
            return result

        outcome = Outcome.NOT_MODIFIED if answer.status == 304 else Outcome.OK
        result = FetchResult(
            url=url,
            final_url=current,
            outcome=outcome,
            status=answer.status,
            headers=answer.headers,
            body=answer.body if outcome is Outcome.OK else b"",
            started_at=started_at,
            duration=time.monotonic() - clock,
            redirects=redirects,
        )
        log.debug(
            "fetch %s: %s %s, %d bytes in %.3fs",
            url,
            outcome.value,
            answer.status,
            result.size,
            result.duration,
        )
        return result

    # --- steps -------------------------------------------------------------------
    @staticmethod
    def _check_scheme(url: str, redirected: bool) -> None:
        try:
            parts = urlsplit(url)
            if parts.scheme.lower() in {"http", "https"} and parts.hostname:
                parts.port  # noqa: B018 - raises ValueError for a port out of range
                return
        except ValueError:
            pass  # a malformed authority such as "http://[::1" is refused below
        if redirected:
            raise _Failure(Outcome.REDIRECT_ERROR, f"redirect to a refused URL: {url!r}")
        raise _Failure(Outcome.BLOCKED, f"not a valid http(s) URL with a host: {url!r}")

    def _check_robots(self, url: str) -> None:
        if self.robots is None:
            return
        user_agent = self.settings.user_agent
        allowed, rules = self.robots.judge(url, user_agent)
        if allowed or rules is None:
            return
        if rules.failure is not None:
            # The host never answered for robots.txt: a network outcome, not a robots verdict.
            raise _Failure(rules.failure, f"host unreachable: {url} not requested, {rules.reason}")
        raise _Failure(Outcome.ROBOTS, f"robots.txt disallows {url}: {rules.reason}")

    def _host_delay(self, url: str) -> float:
        delay = float(self.settings.host_delay)
        if self.robots is not None:
            crawl_delay = self.robots.crawl_delay(url, self.settings.user_agent)
            if crawl_delay is not None:
                delay = max(delay, crawl_delay)
        return delay

    def _next_hop(self, current: str, answer: _Answer, redirects: list[str]) -> str:
        location = answer.headers.get("location")
        chain = " -> ".join(redirects)
        if not location:
            raise _Failure(
                Outcome.REDIRECT_ERROR,
                f"{answer.status} redirect without a Location header at {current}",
                status=answer.status,
                headers=answer.headers,
            )
        target = urljoin(current, location.strip())
        target = target.split("#", 1)[0]
        if target in redirects:
            raise _Failure(
                Outcome.REDIRECT_ERROR,
                f"redirect loop: {chain} -> {target}",
                status=answer.status,
                headers=answer.headers,
            )
        if len(redirects) > int(self.settings.max_redirects):
            raise _Failure(
                Outcome.REDIRECT_ERROR,
                f"more than {self.settings.max_redirects} redirects: {chain} -> {target}",
                status=answer.status,
                headers=answer.headers,
            )
        log.debug("redirect %s -> %s (%s)", current, target, answer.status)
        return target

    def _fetch_with_retries(
        self,
        url: str,
        headers: dict[str, str],
        limit: int,
        allowed: set[str] | None,
        budget: _Budget,
    ) -> _Answer:
        host = (urlsplit(url).hostname or "").lower()  # safe: _check_scheme parsed it
        retries = int(self.settings.max_retries)
        max_wait = float(self.settings.retry_max_wait)
        total = float(self.settings.total_timeout)
        for attempt in range(retries + 1):
            self.limiter.wait(host, self._host_delay(url))
            budget.start()
            if budget.remaining() <= 0:
                # Spent by earlier hops (or their robots.txt) before this one could start.
                raise _timeout(f"TOTAL_TIMEOUT={total:g}s spent before requesting {url}", None, {})
            try:
                return self._attempt(url, headers, limit, allowed, budget.ends)
            except _Failure as failure:
                if not failure.retryable or attempt == retries:
                    if failure.retryable and retries:
                        failure.error += f" (gave up after {retries + 1} attempts)"
                    raise
                if failure.retry_after is not None:
                    if failure.retry_after > max_wait:
                        failure.error += (
                            f"; server asked to retry after {failure.retry_after:.0f}s, more "
                            f"than RETRY_MAX_WAIT={max_wait:g}s, so gave up"
                        )
                        raise
                    pause = failure.retry_after
                else:
                    # Full jitter spreads retries from many workers hitting the same outage.
                    ceiling = float(self.settings.retry_backoff) * 2**attempt
                    pause = random.uniform(0, min(max_wait, ceiling))
                if pause >= budget.remaining():
                    if failure.outcome is not Outcome.TIMEOUT or budget.remaining() > 0:
                        # The answer was not a timeout, but the deadline ends the fetch.
                        failure = _timeout(
                            f"{failure.error}; no time left within TOTAL_TIMEOUT={total:g}s "
                            "for another attempt",
                            failure.status,
                            failure.headers,
                        )
                    failure.error += f" (gave up after {attempt + 1} attempt{'s' * bool(attempt)})"
                    raise failure
                log.info(
                    "fetch %s: %s, retry %d/%d in %.2fs",
                    url,
                    failure.error,
                    attempt + 1,
                    retries,
                    pause,
                )
                time.sleep(pause)
        raise AssertionError("unreachable: the loop returns or raises")

    def _attempt(
        self,
        url: str,
        headers: dict[str, str],
        limit: int,
        allowed: set[str] | None,
        deadline: float,
    ) -> _Answer:
        # Never zero or less: urllib3 refuses such timeouts as a ValueError.
        remaining = max(deadline - time.monotonic(), 0.001)
        read_timeout = float(self.settings.read_timeout)
        timeout = (
            min(float(self.settings.connect_timeout), remaining),
            min(read_timeout, remaining),
        )
        token = _DEADLINE.set((deadline, read_timeout))
        try:
            response = self._session.get(
                url, headers=headers, stream=True, allow_redirects=False, timeout=timeout
            )
        except BlockedAddressError as exc:
            raise _Failure(Outcome.BLOCKED, str(exc)) from exc
        except requests.exceptions.RequestException as exc:
            failure = _network_failure(url, exc)
            if failure.outcome is Outcome.TIMEOUT and time.monotonic() >= deadline:
                total = float(self.settings.total_timeout)
                failure.error = f"no complete answer from {url} within TOTAL_TIMEOUT={total:g}s"
            raise failure from exc
        except ValueError as exc:
            # http.client's own URL checks (control characters...) escape requests' wrapping.
            raise _Failure(Outcome.BLOCKED, f"invalid URL {url!r}: {exc}") from exc
        finally:
            _DEADLINE.reset(token)
        try:
            return self._read(url, response, limit, allowed, deadline)
        finally:
            response.close()

    def _read(
        self,
        url: str,
        response: requests.Response,
        limit: int,
        allowed: set[str] | None,
        deadline: float,
    ) -> _Answer:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        if status in _REDIRECT_STATUSES or status == 304:
            return _Answer(status, headers, b"")
        if status >= 300:
            failure = _Failure(
                Outcome.HTTP_ERROR,
                f"HTTP {status} {response.reason or ''}".strip(),
                status=status,
                headers=headers,
                retry_after=retry_after_seconds(headers.get("retry-after")),
            )
            failure.retryable = status in _RETRY_STATUSES
            raise failure

        mime = mime_type(headers.get("content-type"))
        if allowed is not None and mime is not None and not _type_allowed(mime, allowed):
            raise _Failure(
                Outcome.BAD_CONTENT,
                f"content type {mime} is not one of {', '.join(sorted(allowed))}",
                status=status,
                headers=headers,
            )
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise _Failure(
                Outcome.TOO_LARGE,
                f"Content-Length {declared} exceeds the {limit}-byte limit",
                status=status,
                headers=headers,
            )
        body = self._read_body(url, response, limit, deadline, status, headers)
        if _looks_binary(body, mime, allowed):
            raise _Failure(
                Outcome.BAD_CONTENT,
                f"body of {url} looks binary although typed {mime or 'nothing'}",
                status=status,
                headers=headers,
            )
        return _Answer(status, headers, body)

    def _read_body(
        self,
        url: str,
        response: requests.Response,
        limit: int,
        deadline: float,
        status: int,
        headers: dict[str, str],
    ) -> bytes:
        raw = response.raw
        read_timeout = float(self.settings.read_timeout)
        total = float(self.settings.total_timeout)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timeout(
                    f"body of {url} not complete within TOTAL_TIMEOUT={total:g}s", status, headers
                )
            _set_socket_timeout(raw, min(read_timeout, remaining))
            try:
                # read1 returns what has arrived (decompressed, at most _CHUNK bytes), so the
                # deadline and the size cap are checked between small reads: a slow drip or a
                # gzip bomb cannot run past them.
                chunk = raw.read1(_CHUNK, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError as exc:
                if time.monotonic() >= deadline:
                    raise _timeout(
                        f"body of {url} not complete within TOTAL_TIMEOUT={total:g}s",
                        status,
                        headers,
                    ) from exc
                raise _timeout(
                    f"read timed out on {url} (READ_TIMEOUT={read_timeout:g}s)", status, headers
                ) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                failure = _Failure(
                    Outcome.CONNECTION_ERROR,
                    f"reading {url} failed: {exc.__class__.__name__}: {exc}",
                    status=status,
                    headers=headers,
                )
                failure.retryable = True
                raise failure from exc
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise _Failure(
                    Outcome.TOO_LARGE,
                    f"body of {url} exceeds the {limit}-byte limit (after decompression)",
                    status=status,
                    headers=headers,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _timeout(error: str, status: int | None, headers: dict[str, str]) -> _Failure:
    failure = _Failure(Outcome.TIMEOUT, error, status=status, headers=headers)
    failure.retryable = True
    return failure


def _network_failure(url: str, exc: requests.exceptions.RequestException) -> _Failure:
    if isinstance(exc, requests.exceptions.Timeout):
        failure = _Failure(Outcome.TIMEOUT, f"{url}: {_describe(exc)}")
        failure.retryable = True
        return failure
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return _Failure(Outcome.BLOCKED, f"invalid URL {url!r}: {exc}")
    failure = _Failure(Outcome.CONNECTION_ERROR, f"{url}: {_describe(exc)}")
    # An unknown host will still be unknown in a few seconds.
    failure.retryable = not _caused_by(exc, NameResolutionError)
    return failure


def _describe(exc: BaseException) -> str:
    # requests wraps urllib3's MaxRetryError, whose .reason is the informative part.
    inner = getattr(exc.args[0], "reason", None) if exc.args else None
    return f"{exc.__class__.__name__}: {inner if inner is not None else exc}"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        inner = getattr(seen.args[0], "reason", None) if seen.args else None
        if isinstance(inner, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _set_socket_timeout(raw: Any, seconds: float) -> None:
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _type_allowed(mime: str, allowed: set[str]) -> bool:
    if mime in allowed:
        return True
    major = mime.split("/", 1)[0]
    return f"{major}/*" in allowed or "*/*" in allowed


def _looks_binary(body: bytes, mime: str | None, allowed: set[str] | None) -> bool:
    """True when a body that claims (or is expected) to be text is plainly binary."""
    textual = mime is None or mime.startswith(_TEXTUAL_PREFIXES) or mime.endswith(_TEXTUAL_SUFFIXES)
    if not textual:
        return False
    if mime is None and allowed is None:
        return False
    head = body[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text legitimately holds NULs
        return False
    return b"\x00" in head or head.startswith(_BINARY_MAGIC)
