"""Article links of RSS, Atom, RDF and JSON Feed documents.

Feeds lose their DOCTYPE before feedparser sees them: its fallback parser would
expand entity bombs.
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import feedparser

from editions.errors import DiscoveryError
from worker.discover.links import UTF8_BOM, Link, is_http, looks_like_html, make_link, utc_date

log = logging.getLogger(__name__)


def _prolog_codec(body: bytes) -> str | None:
    """The codec to read the prolog with when it is not ASCII-compatible (UTF-16/32)."""
    head = body[:4]
    for prefix, codec in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\x00<", "utf-16-be"),
        (b"<\x00", "utf-16-le"),
    ):
        if head.startswith(prefix):
            return codec
    return None


def _doctype_end(text: str, start: int) -> int:
    """Index just past the DOCTYPE starting at ``start``, skipping quotes and the internal subset."""
    quote = ""
    depth = 0
    i = start + len("<!DOCTYPE")
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                break
            i = end + 3
            continue
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == ">" and depth == 0:
            return i + 1
        i += 1
    raise DiscoveryError("unterminated DOCTYPE declaration")


def _strip_doctype_text(text: str) -> str:
    """Remove the DOCTYPE (and its internal subset) from the prolog of an XML document."""
    i = 0
    while i < len(text):
        if text[i] in " \t\r\n\ufeff":
            i += 1
        elif text.startswith("<?", i):
            end = text.find("?>", i)
            if end < 0:
                return text
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i)
            if end < 0:
                return text
            i = end + 3
        elif text[i : i + 9].upper() == "<!DOCTYPE":
            end = _doctype_end(text, i)
            return text[:i] + text[end:]
        else:
            return text
    return text


def strip_doctype(body: bytes) -> bytes:
    """``body`` without its DOCTYPE, so no parser can expand or fetch declared entities."""
    codec = _prolog_codec(body)
    if codec is None:
        # ASCII-compatible (UTF-8, Latin-1, Big5...): markup bytes are plain ASCII; latin-1
        # maps bytes 1:1, so the round trip is lossless whatever the real encoding is.
        return _strip_doctype_text(body.decode("latin-1")).encode("latin-1")
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        raise DiscoveryError(f"bad encoding: not valid {codec} ({exc.reason})") from None
    return _strip_doctype_text(text).encode(codec)


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.removeprefix(UTF8_BOM).lstrip()[:1] == b"{"


def _parse_json_feed(body: bytes, base_url: str) -> list[Link]:
    try:
        document = json.loads(body.removeprefix(UTF8_BOM).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DiscoveryError(f"bad encoding: JSON Feed is not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise DiscoveryError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise DiscoveryError("JSON but not a JSON Feed (no https://jsonfeed.org/version/ version)")
    items = document.get("items")
    if not isinstance(items, list):
        raise DiscoveryError("JSON Feed without an 'items' list")
    base = document.get("home_page_url") if isinstance(document.get("home_page_url"), str) else None
    links: list[Link] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        href = item.get("url")
        if not isinstance(href, str):
            item_id = item.get("id")
            href = item_id if isinstance(item_id, str) and is_http(item_id) else None
        published = utc_date(_str_or_none(item.get("date_published"))) or utc_date(
            _str_or_none(item.get("date_modified"))
        )
        link = make_link(href, base or base_url, _str_or_none(item.get("title")), published)
        if link is not None:
            links.append(link)
    return links


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _entry_href(entry: Any) -> str | None:
    href = entry.get("link")
    if href:
        return href
    for candidate in entry.get("links", []):
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return candidate["href"]
    entry_id = entry.get("id")
    if isinstance(entry_id, str) and is_http(entry_id):
        return entry_id
    return None


_DAY_NAME = re.compile(r"^\s*[^\W\d]+\.?,\s*")


def _entry_date(entry: Any) -> datetime | None:
    # dict.get: feedparser's own lookup maps updated_parsed to published_parsed, with a warning.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)
        if parsed:
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    for key in ("published", "updated"):
        raw = dict.get(entry, key)
        if isinstance(raw, str) and raw.strip():
            # feedparser gives up on localised day names ("mer, 16 nov 2022 ..."); the rest
            # of an RFC 822 date is often still readable.
            parsed_date = utc_date(_DAY_NAME.sub("", raw))
            if parsed_date is not None:
                return parsed_date
    return None


# feedparser flags these as bozo although the document parsed fine.
_SOFT_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(body: bytes, base_url: str, *, content_type: str | None = None) -> list[Link]:
    """Article links of an RSS, Atom or JSON Feed document; DiscoveryError if it is not one."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"parse_feed takes the fetched bytes, not {type(body).__name__}")
    body = bytes(body)
    if not body.strip():
        raise DiscoveryError("empty document: no feed")
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, base_url)
    if looks_like_html(body):
        raise DiscoveryError("an HTML page, not a feed")
    cleaned = strip_doctype(body)
    # Headers only with a real content type: without one feedparser flags every
    # document as bozo ("no Content-type specified").
    headers = {"content-type": content_type, "content-location": base_url} if content_type else {}
    # Bytes in a file object: feedparser reads a str as a path or URL.
    parsed = feedparser.parse(io.BytesIO(cleaned), response_headers=headers, sanitize_html=False)
    entries = parsed.get("entries", [])
    reason = parsed.get("bozo_exception")
    hard_bozo = bool(parsed.get("bozo")) and not isinstance(reason, _SOFT_BOZO)
    if not entries and not hard_bozo and not parsed.get("version"):
        raise DiscoveryError("XML but not an RSS, RDF or Atom feed")
    links = []
    for entry in entries:
        link = make_link(_entry_href(entry), base_url, entry.get("title"), _entry_date(entry))
        if link is not None:
            links.append(link)
    if hard_bozo:
        # Ill-formed but with usable items (a feed cut short, a stray '&') is still worth it;
        # ill-formed and nothing usable is an error worth recording.
        if not links:
            raise DiscoveryError(f"not a readable feed: {reason}")
        log.info("feed %s is ill-formed but readable (%s)", base_url, reason)
    return links
