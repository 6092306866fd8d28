"""The one date parser: feeds, sitemaps and article pages read dates with the same rules.

A date is read as ISO 8601 / W3C (sitemaps, JSON Feed, ``<time datetime>``, JSON-LD),
as RFC 822 (RSS), or as a human date ("September 14, 2018"). A date is only a date
when the text names its year, month and day and they exist together: ``2024-13-45``,
``2024-02-30`` or a bare "10:30" are no date, never a guess filled in with defaults.
"""

from __future__ import annotations

import email.utils
import logging
import re
import unicodedata
import warnings
from datetime import UTC, datetime
from typing import Any

from dateutil import parser as date_parser
from dateutil.parser import UnknownTimezoneWarning

log = logging.getLogger(__name__)

__all__ = ["parse_date"]

_SPACE_RE = re.compile(r"\s+")
# Two defaults that differ in year, month and day: a field dateutil took from the
# default instead of the text comes out different in the two readings.
_DEFAULTS = (datetime(1, 1, 1), datetime(2, 2, 2))
# RFC 822 as feeds write it; only this shape goes to the email parser, which reads other
# shapes loosely ("Mar 28, 2020, 06:15 PM" would lose its PM).
_RFC822 = re.compile(
    r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d\d(?::\d\d)?"
    r"(?:\s*(?:[+-]\d{4}|[A-Za-z]{1,5}))?$"
)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", value)).strip() or None


def _rfc822(text: str) -> datetime | None:
    if not _RFC822.match(text):
        return None
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _human(text: str, dayfirst: bool) -> datetime | None:
    readings = []
    for default in _DEFAULTS:
        try:
            with warnings.catch_warnings():
                # "IST", "EDT"...: ambiguous abbreviations are dropped; the date stands.
                warnings.simplefilter("ignore", UnknownTimezoneWarning)
                readings.append(
                    date_parser.parse(text, default=default, fuzzy=False, dayfirst=dayfirst)
                )
        except (ValueError, OverflowError):
            # Also when a default day does not exist in the text's month: a field was missing.
            return None
    first, second = readings
    if first != second:
        log.debug("incomplete date %r: no year, month or day", text)
        return None
    return first


def parse_date(value: Any, *, dayfirst: bool = False) -> datetime | None:
    """An aware datetime from an ISO 8601, RFC 822 or human date (UTC if it has no offset).

    None when ``value`` is not a complete, existing calendar date. The offset the text
    gives is kept; callers that store UTC convert. ``dayfirst`` reads an all-numeric
    "01-11-2023" as 1 November, as most of the world writes it; the default is the US
    order (January 11), which feeds and English-language pages without a country use.
    """
    text = _text(value)
    if not text or not re.search(r"\d", text):
        return None
    try:
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        parsed = _rfc822(text) or _human(text, dayfirst)
        if parsed is not None and parsed.year < 1900:  # a two-digit or made-up year
            parsed = None
    if parsed is None:
        log.debug("unreadable date %r", text)
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
