"""The article's publication and modification dates, from markup, then by htmldate.

Every date string goes through the one parser, :func:`worker.dates.parse_date`.
"""

from __future__ import annotations

import calendar
import logging
import re
from datetime import datetime

import htmldate
from lxml.html import HtmlElement, tostring

from worker.dates import parse_date
from worker.extract.metadata import LinkedData
from worker.extract.values import first

log = logging.getLogger(__name__)

__all__ = ["modified_date", "parse_date", "published_date"]


def published_date(
    tree: HtmlElement, meta: dict[str, str], ld: LinkedData, url: str
) -> datetime | None:
    """The declared publication date, else a ``<time>`` element's, else htmldate's guess."""
    published = parse_date(
        first(
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
    return published


def modified_date(meta: dict[str, str], ld: LinkedData) -> datetime | None:
    """The declared modification date."""
    return parse_date(
        first(
            ld.modified,
            meta.get("article:modified_time"),
            meta.get("og:updated_time"),
            meta.get("datemodified"),
            meta.get("dcterms.modified"),
            meta.get("last-modified"),
        )
    )


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
        if not found:
            continue
        date = parse_date(found)
        if date is not None and date.day == 1 and not _shows_first_of_month(tree, url, date):
            log.debug("htmldate's %s has no day in %s: no date", found, url)
            continue
        return date
    return None


def _shows_first_of_month(tree: HtmlElement, url: str, date: datetime) -> bool:
    """Whether the page or its URL writes out ``date`` (the 1st) with its day.

    htmldate fills in day 1 when it finds only a year or a month ("2024-13-45" gives
    2024-01-01, ``<time datetime="2024-02-30">`` 2024-02-01): such a date was invented.
    """
    year, month = date.year, date.month
    names = "|".join(
        re.escape(name) for name in (calendar.month_name[month], calendar.month_abbr[month])
    )
    pattern = re.compile(
        rf"{year}[-/._]0?{month}[-/._]0?1(?!\d)"
        rf"|(?<!\d)0?1[-/._]0?{month}[-/._]{year}"
        rf"|{year}0?{month:02d}01(?!\d)"
        rf"|(?<!\d)1(?:st)?\.?\s+(?:{names})\.?,?\s+{year}"
        rf"|(?:{names})\.?\s+1(?:st)?,?\s+{year}",
        re.IGNORECASE,
    )
    page = tostring(tree, encoding="unicode")
    return bool(pattern.search(url) or pattern.search(page))
