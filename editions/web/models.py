"""The JSON API's response shapes, for its OpenAPI document (the same keys as the CLI's --json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Error(BaseModel):
    error: str


class SearchHit(BaseModel):
    url: str
    title: str | None
    snippet: str
    score: float
    published: str | None
    source: str | None
    versions: int
    language: str | None


class ArticleVersion(BaseModel):
    # Every extracted field (storage.models.VersionContent) is shown; a new one passes
    # through before it is listed here, so the API never drops what the CLI prints.
    model_config = ConfigDict(extra="allow")

    url: str
    canonical_url: str
    version: int
    versions: int
    fetched_at: str | None
    title: str | None
    byline: str | None
    published: str | None
    modified: str | None
    language: str | None
    section: str | None
    image_url: str | None
    description: str | None = None
    change: str
    text: str


class HistoryVersion(BaseModel):
    version: int
    fetched_at: str | None
    title: str | None
    byline: str | None
    text_sha256: str
    words_added: int
    words_removed: int
    change: str


class HistoryEvent(BaseModel):
    at: str | None
    event: str  # removed, moved, restored
    detail: str | None


class TimelineEntry(BaseModel):
    """A version (with the version's fields) or an event, in time order."""

    model_config = ConfigDict(extra="allow")
    at: str | None
    event: str


class History(BaseModel):
    url: str
    canonical_url: str
    aliases: list[str]
    source: str | None
    status: str
    state: str
    last_error: str | None
    first_seen_at: str | None
    last_checked_at: str | None
    next_check_at: str | None
    versions: list[HistoryVersion]
    events: list[HistoryEvent]
    timeline: list[TimelineEntry]


class Diff(BaseModel):
    url: str
    canonical_url: str
    # "from" is a Python keyword: the field keeps the JSON name through its alias.
    from_: int = Field(alias="from")
    to: int
    title: list[str | None]
    byline: list[str | None]
    words_added: int
    words_removed: int
    change: str
    rendered: str
    ops: list[list[str]]


class Change(BaseModel):
    url: str
    title: str | None
    source: str | None
    version: int
    fetched_at: str | None
    words_added: int
    words_removed: int
    change: str
    diff: str | None = None
