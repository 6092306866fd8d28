"""The article's publication and modification dates, from markup, then by htmldate.

Every date string goes through the one parser, :func:`worker.dates.parse_date`.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import htmldate
from lxml.html import HtmlElement, tostring

from worker.dates import parse_date
from worker.extract.metadata import LinkedData
from worker.extract.values import first

log = logging.getLogger(__name__)

__all__ = ["in_page_time_zone", "modified_date", "parse_date", "published_date"]

# Timestamps written into the page's markup and scripts: "2023-11-09T02:09:55+01:00",
# "2020-02-17 21:18:11".
_STAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?(?![\d:])"
)
_SCAN_CHARS = 500_000
_MAX_OFFSET = timedelta(hours=14)


def _offset(text: str) -> timedelta | None:
    if text == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def in_page_time_zone(published: datetime | None, source: str) -> datetime | None:
    """``published`` in the page's own time zone when it was given in UTC.

    Sites often declare the publication instant in UTC (``2023-11-09T01:09:55Z``) while
    the article appeared on the 8th local time; the calendar date must be the page's.
    The zone comes from the page itself: another timestamp of the same instant with its
    local offset, or written as local time without one; else the offset the page's other
    timestamps agree on. A date given without a time (midnight) is never shifted.
    """
    if published is None or published.utcoffset() != timedelta(0):
        return published
    if (published.hour, published.minute, published.second) == (0, 0, 0):
        return published
    instant = published.replace(tzinfo=None)
    offsets: Counter[timedelta] = Counter()
    for match in _STAMP.finditer(source[:_SCAN_CHARS]):
        year, month, day, hour, minute, second, zone = match.groups()
        try:
            local = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
            )
        except ValueError:
            continue
        if zone is not None:
            offset = _offset(zone)
            if offset is None or not offset or abs(offset) > _MAX_OFFSET:
                continue
            if local - offset == instant:
                return published.astimezone(timezone(offset))
            offsets[offset] += 1
            continue
        # Local time of the same instant, written without its offset: to the second.
        difference = local - instant
        if (
            second is not None
            and difference
            and abs(difference) <= _MAX_OFFSET
            and difference % timedelta(minutes=15) == timedelta(0)
        ):
            return published.astimezone(timezone(difference))
    if offsets:
        offset, _count = offsets.most_common(1)[0]
        return published.astimezone(timezone(offset))
    return published


def day_first(language: str | None) -> bool:
    """Whether a page in ``language`` (``fr``, ``en-US``, ``en_GB``...) writes day before month.

    Only the United States (and English without a country, by the same convention as
    :func:`parse_date`) put the month first in all-numeric dates.
    """
    if not language:
        return False
    parts = re.split(r"[-_]", language.strip().lower())
    if parts[0] != "en":
        return True
    return len(parts) > 1 and parts[1] not in ("us", "ph")


def published_date(
    tree: HtmlElement, meta: dict[str, str], ld: LinkedData, url: str, language: str | None = None
) -> datetime | None:
    """The declared publication date, else a ``<time>`` element's, else htmldate's guess.

    All-numeric dates are read in the day-month order of the page's ``language``.
    """
    dayfirst = day_first(language)
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
        ),
        dayfirst=dayfirst,
    )
    if published is None:
        published = parse_date(_time_element_date(tree, dayfirst), dayfirst=dayfirst)
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


def _time_element_date(tree: HtmlElement, dayfirst: bool) -> str | None:
    for xpath in (
        './/*[@itemprop="datePublished"]',
        ".//time[@pubdate]",
        './/time[contains(@class, "publish") or contains(@class, "posted")]',
        ".//article//time",
        ".//time",
    ):
        for element in tree.xpath(xpath):
            value = element.get("datetime") or element.get("content") or element.text_content()
            if parse_date(value, dayfirst=dayfirst) is not None:
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
