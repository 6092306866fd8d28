"""Article extraction: body text with trafilatura, metadata from the page's own markup.

The page is parsed once with lxml. Metadata comes from what the publisher declares
(JSON-LD, OpenGraph and ``<meta>`` tags, ``<link rel=canonical>``, ``<html lang>``,
``<time>``), in roughly the order Mozilla Readability trusts them, with trafilatura's
and htmldate's heuristics only as fallbacks. Valid HTML without an article body
gives an :class:`Extracted` with empty ``text``; input that is not HTML at all
raises :class:`ExtractionError`.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import htmldate
import py3langid
import trafilatura
from dateutil import parser as date_parser
from dateutil.parser import UnknownTimezoneWarning
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from editions.errors import ExtractionError
from worker.encoding import decode_html

log = logging.getLogger(__name__)

__all__ = [
    "Extracted",
    "ExtractionError",
    "choose_language",
    "detect_language",
    "extract_article",
    "parse_date",
]



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


# --- input checks -------------------------------------------------------------------

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


def _to_text(html: str | bytes) -> str:
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


# --- small helpers --------------------------------------------------------------------

_SPACE_RE = re.compile(r"\s+")


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
        if value is None:
            return None
    if not isinstance(value, str):
        return None
    value = _SPACE_RE.sub(" ", unicodedata.normalize("NFC", value)).strip()
    return value or None


def _absolute(base: str, href: str | None) -> str | None:
    href = _clean(href)
    if not href or href.startswith(("data:", "javascript:", "#")):
        return None
    joined = urljoin(base, href)
    return joined if urlsplit(joined).scheme in {"http", "https"} else None


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


# --- dates ----------------------------------------------------------------------------

_DEFAULT_DATE = datetime(1, 1, 1)


def parse_date(value: Any) -> datetime | None:
    """An aware datetime from an ISO-8601-ish or human date string (UTC if it has no offset)."""
    text = _clean(value)
    if not text or not re.search(r"\d", text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            with warnings.catch_warnings():
                # "IST", "EDT"...: ambiguous abbreviations are dropped; the date stands.
                warnings.simplefilter("ignore", UnknownTimezoneWarning)
                parsed = date_parser.parse(text, default=_DEFAULT_DATE, fuzzy=False)
        except (ValueError, OverflowError):
            return None
        if parsed.year < 1900:  # the parser found a time or day but no year
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- meta tags ------------------------------------------------------------------------


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    """``<meta>`` content by lower-cased property/name/itemprop; the first occurrence wins."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None or not content.strip():
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if key:
                for name in key.lower().split():
                    found.setdefault(name.strip(), content.strip())
    return found


# --- JSON-LD --------------------------------------------------------------------------

_ARTICLE_TYPES = {
    "article",
    "advertisercontentarticle",
    "newsarticle",
    "analysisnewsarticle",
    "askpublicnewsarticle",
    "backgroundnewsarticle",
    "opinionnewsarticle",
    "reportagenewsarticle",
    "reviewnewsarticle",
    "report",
    "satiricalarticle",
    "scholarlyarticle",
    "medicalscholarlyarticle",
    "socialmediaposting",
    "blogposting",
    "liveblogposting",
    "discussionforumposting",
    "techarticle",
    "apireference",
}
_PAGE_TYPES = {"webpage", "itempage", "collectionpage", "aboutpage", "medicalwebpage"}


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        if not raw:
            continue
        # Publishers wrap JSON-LD in CDATA/HTML comments and leave raw newlines in strings.
        raw = re.sub(r"^\s*(?://\s*)?(<!\[CDATA\[|<!--)|(\]\]>|-->)\s*$", "", raw)
        try:
            data = json.loads(raw, strict=False)
        except ValueError as exc:
            log.debug("unreadable JSON-LD block skipped: %s", exc)
            continue
        yield from _walk_json_ld(data)


def _walk_json_ld(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _walk_json_ld(item)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _walk_json_ld(graph)
        main = data.get("mainEntity")
        if isinstance(main, dict):
            yield from _walk_json_ld(main)


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1].lower() for k in kinds if isinstance(k, str)}


def _names(value: Any) -> list[str]:
    """Person names from a JSON-LD author value (string, object, or list of either)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, list):
            return [n for n in name if isinstance(n, str)]
        if isinstance(name, str):
            return [name]
        given, family = value.get("givenName"), value.get("familyName")
        if isinstance(given, str) and isinstance(family, str):
            return [f"{given} {family}"]
        return []
    if isinstance(value, list):
        return [n for item in value for n in _names(item)]
    return []


def _image(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _image(value.get("url") or value.get("contentUrl") or value.get("@id"))
    if isinstance(value, list):
        return next((u for u in map(_image, value) if u), None)
    return None


def _url_value(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _url_value(value.get("@id") or value.get("url"))
    return None


@dataclass
class _LinkedData:
    headline: str | None = None
    authors: list[str] | None = None
    published: str | None = None
    modified: str | None = None
    section: str | None = None
    language: str | None = None
    image: str | None = None
    site_name: str | None = None
    description: str | None = None
    url: str | None = None
    body: str | None = None


def _linked_data(tree: HtmlElement, document_title: str) -> _LinkedData:
    article: dict[str, Any] | None = None
    page: dict[str, Any] | None = None
    organisation: dict[str, Any] | None = None
    for obj in _json_ld_objects(tree):
        kinds = _types(obj)
        if article is None and kinds & _ARTICLE_TYPES:
            article = obj
        elif page is None and kinds & _PAGE_TYPES:
            page = obj
        elif organisation is None and kinds & {"organization", "newsmediaorganization", "website"}:
            organisation = obj
    found = _LinkedData()
    source = article or page
    if source is None:
        if organisation is not None:
            found.site_name = _clean(organisation.get("name"))
        return found
    headline, name = _clean(source.get("headline")), _clean(source.get("name"))
    if headline and name and headline != name:
        # Wikipedia puts a tagline in "headline": trust whichever echoes the <title>.
        name_fits = _coverage(name, document_title) > _coverage(headline, document_title)
        found.headline = name if name_fits else headline
    else:
        found.headline = headline or name
    authors = [_clean(n) for n in _names(source.get("author") or source.get("creator"))]
    found.authors = [a for a in authors if a] or None
    found.published = _clean(source.get("datePublished") or source.get("dateCreated"))
    found.modified = _clean(source.get("dateModified"))
    found.section = _clean(source.get("articleSection"))
    language = source.get("inLanguage")
    if isinstance(language, dict):
        language = language.get("alternateName") or language.get("name")
    found.language = _clean(language)
    found.image = _image(source.get("image") or source.get("thumbnailUrl"))
    publisher = source.get("publisher")
    if isinstance(publisher, dict):
        found.site_name = _clean(publisher.get("name"))
    if found.site_name is None and organisation is not None:
        found.site_name = _clean(organisation.get("name"))
    found.description = _clean(source.get("description"))
    found.url = _url_value(source.get("url")) or _url_value(source.get("mainEntityOfPage"))
    body = source.get("articleBody")
    found.body = body.strip() if isinstance(body, str) and body.strip() else None
    return found


def _coverage(text: str, reference: str) -> float:
    """How much of ``reference`` (by characters of its words) ``text``'s words make up."""
    words = set(re.findall(r"\w+", text.casefold()))
    reference_words = re.findall(r"\w+", reference.casefold())
    if not reference_words:
        return 0.0
    missing = " ".join(w for w in reference_words if w not in words)
    return 1 - len(missing) / len(" ".join(reference_words))


# --- title ----------------------------------------------------------------------------

_SEPARATORS = re.compile(r" [|\-\\/>»–—] ")
_HIERARCHICAL = re.compile(r" [\\/>»] ")


def _words(text: str) -> int:
    return len(text.split())


def _title_from_document(tree: HtmlElement) -> str | None:
    """The ``<title>`` without the site name, as Readability trims it."""
    element = tree.find(".//title")
    original = _clean(element.text_content()) if element is not None else None
    if not original:
        return _single_h1(tree)
    title = original
    hierarchical = False
    separators = list(_SEPARATORS.finditer(original))
    if separators:
        hierarchical = bool(_HIERARCHICAL.search(original))
        title = original[: separators[-1].start()]
        if _words(title) < 3:
            title = original[separators[0].end() :]
    elif ": " in title:
        headings = [_clean(h.text_content()) for h in tree.iter("h1", "h2")]
        if title not in headings:
            title = original[original.rfind(":") + 1 :]
            if _words(title) < 3:
                title = original[original.find(":") + 1 :]
            elif _words(original[: original.find(":")]) > 5:
                title = original
    elif len(title) > 150 or len(title) < 15:
        title = _single_h1(tree) or title
    title = _clean(title) or original
    # A short remainder that is the page's own heading is the headline, not an accident.
    if title != original and title in {_clean(h.text_content()) for h in tree.iter("h1")}:
        return title
    stripped = re.sub(r"[|\-\\/>»–—]+", "", original)
    if _words(title) <= 4 and (not hierarchical or _words(title) != _words(stripped) - 1):
        title = original
    return title


def _single_h1(tree: HtmlElement) -> str | None:
    h1s = list(tree.iter("h1"))
    return _clean(h1s[0].text_content()) if len(h1s) == 1 else None


# --- byline ---------------------------------------------------------------------------

_DATE_LIKE = re.compile(r"\b(?:19|20)\d\d\b|\b\d{1,2}:\d\d\b")
_BYLINE_SPLIT = re.compile(r"\s+[-|·•–—]\s+")
_BY_PREFIX = re.compile(r"^\s*(?:by|from|par|von|por|door)\s*[:\-]?\s+", re.IGNORECASE)


def _byline(names: Iterable[str | None]) -> str | None:
    cleaned: list[str] = []
    for name in names:
        name = _clean(name)
        if not name or name.startswith(("http://", "https://")):
            continue
        # "Dan Goodin - Apr 16, 2015 8:02 pm": a dated tail is not part of the name.
        parts = _BYLINE_SPLIT.split(_BY_PREFIX.sub("", name))
        name = " - ".join(p for p in parts if not _DATE_LIKE.search(p)).strip(" ,;|")
        if name and name not in cleaned:
            cleaned.append(name)
    return ", ".join(cleaned) or None


def _byline_in_page(tree: HtmlElement) -> str | None:
    # The first match only: later ones are usually other articles' teasers.
    for xpath in (
        './/*[@itemprop="author"]//*[@itemprop="name"]',
        './/*[contains(concat(" ", normalize-space(@itemprop), " "), " author ")]',
        './/*[@rel="author"]',
        './/*[contains(@class, "byline")]',
    ):
        for element in tree.xpath(xpath):
            name = _clean(element.text_content())
            if name and len(name) < 100:
                return _byline([name])
    return None


# --- language -------------------------------------------------------------------------

_LANGUAGE_RE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_].*)?$")


def _language_code(value: str | None) -> str | None:
    value = _clean(value)
    if not value:
        return None
    match = _LANGUAGE_RE.match(value.split(",")[0].strip())
    if not match:
        return None
    code = match.group(1).lower()
    return code if len(code) == 2 else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` by py3langid, or None for too little text."""
    sample = text[:3000]
    if len(sample.strip()) < 20:
        return None
    code, _score = py3langid.classify(sample)
    return code


# Languages not written in Latin script (Serbian, Azerbaijani... are written in both).
_NON_LATIN = frozenset(
    [
        "am",
        "ar",
        "be",
        "bg",
        "bn",
        "bo",
        "dv",
        "el",
        "fa",
        "gu",
        "he",
        "hi",
        "hy",
        "ja",
        "ka",
        "kk",
        "km",
        "kn",
        "ko",
        "ky",
        "lo",
        "mk",
        "ml",
        "mn",
        "mr",
        "my",
        "ne",
        "or",
        "pa",
        "ps",
        "ru",
        "sd",
        "si",
        "ta",
        "te",
        "th",
        "ti",
        "ug",
        "uk",
        "ur",
        "yi",
        "zh",
    ]
)


def _latin_share(text: str) -> float | None:
    letters = [c for c in text[:3000] if c.isalpha()]
    if len(letters) < 200:
        return None
    return sum(c < "\u0250" for c in letters) / len(letters)


def choose_language(declared: str | None, text: str) -> str | None:
    """The declared language unless the text's script contradicts it; else detection.

    Templates often declare one language for a whole multilingual site (``lang="en"``
    on Gujarati articles). Detection alone is less reliable than a declaration, so it
    only overrides one when the writing system cannot match.
    """
    if declared is None:
        return detect_language(text)
    share = _latin_share(text)
    if share is None:
        return declared
    if (declared in _NON_LATIN and share > 0.9) or (declared not in _NON_LATIN and share < 0.5):
        detected = detect_language(text)
        log.debug("declared language %s contradicts the text; detected %s", declared, detected)
        return detected or declared
    return declared


# --- published date from markup ---------------------------------------------------------


def _time_element_date(tree: HtmlElement) -> str | None:
    for xpath in (
        './/*[@itemprop="datePublished"]',
        ".//time[@pubdate]",
        './/time[contains(@class, "publish") or contains(@class, "posted")]',
        ".//article//time",
        ".//time",
    ):
        for element in tree.xpath(xpath):
            value = element.get("datetime") or element.get("content") or element.text_content()
            if parse_date(value) is not None:
                return value
    return None


def _date_by_htmldate(tree: HtmlElement, url: str) -> datetime | None:
    # htmldate reads URL paths, markup and free text; it only runs when the page declares
    # no date, and its costly free-text search only when the markup gives nothing.
    # It works on its own copy of the tree.
    for extensive in (False, True):
        found = htmldate.find_date(
            tree, url=url, original_date=True, extensive_search=extensive, outputformat="%Y-%m-%d"
        )
        if found:
            return parse_date(found)
    return None


# --- body text ------------------------------------------------------------------------

# Lines trafilatura sometimes keeps that are never article text.
_BOILERPLATE_LINE = re.compile(
    r"^(?:\W*\d*\s*)?(?:previous|next|prev)\s+(?:article|post|story|page)\b"
    r"|^quantcast$"
    r"|\b(?:we|this (?:site|website)) uses? cookies\b"
    r"|^(?:accept|reject|manage) (?:all )?cookies"
    r"|^share (?:this|on)\b"
    r"|^(?:advertisement|advertising|sponsored)$",
    re.IGNORECASE,
)
_BOILERPLATE_MAX_LENGTH = 200


def _link_texts(tree: HtmlElement) -> set[str]:
    texts = set()
    for link in tree.iter("a"):
        text = _clean(link.text_content())
        if text and len(text) <= _BOILERPLATE_MAX_LENGTH:
            texts.add(text)
    return texts


def _drop_boilerplate(text: str, tree: HtmlElement) -> str:
    kept = [
        line
        for line in text.splitlines()
        if line.strip()
        and not (len(line) <= _BOILERPLATE_MAX_LENGTH and _BOILERPLATE_LINE.search(line.strip()))
    ]
    # trafilatura falls back to all the page's text when it finds no article; on a page
    # without one that is just menu entries. (Single link lines inside an article stay:
    # they are often real content, such as a list of sources.)
    if all(len(line) <= _BOILERPLATE_MAX_LENGTH for line in kept):
        link_texts = _link_texts(tree)
        if all(_clean(line) in link_texts for line in kept):
            return ""
    return "\n".join(kept).strip()


def _body_text(tree: HtmlElement, url: str) -> str:
    # bare_extraction works on a copy: ``tree`` stays whole for the checks below.
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_recall=True,
        include_comments=False,
        include_tables=True,
        with_metadata=False,
    )
    text = getattr(document, "text", None) or ""
    return _drop_boilerplate(unicodedata.normalize("NFC", text), tree)


# --- the extractor --------------------------------------------------------------------


def extract_article(html: str | bytes, url: str) -> Extracted:
    """Extract the article and its metadata from one page fetched from ``url``.

    Bytes are decoded with :func:`worker.encoding.decode_html`. Raises
    :class:`ExtractionError` for input that is not HTML; a valid page without an
    article body gives ``text == ""``.
    """
    source = _to_text(html)
    if not _TAG_RE.search(source[:65536]):
        raise ExtractionError(f"not HTML: no markup in the document from {url}")
    tree = load_html(source)
    if tree is None or len(tree) == 0:
        raise ExtractionError(f"not HTML: lxml could not build a document from {url}")

    base = url
    base_element = tree.find(".//base[@href]")
    if base_element is not None:
        base = urljoin(url, base_element.get("href", ""))

    meta = _meta_tags(tree)
    title_element = tree.find(".//title")
    ld = _linked_data(tree, title_element.text_content() if title_element is not None else "")

    canonical = None
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            canonical = _absolute(base, link.get("href"))
            if canonical:
                break
    canonical = canonical or _absolute(base, meta.get("og:url")) or _absolute(base, ld.url)

    title = _first(
        ld.headline,
        _clean(meta.get("dc.title")),
        _clean(meta.get("dcterm.title")),
        _clean(meta.get("og:title")),
        _clean(meta.get("twitter:title")),
        _clean(meta.get("parsely-title")),
    ) or _title_from_document(tree)

    byline = _byline(ld.authors or [])
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
            byline = _byline([meta.get(key)])
            if byline:
                break
    if not byline:
        byline = _byline_in_page(tree)

    published = parse_date(
        _first(
            ld.published,
            meta.get("article:published_time"),
            meta.get("parsely-pub-date"),
            meta.get("og:published_time"),
            meta.get("datepublished"),
            meta.get("dc.date.issued"),
            meta.get("dc.date"),
            meta.get("dcterms.created"),
            meta.get("sailthru.date"),
            meta.get("pubdate"),
            meta.get("publishdate"),
            meta.get("publish-date"),
            meta.get("date"),
        )
    )
    if published is None:
        published = parse_date(_time_element_date(tree))
    if published is None:
        published = _date_by_htmldate(tree, url)
    modified = parse_date(
        _first(
            ld.modified,
            meta.get("article:modified_time"),
            meta.get("og:updated_time"),
            meta.get("datemodified"),
            meta.get("dcterms.modified"),
            meta.get("last-modified"),
        )
    )

    section = _first(
        ld.section, _clean(meta.get("article:section")), _clean(meta.get("parsely-section"))
    )
    image_url = (
        _absolute(base, meta.get("og:image"))
        or _absolute(base, meta.get("og:image:url"))
        or _absolute(base, ld.image)
        or _absolute(base, meta.get("twitter:image"))
        or _absolute(base, meta.get("twitter:image:src"))
    )
    site_name = _first(
        _clean(meta.get("og:site_name")), ld.site_name, _clean(meta.get("application-name"))
    )
    description = _first(
        ld.description,
        _clean(meta.get("og:description")),
        _clean(meta.get("description")),
        _clean(meta.get("twitter:description")),
        _clean(meta.get("dc.description")),
    )

    text = _body_text(tree, url)
    if not text and ld.body:
        text = ld.body
    if not text:
        log.info("no article text found in %s", url)

    declared = _first(
        _language_code(tree.get("lang")),
        _language_code(tree.get("xml:lang")),
        _language_code(meta.get("og:locale")),
        _language_code(ld.language),
        _language_code(meta.get("content-language")),
        _language_code(meta.get("language")),
        _language_code(meta.get("dc.language")),
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
