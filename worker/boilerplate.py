"""Per-host template learning: lines that recur across a host's pages never decide a version.

An archive sees each host hundreds of times. A paragraph that shows up on most of
a host's pages since it first appeared ("Sign up for our newsletter", a new
site-wide footer after a redesign, "Listen to this article") is the template, not
the article: the change decision leaves it out (``HostTemplate.is_boilerplate`` is
the ``boilerplate`` predicate of ``worker.version.fingerprint``).

``HostTemplate`` is pure, incremental and bounded: ``observe`` one page's lines at a
time; memory is capped by ``max_lines`` line counters and ``max_pages`` remembered
pages, whatever the host's size; ``to_dict``/``from_dict`` give a JSON-ready form
to store between runs. Lines are kept as 8-byte hashes of their folded text, never
the text itself.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from worker.version import fold_text

__all__ = ["HostTemplate", "line_key"]

FORMAT = 1


def line_key(line: str) -> int:
    """A compact key for a line: 8 bytes of blake2b over its folded, case-folded text."""
    digest = hashlib.blake2b(fold_text(line).casefold().encode("utf-8"), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


@dataclass
class _Count:
    pages: int  # distinct pages the line was seen on
    first: int  # the host's page count when the line was first seen
    last: int  # ... and when it was last seen (for eviction)


@dataclass
class HostTemplate:
    """What one host's pages have in common.

    A line is boilerplate once it was seen on at least ``min_pages`` distinct pages
    and on at least ``min_share`` of the pages observed since it first appeared (so
    a template line added by a redesign counts from the redesign on, and a phrase a
    few stories happen to share does not).
    """

    min_pages: int = 3
    min_share: float = 0.6
    max_lines: int = 20_000
    max_pages: int = 2_000
    pages: int = 0
    _counts: dict[int, _Count] = field(default_factory=dict, repr=False)
    # page -> line keys already counted for it, so a revisit never counts twice.
    _seen: OrderedDict[str, set[int]] = field(default_factory=OrderedDict, repr=False)

    def __post_init__(self) -> None:
        if self.min_pages < 2:
            raise ValueError("min_pages must be at least 2: one page is not a template")
        if not 0 < self.min_share <= 1:
            raise ValueError("min_share must be in (0, 1]")
        if self.max_lines < 1 or self.max_pages < 1:
            raise ValueError("max_lines and max_pages must be positive")

    def observe(self, lines: Iterable[str], *, page: str | None = None) -> None:
        """Count one page's lines (a page seen again only adds the lines new to it)."""
        keys = {line_key(line) for line in lines if line.strip()}
        if page is not None and page in self._seen:
            counted = self._seen[page]
            self._seen.move_to_end(page)
            keys -= counted
            counted |= keys
        else:
            self.pages += 1
            if page is not None:
                self._seen[page] = set(keys)
                if len(self._seen) > self.max_pages:
                    self._seen.popitem(last=False)
        for key in keys:
            count = self._counts.get(key)
            if count is None:
                self._counts[key] = _Count(1, self.pages - 1, self.pages)
            else:
                count.pages += 1
                count.last = self.pages
        if len(self._counts) > self.max_lines:
            self._evict()

    def _evict(self) -> None:
        """Keep the half of the counters most worth keeping: frequent, then recent."""
        ranked = sorted(self._counts.items(), key=lambda kv: (kv[1].pages, kv[1].last))
        for key, _ in ranked[: len(ranked) - self.max_lines // 2]:
            del self._counts[key]

    def is_boilerplate(self, line: str) -> bool:
        """Whether ``line`` belongs to the host's template rather than to an article."""
        count = self._counts.get(line_key(line))
        if count is None or count.pages < self.min_pages:
            return False
        since = max(self.pages - count.first, 1)
        return count.pages / since >= self.min_share

    def __len__(self) -> int:
        return len(self._counts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (line keys as hex); ``from_dict`` reverses it."""
        return {
            "format": FORMAT,
            "min_pages": self.min_pages,
            "min_share": self.min_share,
            "max_lines": self.max_lines,
            "max_pages": self.max_pages,
            "pages": self.pages,
            "lines": {f"{k:016x}": [c.pages, c.first, c.last] for k, c in self._counts.items()},
            "seen": {
                page: [f"{k:016x}" for k in sorted(keys)] for page, keys in self._seen.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostTemplate:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown host template format {data.get('format')!r}")
        template = cls(
            min_pages=data["min_pages"],
            min_share=data["min_share"],
            max_lines=data["max_lines"],
            max_pages=data["max_pages"],
            pages=data["pages"],
        )
        for key, (pages, first, last) in data["lines"].items():
            template._counts[int(key, 16)] = _Count(pages, first, last)
        for page, keys in data["seen"].items():
            template._seen[page] = {int(k, 16) for k in keys}
        return template
