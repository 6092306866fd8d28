"""robots.txt: fetched through the fetcher (same address guard, limits and politeness), parsed
by protego, cached per scheme + host + port.

What a robots.txt answer means follows Google's documented behaviour
(developers.google.com/search/docs/crawling-indexing/robots/robots_txt):

* 2xx: the rules apply.
* redirects are followed (up to MAX_REDIRECTS); a broken redirect chain counts as 404.
* 4xx other than 429: there is no robots.txt, everything is allowed.
* 429 and 5xx: the site is treated as fully disallowed, for ROBOTS_ERROR_CACHE_SECONDS,
  then asked again.
* timeouts and connection errors: the host did not answer at all, so there is no robots
  verdict to report. No page is requested either (for ROBOTS_ERROR_CACHE_SECONDS), and the
  page fetch reports the same network outcome, so an unreachable host reads as one.

Two local choices: a robots.txt refused by the address guard allows the page fetch, so
that fetch fails as BLOCKED with the real reason; an oversized one counts as unreachable.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from editions.settings import Settings
from worker.response import Fetches, FetchResult, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RobotsRules:
    """The verdict for one site: parsed rules, or a blanket allow/disallow.

    ``failure`` is set when robots.txt could not be fetched for network reasons
    (timeout, connection error): pages are then not fetched either, and report it.
    """

    parser: Protego | None
    allow_all: bool
    reason: str
    failure: Outcome | None = None

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return self.parser.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.parser is None:
            return None
        return self.parser.crawl_delay(user_agent)


_NETWORK_OUTCOMES = frozenset({Outcome.TIMEOUT, Outcome.CONNECTION_ERROR})


def rules_from_result(result: FetchResult) -> tuple[RobotsRules, bool]:
    """Interpret a robots.txt fetch; the flag is True for a temporary (error) verdict."""
    outcome, status = result.outcome, result.status
    if outcome is Outcome.OK:
        # Invalid bytes are replaced, not fatal: protego skips lines it cannot read.
        text = result.body.decode("utf-8", errors="replace").lstrip("\ufeff")
        try:
            parser = Protego.parse(text)
        except Exception as exc:  # protego's failure modes are not documented; any means unusable
            log.warning("robots: cannot parse %s: %s", result.final_url, exc)
            return RobotsRules(None, True, f"robots.txt unparseable ({exc}): all allowed"), False
        return RobotsRules(parser, True, f"robots.txt ({status})"), False
    if (
        outcome is Outcome.HTTP_ERROR
        and status is not None
        and 400 <= status < 500
        and status != 429
    ):
        return RobotsRules(None, True, f"no robots.txt (HTTP {status}): all allowed"), False
    if outcome in {Outcome.REDIRECT_ERROR, Outcome.BAD_CONTENT, Outcome.BLOCKED}:
        return RobotsRules(None, True, f"robots.txt unusable ({result.error}): all allowed"), False
    if outcome in _NETWORK_OUTCOMES:
        reason = f"robots.txt fetch failed ({result.error})"
        return RobotsRules(None, False, reason, failure=outcome), True
    return (
        RobotsRules(None, False, f"robots.txt unreachable ({result.error}): all disallowed"),
        True,
    )


@dataclass
class _Entry:
    rules: RobotsRules
    expires: float


class RobotsCache:
    """Thread-safe cache of robots.txt verdicts, keyed by scheme, host and port."""

    def __init__(self, settings: Settings, *, fetcher: Fetches) -> None:
        self.settings = settings
        # A fetcher that does not itself ask robots.txt (it would ask forever).
        self._fetcher = fetcher
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._site_locks: dict[str, threading.Lock] = {}

    def allowed(self, url: str, user_agent: str) -> bool:
        """May ``user_agent`` fetch ``url``?"""
        return self.verdict(url, user_agent)[0]

    def verdict(self, url: str, user_agent: str) -> tuple[bool, str]:
        """Whether ``user_agent`` may fetch ``url``, and on what grounds."""
        allowed, rules = self.judge(url, user_agent)
        return allowed, rules.reason if rules else "robots.txt itself is always fetchable"

    def judge(self, url: str, user_agent: str) -> tuple[bool, RobotsRules | None]:
        """Like :meth:`verdict`, with the rules decided on (None for robots.txt itself).

        The fetcher reads ``failure`` from them in the same call, so a verdict and
        the reason for it can never come from two different cache entries.
        """
        if urlsplit(url).path == "/robots.txt":
            return True, None
        rules = self.rules_for(url)
        allowed = rules.allowed(url, user_agent)
        if not allowed:
            log.info("robots: %s disallowed (%s)", url, rules.reason)
        return allowed, rules

    def crawl_delay(self, url: str, user_agent: str) -> float | None:
        """The Crawl-delay for ``user_agent`` on ``url``'s site, capped by ROBOTS_MAX_CRAWL_DELAY."""
        delay = self.rules_for(url).crawl_delay(user_agent)
        if delay is None:
            return None
        cap = float(self.settings.robots_max_crawl_delay)
        if delay > cap:
            log.info("robots: crawl-delay %ss for %s capped at %ss", delay, url, cap)
            return cap
        return max(0.0, delay)

    def rules_for(self, url: str) -> RobotsRules:
        """The (cached) rules for ``url``'s site, fetching robots.txt when stale."""
        key = site_key(url)
        entry = self._fresh_entry(key)
        if entry is not None:
            return entry.rules
        with self._lock:
            site_lock = self._site_locks.setdefault(key, threading.Lock())
        # One fetch per site at a time; the others wait and reuse its answer.
        with site_lock:
            entry = self._fresh_entry(key)
            if entry is not None:
                return entry.rules
            result = self._fetcher.fetch(
                key + "/robots.txt",
                accept="text/plain,*/*;q=0.5",
                max_bytes=int(self.settings.robots_max_bytes),
            )
            rules, temporary = rules_from_result(result)
            ttl = (
                self.settings.robots_error_cache_seconds
                if temporary
                else self.settings.robots_cache_seconds
            )
            log.debug("robots: %s -> %s, cached %ss", key, rules.reason, ttl)
            with self._lock:
                self._entries[key] = _Entry(rules, time.monotonic() + float(ttl))
            return rules

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _fresh_entry(self, key: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry.expires > time.monotonic():
            return entry
        return None


def site_key(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (scheme, port) in {("http", 80), ("https", 443)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
