"""What discovery finds, and the helpers feeds, sitemaps and front pages share."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from editions.errors import InvalidURLError
from worker.canonical import canonicalize
from worker.dates import parse_date

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class Link:
    """One article link found by discovery."""

    url: str
    title: str | None = None
    published: datetime | None = None
    source_url: str | None = None


@dataclass
class SitemapPage:
    """What one sitemap file holds: article links, or child sitemaps (an index)."""

    links: list[Link] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def make_link(
    href: str | None, base_url: str, title: str | None, published: datetime | None
) -> Link | None:
    if not href or not href.strip():
        return None
    try:
        url = canonicalize(href, base_url)
    except InvalidURLError as exc:
        log.debug("skipping link: %s", exc)
        return None
    return Link(url=url, title=clean_text(title), published=published, source_url=href.strip())


def _dedupe(links: Iterable[Link]) -> Iterator[Link]:
    seen: dict[str, Link] = {}
    order: list[str] = []
    for link in links:
        kept = seen.get(link.url)
        if kept is None:
            seen[link.url] = link
            order.append(link.url)
        elif kept.title is None and link.title:
            # An image link often comes first; the text link after it has the title.
            seen[link.url] = replace(kept, title=link.title)
    for url in order:
        yield seen[url]


def _compile(pattern: str | None, what: str) -> re.Pattern[str] | None:
    if pattern is None or pattern == "":
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{what} pattern {pattern!r} is not a valid regex: {exc}") from None


def filter_links(
    links: Iterable[Link], *, allow: str | None, deny: str | None, limit: int
) -> list[Link]:
    """Links whose URL matches ``allow`` and not ``deny`` (regex search), deduped, first ``limit``."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    allowed, denied = _compile(allow, "allow"), _compile(deny, "deny")
    result: list[Link] = []
    for link in _dedupe(links):
        if len(result) >= limit:
            break
        if allowed is not None and not allowed.search(link.url):
            continue
        if denied is not None and denied.search(link.url):
            continue
        result.append(link)
    return result


def utc_date(text: str | None) -> datetime | None:
    """A date as discovery stores it: read by the one date parser, in UTC."""
    parsed = parse_date(text)
    return None if parsed is None else parsed.astimezone(UTC)


def is_http(value: str) -> bool:
    return value.strip().lower().startswith(("http://", "https://"))


_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)


def looks_like_html(body: bytes) -> bool:
    return bool(_HTML_START.match(body.removeprefix(UTF8_BOM)[:4096]))
