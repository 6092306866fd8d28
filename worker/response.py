"""What one fetch gives back: the outcome, the answer, and the decoded text.

This is the record the fetch stage hands to the next one (discovery or
extraction); it lives apart from the fetcher so that robots.txt handling and
the pipeline can read results without importing the fetcher itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from worker.encoding import decode_html

__all__ = ["FetchResult", "Fetches", "Outcome", "mime_type"]


class Outcome(StrEnum):
    """What became of a fetch; the values are stored in the fetch log."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    BLOCKED = "blocked"
    ROBOTS = "robots"
    # Set by callers (feed or extraction failures); the fetcher never returns it.
    PARSE_ERROR = "parse_error"
    CONNECTION_ERROR = "connection_error"
    REDIRECT_ERROR = "redirect_error"
    BAD_CONTENT = "bad_content"


@dataclass
class FetchResult:
    """The answer to one fetch. ``headers`` has lower-case keys.

    ``redirects`` lists each URL that answered with a redirect, in order, so
    ``[url, *hops]`` when redirected and empty otherwise; ``final_url`` is the
    URL that gave the final answer.
    """

    url: str
    final_url: str
    outcome: Outcome
    status: int | None
    headers: dict[str, str]
    body: bytes
    started_at: datetime
    duration: float
    error: str | None = None
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str | None:
        return mime_type(self.headers.get("content-type"))

    @property
    def text(self) -> str:
        return decode_html(self.body, self.headers.get("content-type"))

    @property
    def size(self) -> int:
        return len(self.body)


def mime_type(content_type: str | None) -> str | None:
    """The bare, lower-case mime type of a Content-Type value (no parameters)."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime or None


class Fetches(Protocol):
    """Anything that fetches like ``worker.fetch.Fetcher``: a simulation, a replay, a test double.

    ``fetch`` never raises for network problems: every failure is an ``Outcome``.
    """

    def fetch(self, url: str, **options: Any) -> FetchResult: ...
