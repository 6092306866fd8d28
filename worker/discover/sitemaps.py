"""Article links (or child sitemaps) of XML, text, gzipped and feed-format sitemaps.

Sitemaps go through defusedxml, which refuses entity declarations outright.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree

from editions.errors import DiscoveryError
from worker.discover.feeds import parse_feed
from worker.discover.links import (
    UTF8_BOM,
    Link,
    SitemapPage,
    clean_text,
    is_http,
    looks_like_html,
    make_link,
    utc_date,
)

log = logging.getLogger(__name__)

# The sitemap protocol's own limits: 50,000 URLs and 50 MB (uncompressed) per file.
MAX_SITEMAP_URLS = 50_000
# The sitemap protocol's own limit; the max_sitemap_bytes setting overrides it.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"


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
    return None if child is None else clean_text(child.text)


def _entry_location(element: Element) -> str | None:
    # Some generators put the URL straight into <url>/<sitemap> with no <loc>.
    return _child_text(element, "loc") or clean_text(element.text)


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
        link = make_link(line, base_url, None, None) if is_http(line) else None
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
        published = utc_date(_child_text(news, "publication_date")) or utc_date(
            _child_text(entry, "lastmod")
        )
        link = make_link(_entry_location(entry), base_url, _child_text(news, "title"), published)
        if link is not None:
            links.append(link)
    return links


def _parse_index(root: Element, base_url: str) -> list[str]:
    sitemaps: list[str] = []
    for entry in root:
        if _local(entry.tag) != "sitemap":
            continue
        link = make_link(_entry_location(entry), base_url, None, None)
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
        if looks_like_html(body):
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
