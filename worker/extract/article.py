"""One page in, one :class:`Extracted` article out."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml.etree import LxmlError
from lxml.html import HtmlElement, HTMLParser, fromstring
from trafilatura.utils import is_dubious_html, repair_faulty_html

from editions.errors import ExtractionError
from worker.encoding import decode_html
from worker.extract.body import body_text, strip_header
from worker.extract.dates import in_page_time_zone, modified_date, published_date
from worker.extract.language import choose_language, language_code
from worker.extract.metadata import (
    byline_from,
    byline_in_page,
    linked_data,
    meta_tags,
    title_from_document,
)
from worker.extract.values import absolute, clean, first

log = logging.getLogger(__name__)


@dataclass
class Extracted:
    """One article as extracted from one page."""

    url: str
    canonical_url: str | None
    title: str | None
    byline: str | None
    published: datetime | None
    modified: datetime | None
    language: str | None
    section: str | None
    image_url: str | None
    site_name: str | None
    description: str | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO-8601 strings."""
        data = asdict(self)
        for key in ("published", "modified"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


# Signatures of formats a misconfigured fetch hands us instead of HTML.
_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive",
    b"\x1f\x8b": "gzip-compressed data",
    b"RIFF": "a RIFF (WebP/WAV/AVI) file",
    b"\x00\x00\x00": "binary data",
}
_TAG_RE = re.compile(r"<\s*[a-zA-Z!?]")


def to_text(html: str | bytes) -> str:
    if isinstance(html, bytes):
        if not html.strip():
            raise ExtractionError("empty document: no bytes to extract from")
        for magic, kind in _BINARY_MAGIC.items():
            if html.startswith(magic):
                raise ExtractionError(f"not HTML: the body is {kind}")
        if b"\x00" in html[:1024] and not html.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ExtractionError("not HTML: the body holds NUL bytes (binary data)")
        html = decode_html(html, None)
    if not isinstance(html, str):
        raise TypeError(f"extract_article() needs str or bytes, not {type(html).__name__}")
    if not html.strip():
        raise ExtractionError("empty document: nothing to extract")
    if "\x00" in html[:1024]:
        raise ExtractionError("not HTML: the text holds NUL characters (binary data)")
    return html


# trafilatura's own parser, without libxml2's safety limits: they cut text nested deeper
# than 255 elements to nothing and drop a text node over 10 MB. The fetcher's size cap
# already bounds what reaches this parser.
_HTML_PARSER = HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    huge_tree=True,
)


def _load_html(source: str) -> HtmlElement | None:
    """``trafilatura.utils.load_html`` for decoded text, with :data:`_HTML_PARSER`."""
    beginning = source[:50].lower()
    dubious = is_dubious_html(beginning)
    source = repair_faulty_html(source, beginning)
    try:
        tree = fromstring(source, parser=_HTML_PARSER)
    except (ValueError, LxmlError):
        # "Unicode strings with encoding declaration are not supported."
        tree = None
    if tree is None or len(tree) < 1:
        try:
            tree = fromstring(source.encode("utf-8", "surrogatepass"), parser=_HTML_PARSER)
        except (ValueError, LxmlError) as exc:
            log.debug("lxml could not parse the page: %s", exc)
            return None
    if tree is not None and dubious and len(tree) < 2:
        return None
    return tree


# libxml2 gives up at 2048 levels even for a huge tree, dropping the rest of the page; a
# tree that deep was cut short. No real article comes near it.
_MAX_DEPTH = 2000


def _depth(tree: HtmlElement) -> int:
    """How many levels the element tree goes down (iteratively: it can be thousands)."""
    deepest = 0
    stack = [(tree, 0)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in element)
    return deepest


def extract_article(html: str | bytes, url: str) -> Extracted:
    """Extract the article and its metadata from one page fetched from ``url``.

    Bytes are decoded with :func:`worker.encoding.decode_html`. Raises
    :class:`ExtractionError` for input that is not HTML; a valid page without an
    article body gives ``text == ""``.
    """
    source = to_text(html)
    if not _TAG_RE.search(source[:65536]):
        raise ExtractionError(f"not HTML: no markup in the document from {url}")
    tree = _load_html(source)
    if tree is None or len(tree) == 0:
        raise ExtractionError(f"not HTML: lxml could not build a document from {url}")
    if _depth(tree) >= _MAX_DEPTH:
        raise ExtractionError(
            f"markup nested {_MAX_DEPTH:,}+ levels deep in {url}: the parser stops there "
            "and loses the rest of the page"
        )

    base = url
    base_element = tree.find(".//base[@href]")
    if base_element is not None:
        base = urljoin(url, base_element.get("href", ""))

    meta = meta_tags(tree)
    title_element = tree.find(".//title")
    ld = linked_data(tree, title_element.text_content() if title_element is not None else "")

    canonical = None
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            canonical = absolute(base, link.get("href"))
            if canonical:
                break
    canonical = canonical or absolute(base, meta.get("og:url")) or absolute(base, ld.url)

    title = first(
        ld.headline,
        clean(meta.get("dc.title")),
        clean(meta.get("dcterm.title")),
        clean(meta.get("og:title")),
        clean(meta.get("twitter:title")),
        clean(meta.get("parsely-title")),
    ) or title_from_document(tree)

    byline = byline_from(ld.authors or [])
    if not byline:
        for key in (
            "dc.creator",
            "dcterm.creator",
            "author",
            "byl",
            "parsely-author",
            "sailthru.author",
            "article:author",
            "og:article:author",
        ):
            byline = byline_from([meta.get(key)])
            if byline:
                break
    if not byline:
        byline = byline_in_page(tree)

    page_language = first(
        clean(tree.get("lang")), clean(tree.get("xml:lang")), clean(meta.get("og:locale"))
    )
    published = in_page_time_zone(published_date(tree, meta, ld, url, page_language), source)
    modified = modified_date(meta, ld)

    section = first(
        ld.section, clean(meta.get("article:section")), clean(meta.get("parsely-section"))
    )
    image_url = (
        absolute(base, meta.get("og:image"))
        or absolute(base, meta.get("og:image:url"))
        or absolute(base, ld.image)
        or absolute(base, meta.get("twitter:image"))
        or absolute(base, meta.get("twitter:image:src"))
    )
    site_name = first(
        clean(meta.get("og:site_name")), ld.site_name, clean(meta.get("application-name"))
    )
    description = first(
        ld.description,
        clean(meta.get("og:description")),
        clean(meta.get("description")),
        clean(meta.get("twitter:description")),
        clean(meta.get("dc.description")),
    )

    text = strip_header(body_text(tree, url), title, description, byline)
    if not text and ld.body:
        text = ld.body
    if not text:
        log.info("no article text found in %s", url)

    declared = first(
        language_code(tree.get("lang")),
        language_code(tree.get("xml:lang")),
        language_code(meta.get("og:locale")),
        language_code(ld.language),
        language_code(meta.get("content-language")),
        language_code(meta.get("language")),
        language_code(meta.get("dc.language")),
    )
    language = choose_language(declared, text or description or title or "")

    return Extracted(
        url=url,
        canonical_url=canonical,
        title=title,
        byline=byline,
        published=published,
        modified=modified,
        language=language,
        section=section,
        image_url=image_url,
        site_name=site_name,
        description=description,
        text=text,
    )
