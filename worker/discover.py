"""Finding article links: in feeds, in sitemaps and on front pages.

Every function here is pure: bytes in, links out. Fetching is someone else's job.
Untrusted XML is parsed defensively: feeds lose their DOCTYPE before feedparser
sees them (its fallback parser would expand entity bombs), and sitemaps go
through defusedxml, which refuses entity declarations outright.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree
import feedparser
import lxml.etree
import lxml.html

from editions.errors import DiscoveryError, InvalidURLError
from worker.canonical import canonicalize, same_site

log = logging.getLogger(__name__)

__all__ = [
    "MAX_SITEMAP_URLS",
    "DiscoveryError",
    "Link",
    "SitemapPage",
    "filter_links",
    "find_page_links",
    "parse_feed",
    "parse_sitemap",
]

# The sitemap protocol's own limits: 50,000 URLs and 50 MB (uncompressed) per file.
MAX_SITEMAP_URLS = 50_000
# The sitemap protocol's own limit; the max_sitemap_bytes setting overrides it.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"

# Links on a front page that point at files, not articles.
NON_ARTICLE_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".avif",
        ".svg",
        ".ico",
        ".bmp",
        ".tif",
        ".tiff",
        ".pdf",
        ".zip",
        ".gz",
        ".rar",
        ".7z",
        ".mp3",
        ".mp4",
        ".m4a",
        ".m4v",
        ".mov",
        ".avi",
        ".webm",
        ".ogg",
        ".wav",
        ".css",
        ".js",
        ".json",
        ".xml",
        ".rss",
        ".atom",
        ".exe",
        ".dmg",
        ".apk",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
    ]
)
NON_HTTP_PREFIXES = ("mailto:", "javascript:", "tel:", "sms:", "data:", "ftp:", "file:", "#")



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


# --- shared helpers ----------------------------------------------------------------


def _clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def _make_link(
    href: str | None, base_url: str, title: str | None, published: datetime | None
) -> Link | None:
    if not href or not href.strip():
        return None
    try:
        url = canonicalize(href, base_url)
    except InvalidURLError as exc:
        log.debug("skipping link: %s", exc)
        return None
    return Link(url=url, title=_clean_text(title), published=published, source_url=href.strip())


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


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parse_date(text: str | None) -> datetime | None:
    """W3C/ISO 8601 (sitemaps, JSON Feed) or RFC 822 dates; None if unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return _to_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _to_utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        log.debug("unreadable date %r", text)
        return None


# --- feeds -------------------------------------------------------------------------


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


_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)


def _looks_like_html(body: bytes) -> bool:
    return bool(_HTML_START.match(body.removeprefix(UTF8_BOM)[:4096]))


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
            href = item_id if isinstance(item_id, str) and _is_http(item_id) else None
        published = _parse_date(_str_or_none(item.get("date_published"))) or _parse_date(
            _str_or_none(item.get("date_modified"))
        )
        link = _make_link(href, base or base_url, _str_or_none(item.get("title")), published)
        if link is not None:
            links.append(link)
    return links


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _is_http(value: str) -> bool:
    return value.strip().lower().startswith(("http://", "https://"))


def _entry_href(entry: Any) -> str | None:
    href = entry.get("link")
    if href:
        return href
    for candidate in entry.get("links", []):
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return candidate["href"]
    entry_id = entry.get("id")
    if isinstance(entry_id, str) and _is_http(entry_id):
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
            parsed_date = _parse_date(_DAY_NAME.sub("", raw))
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
    if _looks_like_html(body):
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
        link = _make_link(_entry_href(entry), base_url, entry.get("title"), _entry_date(entry))
        if link is not None:
            links.append(link)
    if hard_bozo:
        # Ill-formed but with usable items (a feed cut short, a stray '&') is still worth it;
        # ill-formed and nothing usable is an error worth recording.
        if not links:
            raise DiscoveryError(f"not a readable feed: {reason}")
        log.info("feed %s is ill-formed but readable (%s)", base_url, reason)
    return links


# --- sitemaps ----------------------------------------------------------------------


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise DiscoveryError(f"corrupt gzip data: {exc}") from None
    if len(data) > max_bytes:
        raise DiscoveryError(f"gzipped sitemap inflates past the {max_bytes:,}-byte limit")
    return data


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _child_text(element: Element | None, name: str) -> str | None:
    if element is None:
        return None
    child = _child(element, name)
    return None if child is None else _clean_text(child.text)


def _entry_location(element: Element) -> str | None:
    # Some generators put the URL straight into <url>/<sitemap> with no <loc>.
    return _child_text(element, "loc") or _clean_text(element.text)


def _parse_text_sitemap(body: bytes, base_url: str) -> SitemapPage:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DiscoveryError(f"bad encoding: text sitemap is not UTF-8 ({exc.reason})") from None
    if "\x00" in text:
        raise DiscoveryError("binary data, not a sitemap")
    links: list[Link] = []
    bad = 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if len(links) >= MAX_SITEMAP_URLS:
            log.warning("sitemap %s lists more than %d URLs; rest ignored", base_url, len(links))
            break
        link = _make_link(line, base_url, None, None) if _is_http(line) else None
        if link is None:
            bad += 1
        else:
            links.append(link)
    if bad and not links:
        raise DiscoveryError("neither XML nor a list of http(s) URLs: not a sitemap")
    if bad:
        log.info("text sitemap %s: skipped %d lines that are not URLs", base_url, bad)
    return SitemapPage(links=links)


def _parse_urlset(root: Element, base_url: str) -> list[Link]:
    links: list[Link] = []
    for entry in root:
        if _local(entry.tag) != "url":
            continue
        if len(links) >= MAX_SITEMAP_URLS:
            log.warning("sitemap %s lists more than %d URLs; rest ignored", base_url, len(links))
            break
        news = _child(entry, "news")
        published = _parse_date(_child_text(news, "publication_date")) or _parse_date(
            _child_text(entry, "lastmod")
        )
        link = _make_link(_entry_location(entry), base_url, _child_text(news, "title"), published)
        if link is not None:
            links.append(link)
    return links


def _parse_index(root: Element, base_url: str) -> list[str]:
    sitemaps: list[str] = []
    for entry in root:
        if _local(entry.tag) != "sitemap":
            continue
        link = _make_link(_entry_location(entry), base_url, None, None)
        if link is not None and link.url not in sitemaps:
            sitemaps.append(link.url)
        if len(sitemaps) >= MAX_SITEMAP_URLS:
            break
    return sitemaps


def parse_sitemap(body: bytes, base_url: str, *, max_bytes: int = MAX_SITEMAP_BYTES) -> SitemapPage:
    """Links (and child sitemaps) of an XML, text, gzipped or feed-format sitemap."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"parse_sitemap takes the fetched bytes, not {type(body).__name__}")
    body = bytes(body)
    if body.startswith(GZIP_MAGIC):
        body = _gunzip(body, max_bytes)
    elif len(body) > max_bytes:
        raise DiscoveryError(f"sitemap is over the {max_bytes:,}-byte limit")
    body = body.removeprefix(UTF8_BOM)
    if not body.strip():
        raise DiscoveryError("empty document: no sitemap")
    if body.lstrip()[:1] != b"<":
        return _parse_text_sitemap(body, base_url)
    try:
        root = defusedxml.ElementTree.fromstring(body)
    except defusedxml.DefusedXmlException as exc:
        raise DiscoveryError(f"refused unsafe XML ({exc})") from None
    except ParseError as exc:
        if _looks_like_html(body):
            raise DiscoveryError("an HTML page, not a sitemap") from None
        raise DiscoveryError(f"not well-formed XML: {exc}") from None
    kind = _local(root.tag)
    if kind == "urlset":
        return SitemapPage(links=_parse_urlset(root, base_url))
    if kind == "sitemapindex":
        return SitemapPage(sitemaps=_parse_index(root, base_url))
    if kind in {"rss", "feed", "rdf"}:
        # The sitemap protocol accepts RSS 2.0 and Atom feeds as sitemaps.
        return SitemapPage(links=parse_feed(body, base_url))
    if kind == "html":
        raise DiscoveryError("an HTML page, not a sitemap")
    raise DiscoveryError(f"XML root <{kind}> is not <urlset> or <sitemapindex>: not a sitemap")


# --- front pages -------------------------------------------------------------------


def _is_file_link(url: str) -> bool:
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    last = path.rsplit("/", 1)[-1]
    return "." in last and "." + last.rsplit(".", 1)[-1] in NON_ARTICLE_EXTENSIONS


def find_page_links(
    html: str | bytes,
    base_url: str,
    *,
    allow: str | None = None,
    deny: str | None = None,
    same_site_only: bool = True,
) -> list[Link]:
    """Likely article links of a front page: absolute, http(s), same site, deduped, in page order."""
    if isinstance(html, bytes | bytearray) and not bytes(html).strip():
        raise DiscoveryError("empty page: no links")
    if isinstance(html, str) and not html.strip():
        raise DiscoveryError("empty page: no links")
    try:
        if isinstance(html, str):
            # lxml refuses str with an encoding declaration; the text is already decoded.
            html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
        document = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise DiscoveryError(f"not an HTML page: {exc}") from None
    page_url = canonicalize(base_url)
    base = base_url
    for element in document.iter("base"):
        href = element.get("href")
        if href:
            try:
                base = canonicalize(href, base_url)
            except InvalidURLError:
                log.debug("ignoring bad <base href=%r> on %s", href, base_url)
            break
    found: list[Link] = []
    for anchor in document.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.lower().startswith(NON_HTTP_PREFIXES):
            continue
        title = _clean_text(anchor.text_content()) or _clean_text(anchor.get("title"))
        link = _make_link(href, base, title, None)
        if link is None or link.url == page_url or _is_file_link(link.url):
            continue
        if same_site_only and not same_site(link.url, base_url):
            continue
        found.append(link)
    return filter_links(found, allow=allow, deny=deny, limit=len(found))
