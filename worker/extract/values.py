"""Cleaning the values read from a page's markup: whitespace, lists, relative URLs."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urljoin, urlsplit

_SPACE_RE = re.compile(r"\s+")


def clean(value: Any) -> str | None:
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


def absolute(base: str, href: str | None) -> str | None:
    href = clean(href)
    if not href or href.startswith(("data:", "javascript:", "#")):
        return None
    joined = urljoin(base, href)
    return joined if urlsplit(joined).scheme in {"http", "https"} else None


def first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)
