"""Turn the bytes of an HTML page into text, trusting declarations only as far as they hold.

News sites lie about their encoding often: a server-wide ``charset=utf-8`` on
pages typed in windows-1252, or the reverse. A lone declaration is therefore
tried *strictly*, and one that does not decode is skipped. When the HTTP header
and the ``<meta>`` agree, though, the page has said twice what it is: a few bad
bytes (a stray byte in a comment) are replaced rather than sending the whole
page to detection, which would garble every non-ASCII character.
Label resolution (aliases, ``iso-8859-1`` -> ``cp1252`` as browsers do) and
the meta-tag scan come from w3lib; guessing comes from charset_normalizer.
"""

from __future__ import annotations

import codecs
import logging

import charset_normalizer
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

log = logging.getLogger(__name__)

# Multi-byte encodings that an ASCII-compatible meta tag cannot truthfully declare:
# the HTML standard says to read such a declaration as utf-8.
_UNREADABLE_FROM_META = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
_UTF8 = "utf-8"
_WESTERN = "cp1252"


def charset_from_content_type(value: str | None) -> str | None:
    """The charset of a Content-Type value as a Python codec name, or None if absent or unknown."""
    return http_content_type_encoding(value) if value else None


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTML page: BOM, HTTP charset, meta charset, detection, then utf-8 with replacement.

    Valid utf-8 with non-ASCII bytes beats a declared legacy charset, because
    such byte sequences almost never occur by chance in legacy-encoded text.
    Otherwise, when the HTTP and meta charsets agree, that charset decodes the
    page and bad bytes become U+FFFD. A lone declaration is used only if the
    body decodes with it strictly; pages that declare nothing usable, or
    contradict themselves, go to detection.
    """
    if not body:
        return ""
    encoding, bom = read_bom(body)
    if encoding is not None and bom is not None:
        text = _try_decode(body[len(bom) :], encoding)
        if text is not None:
            return text

    looks_utf8 = _is_utf8_with_non_ascii(body)
    declared = [
        ("http", charset_from_content_type(content_type)),
        ("meta", _meta_charset(body)),
    ]
    agreed = declared[0][1]
    if agreed is not None and agreed == declared[1][1] and not (looks_utf8 and agreed != _UTF8):
        text = _try_decode(body, agreed, errors="replace")
        if text is not None:
            return text
    for origin, charset in declared:
        if charset is None:
            continue
        if looks_utf8 and charset != _UTF8:
            log.debug("%s charset %s overridden: body is valid utf-8", origin, charset)
            return body.decode(_UTF8)
        text = _try_decode(body, charset)
        if text is not None:
            return text
        log.debug("%s charset %s does not decode this body; trying the next clue", origin, charset)

    if looks_utf8 or body.isascii():
        return body.decode(_UTF8)

    charset = _detect(body)
    if charset is not None:
        text = _try_decode(body, charset)
        if text is not None:
            log.debug("detected charset %s", charset)
            return text
    return body.decode(_UTF8, errors="replace")


def _detect(body: bytes) -> str | None:
    """charset_normalizer's best guess; on a tie, windows-1252, as browsers default to it."""
    matches = list(charset_normalizer.from_bytes(body))
    if not matches:
        return None
    best = matches[0]
    for match in matches:
        tied = abs(match.chaos - best.chaos) < 1e-6 and abs(match.coherence - best.coherence) < 1e-6
        if tied and _WESTERN in match.could_be_from_charset:
            return _WESTERN
    return resolve_encoding(best.encoding) or best.encoding


def _meta_charset(body: bytes) -> str | None:
    charset = html_body_declared_encoding(body[:4096])
    if charset in _UNREADABLE_FROM_META:
        return _UTF8
    return charset


def _try_decode(data: bytes, charset: str, errors: str = "strict") -> str | None:
    try:
        codecs.lookup(charset)
        return data.decode(charset, errors)
    except (LookupError, UnicodeDecodeError):
        return None


def _is_utf8_with_non_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode(_UTF8)
    except UnicodeDecodeError:
        return False
    return True
