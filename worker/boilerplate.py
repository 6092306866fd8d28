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

import bisect
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
    first: int  # the observation tick when the line was first seen
    last: int  # ... and when it was last seen (for eviction)


@dataclass
class HostTemplate:
    """What one host's pages have in common.

    A line is boilerplate once it was seen on at least ``min_pages`` distinct pages
    and on at least ``min_share`` of the distinct pages observed since it first
    appeared (so a template line added by a redesign counts from the redesign on, a
    revisited page counts once however often it is fetched, and a sentence a few
    stories happen to share does not).
    """

    min_pages: int = 3
    min_share: float = 0.6
    max_lines: int = 20_000
    max_pages: int = 2_000
    pages: int = 0
    tick: int = 0
    _counts: dict[int, _Count] = field(default_factory=dict, repr=False)
    # page -> (last observation tick, line keys already counted for it), least recently
    # observed first, so a revisit never counts twice.
    _seen: OrderedDict[str, tuple[int, set[int]]] = field(
        default_factory=OrderedDict, repr=False
    )
    # The last observation ticks of the pages in _seen, sorted: how many distinct pages
    # were observed since a tick is one bisection.
    _visits: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.min_pages < 2:
            raise ValueError("min_pages must be at least 2: one page is not a template")
        if not 0 < self.min_share <= 1:
            raise ValueError("min_share must be in (0, 1]")
        if self.max_lines < 1 or self.max_pages < 1:
            raise ValueError("max_lines and max_pages must be positive")

    def observe(self, lines: Iterable[str], *, page: str | None = None) -> None:
        """Count one page's lines (a page seen again only adds the lines new to it)."""
        self.tick += 1
        keys = {line_key(line) for line in lines if line.strip()}
        name = page if page is not None else f"#{self.tick}"
        if name in self._seen:
            last, counted = self._seen.pop(name)
            del self._visits[bisect.bisect_left(self._visits, last)]
            keys -= counted
            counted |= keys
        else:
            self.pages += 1
            counted = set(keys)
        self._seen[name] = (self.tick, counted)
        self._visits.append(self.tick)  # the newest tick: the list stays sorted
        if len(self._seen) > self.max_pages:
            _, (oldest, _) = self._seen.popitem(last=False)
            del self._visits[bisect.bisect_left(self._visits, oldest)]
        for key in keys:
            count = self._counts.get(key)
            if count is None:
                self._counts[key] = _Count(1, self.tick, self.tick)
            else:
                count.pages += 1
                count.last = self.tick
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
        since = len(self._visits) - bisect.bisect_left(self._visits, count.first)
        return count.pages >= self.min_share * since

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
            "tick": self.tick,
            "lines": {f"{k:016x}": [c.pages, c.first, c.last] for k, c in self._counts.items()},
            "seen": [
                [page, last, [f"{k:016x}" for k in sorted(keys)]]
                for page, (last, keys) in self._seen.items()
            ],
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
            tick=data["tick"],
        )
        for key, (pages, first, last) in data["lines"].items():
            template._counts[int(key, 16)] = _Count(pages, first, last)
        for page, last, keys in data["seen"]:
            template._seen[page] = (last, {int(k, 16) for k in keys})
            template._visits.append(last)
        template._visits.sort()
        return template
