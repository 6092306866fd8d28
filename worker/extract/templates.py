"""Per-host templates: lines that recur across a host's articles are its boilerplate.

editions sees each host many times. A block of text (a line of the extracted body)
that appears on a good share of a host's distinct articles is part of the site's
template (a newsletter prompt, a "follow us" line, a legal notice), not of any one
article. The counts live in the archive (:mod:`storage.templates`) and grow with
each new article; a host with too few articles learned yet keeps every line, so a
brand-new host falls back to the generic rules.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# A host needs this many learned articles before its template is used...
MIN_PAGES = 8
# ... and a line must be on this share of them (and on at least MIN_REPEATS).
MIN_SHARE = 0.3
MIN_REPEATS = 3
# Longer lines are prose: even a repeated one (a syndicated paragraph) is not template.
MAX_LINE = 300


class TemplateStore(Protocol):
    """Where the counts live: :class:`storage.templates.HostTemplates` in the archive."""

    def counts(self, host: str, fingerprints: Iterable[str]) -> tuple[int, dict[str, int]]: ...

    def learn(self, host: str, fingerprints: Iterable[str]) -> None: ...


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def fingerprint(line: str) -> str | None:
    key = " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", line).casefold()))
    if not key or len(line) > MAX_LINE:
        return None
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def fingerprints(text: str) -> set[str]:
    return {f for line in text.splitlines() if (f := fingerprint(line))}


def strip_template(text: str, pages: int, seen: dict[str, int]) -> str:
    """``text`` without the lines that the host's template holds."""
    if pages < MIN_PAGES:
        return text
    needed = max(MIN_REPEATS, MIN_SHARE * pages)
    kept = [line for line in text.splitlines() if seen.get(fingerprint(line) or "", 0) < needed]
    # A page that is all template (an index page) keeps its text: nothing is better.
    return "\n".join(kept) if any(line.strip() for line in kept) else text


def strip_host_template(
    templates: TemplateStore, url: str, text: str
) -> tuple[str, tuple[str, set[str]] | None]:
    """``text`` without its host's learned template, and the lesson it teaches
    (host, block fingerprints) for the caller to store with the article's first version."""
    host = host_of(url)
    if not host or not text:
        return text, None
    prints = fingerprints(text)
    pages, seen = templates.counts(host, prints)
    stripped = strip_template(text, pages, seen)
    if stripped != text:
        log.debug("host %s: template lines dropped from %s", host, url)
    return stripped, (host, prints)


def apply_host_template(templates: TemplateStore, url: str, text: str, *, learn: bool) -> str:
    """Strip the host's learned template from ``text``; learn from it when ``learn``.

    Learn only from an article's first ingest: revisits of one article would otherwise
    count its own lines again and again until they looked like template.
    """
    host = host_of(url)
    if not host or not text:
        return text
    prints = fingerprints(text)
    pages, seen = templates.counts(host, prints)
    stripped = strip_template(text, pages, seen)
    if learn:
        templates.learn(host, prints)
    if stripped != text:
        log.debug("host %s: template lines dropped from %s", host, url)
    return stripped
