"""Article extraction: body text with trafilatura, metadata from the page's own markup.

The page is parsed once with lxml. Metadata comes from what the publisher declares
(JSON-LD, OpenGraph and ``<meta>`` tags, ``<link rel=canonical>``, ``<html lang>``,
``<time>``), in roughly the order Mozilla Readability trusts them, with trafilatura's
and htmldate's heuristics only as fallbacks. Valid HTML without an article body
gives an :class:`Extracted` with empty ``text``; input that is not HTML at all
raises :class:`ExtractionError`.
"""

from editions.errors import ExtractionError
from worker.dates import parse_date
from worker.extract.article import Extracted, extract_article
from worker.extract.language import choose_language, detect_language

__all__ = [
    "Extracted",
    "ExtractionError",
    "choose_language",
    "detect_language",
    "extract_article",
    "parse_date",
]
