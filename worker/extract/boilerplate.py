"""Boilerplate by structure: what a block is named, where it sits and how much of it is links.

Pages name their widgets in English-looking class names whatever language they are
written in (``related-posts``, ``newsletter``, ``share``), and mark navigation with
``role``/``rel``/``aria`` attributes. These rules read those names and the shape of a
block (its share of link text, its place before or after the article's text), never
the words of the text itself, so they work in any language.
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement

# Class/id tokens of page chrome. A token matches when it equals one of these, or starts
# with one of _PREFIXES ("sharedaddy", "newsletterSignup", "navbar").
_TOKENS = frozenset(
    [
        "breadcrumb",
        "breadcrumbs",
        "byline",
        "dateline",
        "paywall",
        "reprint",
        "reprints",
        "tags",
        "taglist",
    ]
)
_PREFIXES = (
    "related",
    "relacionad",
    "promo",
    "newsletter",
    "share",
    "sharing",
    "social",
    "recommend",
    "outbrain",
    "taboola",
    "mostread",
    "mostpopular",
    "authorbio",
    "authorinfo",
    "aboutauthor",
    "aboutthe",
    "newsticker",
    "teaserlist",
    "morestories",
    "morearticles",
    "readalso",
    "seealso",
    "alsoread",
    "postnav",
)
_ROLES = frozenset(["navigation", "contentinfo", "search", "dialog", "menu"])
_CHROME_TAGS = frozenset(["nav", "button", "select", "dialog"])
# Never removed whatever they are called: they are (or hold) the page itself.
_NEVER = frozenset(["html", "body", "main", "article"])
_SPLIT = re.compile(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[A-Z])")
# A block named like chrome is only chrome when it holds a small part of the page's
# paragraph text: a wrapper ``<div class="article-with-sidebar">`` holds all of it.
_MAX_SHARE = 0.3
_MAX_ID_WORDS = 3


# One pattern over the raw class/id text: a name starts at the beginning of a word or at
# a camelCase hump ("postNav"), whole-token names must also end there.
_START = r"(?:(?<![A-Za-z0-9])|(?<=[a-z])(?=[A-Z]))"
_NAME_RE = re.compile(
    _START
    + r"(?:(?i:"
    + "|".join(sorted(_TOKENS, key=len, reverse=True))
    + r")(?![a-z0-9])|(?i:"
    + "|".join(sorted(_PREFIXES, key=len, reverse=True))
    + r"))"
)


def tokens(element: HtmlElement) -> str:
    """The class and id an element is named by (an id that is a heading's slug left out)."""
    names = element.get("class") or ""
    identifier = element.get("id") or ""
    # An id of more than three words is a heading's slug ("sharing-with-a-developer"),
    # not a widget's name.
    if identifier and len(_SPLIT.split(identifier)) <= _MAX_ID_WORDS:
        names = f"{names} {identifier}"
    # Also each name with its dashes dropped: "most-read" as "mostread", for the prefixes.
    return f"{names} {names.replace('-', '').replace('_', '')}" if names else ""


def named_as_chrome(element: HtmlElement) -> bool:
    """Whether class/id/role/aria/rel/hidden say that this element is page chrome."""
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    role = (element.get("role") or "").lower()
    if role in _ROLES:
        return True
    rel = (element.get("rel") or "").lower().split()
    if "prev" in rel or "next" in rel:
        return True
    style = (element.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    names = tokens(element)
    return bool(names) and _NAME_RE.search(names) is not None


# Only elements with a name, a role or a chrome tag can be chrome; libxml2 finds them.
_CANDIDATES = XPath(
    "//*[@class or @id or @role or @rel or @style or @hidden or @aria-hidden]"
    " | //" + " | //".join(sorted(_CHROME_TAGS))
)


def _paragraph_text_length(element: HtmlElement) -> int:
    return sum(len(p.text_content()) for p in element.iter("p"))


def prune(tree: HtmlElement) -> HtmlElement:
    """Remove page chrome from ``tree`` in place (and return it).

    An element goes when its tag is chrome (``nav``, ``aside``, ``footer``...) or its
    names say so, unless it holds a large share of the page's paragraph text.
    """
    total = _paragraph_text_length(tree) or 1
    doomed = [
        element
        for element in _CANDIDATES(tree)
        if element.tag not in _NEVER and (element.tag in _CHROME_TAGS or named_as_chrome(element))
    ]
    removed: set[HtmlElement] = set()
    for element in doomed:
        if any(ancestor in removed for ancestor in element.iterancestors()):
            continue
        if _paragraph_text_length(element) > _MAX_SHARE * total:
            continue
        parent = element.getparent()
        if parent is None:
            continue
        # Keep the text that follows the element inside its parent.
        tail = element.tail
        if tail and tail.strip():
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
        parent.remove(element)
        removed.add(element)
    return tree
