"""The article's language: what the page declares, unless its script says otherwise."""

from __future__ import annotations

import logging
import re

import py3langid

from worker.extract.values import clean

log = logging.getLogger(__name__)

_LANGUAGE_RE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_].*)?$")


def language_code(value: str | None) -> str | None:
    value = clean(value)
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
