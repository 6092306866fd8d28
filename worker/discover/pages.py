"""Likely article links of a front page."""

from __future__ import annotations

import logging
import re

import lxml.etree
import lxml.html

from editions.errors import DiscoveryError, InvalidURLError
from worker.canonical import canonicalize, same_site
from worker.discover.links import Link, clean_text, filter_links, make_link

log = logging.getLogger(__name__)

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
        title = clean_text(anchor.text_content()) or clean_text(anchor.get("title"))
        link = make_link(href, base, title, None)
        if link is None or link.url == page_url or _is_file_link(link.url):
            continue
        if same_site_only and not same_site(link.url, base_url):
            continue
        found.append(link)
    return filter_links(found, allow=allow, deny=deny, limit=len(found))
