"""The article's body text: trafilatura, with the lines it keeps that never are article text dropped."""

from __future__ import annotations

import re
import unicodedata

import trafilatura
from lxml.html import HtmlElement

from worker.extract.values import clean

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
        text = clean(link.text_content())
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
        if all(clean(line) in link_texts for line in kept):
            return ""
    return "\n".join(kept).strip()


def body_text(tree: HtmlElement, url: str) -> str:
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
