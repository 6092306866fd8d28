"""The article's body text: trafilatura, with the lines it keeps that never are article text dropped."""

from __future__ import annotations

import copy
import re
import unicodedata

import trafilatura
from lxml.etree import _Element as Element
from lxml.etree import strip_tags
from lxml.html import HtmlElement
from trafilatura.xml import xmltotxt

from worker.extract.boilerplate import prune
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


# A block is a link block when this share of its text is link text: "Read more: <a>...</a>",
# a related-stories list, a "Previous article" link run into its headline.
_LINK_SHARE = 0.6
_NOT_AWAY = ("#", "mailto:", "tel:")
# ... and this short: a paragraph of prose with a long quoted link title is longer.
_LINK_BLOCK_MAX = 300
# A label before a link block ("Also read:", a "Related" heading) is this short.
_LABEL_MAX = 60


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def _link_share(block: Element) -> tuple[int, float]:
    text = _squash("".join(block.itertext()))
    if not text:
        return 0, 0.0
    # In-page anchors (a table of contents, a heading's own permalink) lead nowhere else;
    # an e-mail address or phone number is contact information in the text.
    linked = sum(
        len(_squash("".join(ref.itertext())))
        for ref in block.iter("ref")
        if not (ref.get("target") or "").startswith(_NOT_AWAY)
    )
    return len(text), min(1.0, linked / len(text))


def _is_link_block(block: Element) -> bool:
    if block.tag == "list":
        items = list(block.iter("item"))
        return bool(items) and all(_is_link_block(item) for item in items)
    length, share = _link_share(block)
    return 0 < length <= _LINK_BLOCK_MAX and share >= _LINK_SHARE


def _is_label(block: Element) -> bool:
    """A heading or a short line ending in a colon: what introduces the block after it."""
    text = _squash("".join(block.itertext()))
    if not text or len(text) > _LABEL_MAX:
        return False
    return block.tag == "head" or text.endswith(":") or text.endswith("…")


def drop_link_blocks(body: Element) -> None:
    """Remove link blocks from trafilatura's output, with the label that introduces each.

    A heading that is a link stays when prose follows it (a list article links each
    item's title); in a run of link blocks, or with nothing after it, it goes.
    """
    blocks = list(body)
    links = [_is_link_block(block) for block in blocks]
    doomed = set()
    for index, block in enumerate(blocks):
        if not links[index]:
            continue
        if block.tag == "head":
            before = index > 0 and links[index - 1]
            after = index + 1 < len(blocks) and links[index + 1]
            last = index + 1 == len(blocks)
            if not (before or after or last):
                continue
        doomed.add(index)
        if index > 0 and _is_label(blocks[index - 1]):
            doomed.add(index - 1)
    for index in sorted(doomed, reverse=True):
        body.remove(blocks[index])
    # A heading or "label:" that ends the body introduces what the extractor left out.
    while len(body) > 1 and _is_label(body[-1]):
        body.remove(body[-1])


def body_text(tree: HtmlElement, url: str) -> str:
    # Pruned on a copy: ``tree`` stays whole for the checks below and for metadata.
    document = trafilatura.bare_extraction(
        prune(copy.deepcopy(tree)),
        url=url,
        favor_recall=True,
        include_comments=False,
        include_tables=True,
        include_links=True,
        with_metadata=False,
    )
    body = getattr(document, "body", None)
    if body is None:
        return ""
    drop_link_blocks(body)
    strip_tags(body, "ref")
    text = xmltotxt(body, include_formatting=False) or ""
    return _drop_boilerplate(unicodedata.normalize("NFC", text), tree)


# --- the article's own header -------------------------------------------------------------

# How many lines at the top of the body can be header (headline, standfirst, byline,
# dateline, "Updated" line, a kicker); the first line that is none of them ends it.
_HEADER_LINES = 8
_SHORT_LINE = 100
# A dateline is a date and a few words ("Updated 9 November 2023, 10:30 CET"); a first
# sentence that mentions a date is longer.
_DATE_LINE_WORDS = 8
_DATE_IN_LINE = re.compile(
    r"\d{1,4}\s?[./-]\s?\d{1,2}\s?[./-]\s?\d{2,4}"  # 09.11.2023, 2023-11-09, 11/9/23
    r"|\d{1,2}:\d{2}"  # a time
    r"|\b\d{1,2}\.?\s+\w{3,}\.?\s+\d{4}\b"  # 9 novembre 2023, 9. März 2023
    r"|\b\w{3,}\.?\s+\d{1,2},?\s+\d{4}\b"  # November 9, 2023
)


def _key(text: str | None) -> str:
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text or "").casefold()))


def _is_header_line(line: str, title: str, names: list[str]) -> bool:
    key = _key(line)
    if not key:
        return True
    if title and (key == title or (len(key) <= len(title) * 1.5 + 20 and title in key)):
        return True
    if len(line) > _SHORT_LINE:
        return False
    if names and any(name in key for name in names):
        return True
    return bool(_DATE_IN_LINE.search(line) and len(re.findall(r"\w+", line)) <= _DATE_LINE_WORDS)


def strip_header(text: str, title: str | None, description: str | None, byline: str | None) -> str:
    """Drop the lines that open the body with the article's own metadata.

        Sites print the headline, standfirst, byline and date above the text, and
        extractors keep them as its first lines. A line goes when it repeats the headline
    , or is short and names the author or holds a date; the first
        line that does none of these is the article's first, and everything from it stays.
        The description is not used: it is often the first paragraph itself, cut short.
        The body is never emptied: a page that is only its header keeps it.
    """
    lines = text.splitlines()
    title_key = _key(title)
    names = [_key(name) for name in re.split(r",| and | und | et | y ", byline or "")]
    names = [name for name in names if len(name) >= 4]
    cut = 0
    while cut < min(len(lines) - 1, _HEADER_LINES) and _is_header_line(
        lines[cut], title_key, names
    ):
        cut += 1
    return "\n".join(lines[cut:])
