"""What the publisher declares about an article: ``<meta>`` tags, JSON-LD, title, byline.

Read in roughly the order Mozilla Readability trusts them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml.html import HtmlElement

from worker.extract.values import clean

log = logging.getLogger(__name__)


def meta_tags(tree: HtmlElement) -> dict[str, str]:
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
class LinkedData:
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


def linked_data(tree: HtmlElement, document_title: str) -> LinkedData:
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
    found = LinkedData()
    source = article or page
    if source is None:
        if organisation is not None:
            found.site_name = clean(organisation.get("name"))
        return found
    headline, name = clean(source.get("headline")), clean(source.get("name"))
    if headline and name and headline != name:
        # Wikipedia puts a tagline in "headline": trust whichever echoes the <title>.
        name_fits = _coverage(name, document_title) > _coverage(headline, document_title)
        found.headline = name if name_fits else headline
    else:
        found.headline = headline or name
    authors = [clean(n) for n in _names(source.get("author") or source.get("creator"))]
    found.authors = [a for a in authors if a] or None
    found.published = clean(source.get("datePublished") or source.get("dateCreated"))
    found.modified = clean(source.get("dateModified"))
    found.section = clean(source.get("articleSection"))
    language = source.get("inLanguage")
    if isinstance(language, dict):
        language = language.get("alternateName") or language.get("name")
    found.language = clean(language)
    found.image = _image(source.get("image") or source.get("thumbnailUrl"))
    publisher = source.get("publisher")
    if isinstance(publisher, dict):
        found.site_name = clean(publisher.get("name"))
    if found.site_name is None and organisation is not None:
        found.site_name = clean(organisation.get("name"))
    found.description = clean(source.get("description"))
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


_SEPARATORS = re.compile(r" [|\-\\/>»–—] ")
_HIERARCHICAL = re.compile(r" [\\/>»] ")


def _words(text: str) -> int:
    return len(text.split())


def title_from_document(tree: HtmlElement) -> str | None:
    """The ``<title>`` without the site name, as Readability trims it."""
    element = tree.find(".//title")
    original = clean(element.text_content()) if element is not None else None
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
        headings = [clean(h.text_content()) for h in tree.iter("h1", "h2")]
        if title not in headings:
            title = original[original.rfind(":") + 1 :]
            if _words(title) < 3:
                title = original[original.find(":") + 1 :]
            elif _words(original[: original.find(":")]) > 5:
                title = original
    elif len(title) > 150 or len(title) < 15:
        title = _single_h1(tree) or title
    title = clean(title) or original
    # A short remainder that is the page's own heading is the headline, not an accident.
    if title != original and title in {clean(h.text_content()) for h in tree.iter("h1")}:
        return title
    stripped = re.sub(r"[|\-\\/>»–—]+", "", original)
    if _words(title) <= 4 and (not hierarchical or _words(title) != _words(stripped) - 1):
        title = original
    return title


def _single_h1(tree: HtmlElement) -> str | None:
    h1s = list(tree.iter("h1"))
    return clean(h1s[0].text_content()) if len(h1s) == 1 else None


_DATE_LIKE = re.compile(r"\b(?:19|20)\d\d\b|\b\d{1,2}:\d\d\b")
_BYLINE_SPLIT = re.compile(r"\s+[-|·•–—]\s+")
_BY_PREFIX = re.compile(r"^\s*(?:by|from|par|von|por|door)\s*[:\-]?\s+", re.IGNORECASE)


def byline_from(names: Iterable[str | None]) -> str | None:
    cleaned: list[str] = []
    for name in names:
        name = clean(name)
        if not name or name.startswith(("http://", "https://")):
            continue
        # "Dan Goodin - Apr 16, 2015 8:02 pm": a dated tail is not part of the name.
        parts = _BYLINE_SPLIT.split(_BY_PREFIX.sub("", name))
        name = " - ".join(p for p in parts if not _DATE_LIKE.search(p)).strip(" ,;|")
        if name and name not in cleaned:
            cleaned.append(name)
    return ", ".join(cleaned) or None


def byline_in_page(tree: HtmlElement) -> str | None:
    # The first match only: later ones are usually other articles' teasers.
    for xpath in (
        './/*[@itemprop="author"]//*[@itemprop="name"]',
        './/*[contains(concat(" ", normalize-space(@itemprop), " "), " author ")]',
        './/*[@rel="author"]',
        './/*[contains(@class, "byline")]',
    ):
        for element in tree.xpath(xpath):
            name = clean(element.text_content())
            if name and len(name) < 100:
                return byline_from([name])
    return None
