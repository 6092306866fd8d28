"""The article's language: what the page declares, unless its script says otherwise."""

from __future__ import annotations

import logging
import re
import threading

import gcld3

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


_SAMPLE = 3000
# CLD3's codes that are not ISO 639-1's ("iw" is Hebrew's withdrawn code).
_CLD3_CODES = {"iw": "he", "jw": "jv", "in": "id"}


_LOCAL = threading.local()


def _identifier() -> gcld3.NNetLanguageIdentifier:
    # Google's CLD3, compiled into its package: about 3 MB resident where py3langid's
    # model took 90 MB of every worker. One per thread: it keeps state between calls.
    identifier = getattr(_LOCAL, "identifier", None)
    if identifier is None:
        identifier = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=_SAMPLE * 4)
        _LOCAL.identifier = identifier
    return identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` by CLD3, or None for too little text or no answer."""
    sample = text[:_SAMPLE]
    if len(sample.strip()) < 20:
        return None
    result = _identifier().FindLanguage(text=sample)
    code = (result.language or "").split("-")[0].lower()
    code = _CLD3_CODES.get(code, code)
    if len(code) != 2 or code == "un":
        return None
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
