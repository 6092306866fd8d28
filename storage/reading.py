"""Read-only queries for the public faces (web app, feeds, WARC export).

Kept apart from ``storage.archive`` on purpose: these are additive reads over
the same tables, taking the ``Archive`` they read from, so the archive's own
module can change shape without touching them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from .archive import Archive
from .models import Article, Fetch, Version

__all__ = [
    "CapturedFetch",
    "Change",
    "captured_fetches",
    "recent_changes",
    "recent_fetch_errors",
    "version_for_fetch",
]


@dataclass
class Change:
    """One edit: a version after the first, with what it changed."""

    version_id: int
    article_id: int
    canonical_url: str
    source: str | None
    number: int
    fetched_at: datetime
    title: str | None
    words_added: int
    words_removed: int
    change: str


@dataclass
class CapturedFetch:
    """A logged fetch whose raw body was kept: one WARC response."""

    fetch_id: int
    url: str
    source: str | None
    started_at: datetime
    status: int | None
    headers: str | None
    capture_sha256: str
    article_id: int | None
    canonical_url: str | None
    version: int | None


def _session(archive: Archive) -> Session:
    return Session(archive.engine, expire_on_commit=False)


def recent_changes(
    archive: Archive,
    *,
    since: datetime | None = None,
    source: str | None = None,
    article_ids: Collection[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Change]:
    """Edits (versions after the first), newest first."""
    query = (
        sa.select(
            Version.id,
            Version.article_id,
            Article.canonical_url,
            Article.source,
            Version.number,
            Version.fetched_at,
            Version.title,
            Version.words_added,
            Version.words_removed,
            Version.change,
        )
        .join(Article, Article.id == Version.article_id)
        .where(Version.number > 1)
        .order_by(Version.fetched_at.desc(), Version.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if since is not None:
        query = query.where(Version.fetched_at >= since)
    if source is not None:
        query = query.where(Article.source == source)
    if article_ids is not None:
        if not article_ids:
            return []
        query = query.where(Version.article_id.in_(list(article_ids)))
    with _session(archive) as session:
        return [Change(*row) for row in session.execute(query)]


def captured_fetches(
    archive: Archive,
    *,
    source: str | None = None,
    since: datetime | None = None,
    batch: int = 500,
) -> Iterator[CapturedFetch]:
    """Every fetch with a kept body, oldest first, in batches (any archive size)."""
    last_id = 0
    while True:
        query = (
            sa.select(
                Fetch.id,
                Fetch.url,
                Fetch.source,
                Fetch.started_at,
                Fetch.status_code,
                Fetch.headers,
                Fetch.capture_sha256,
                Fetch.article_id,
                Article.canonical_url,
                Version.number,
            )
            .outerjoin(Article, Article.id == Fetch.article_id)
            .outerjoin(Version, Version.fetch_id == Fetch.id)
            .where(Fetch.capture_sha256.is_not(None), Fetch.id > last_id)
            .order_by(Fetch.id)
            .limit(batch)
        )
        if source is not None:
            query = query.where(sa.or_(Fetch.source == source, Article.source == source))
        if since is not None:
            query = query.where(Fetch.started_at >= since)
        with _session(archive) as session:
            rows = session.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield CapturedFetch(*row)
        last_id = rows[-1][0]


def version_for_fetch(archive: Archive, article_id: int, number: int) -> dict[str, Any] | None:
    """The fetch that made version ``number`` of an article: its capture and headers."""
    query = (
        sa.select(Fetch.url, Fetch.started_at, Fetch.headers, Version.capture_sha256)
        .select_from(Version)
        .outerjoin(Fetch, Fetch.id == Version.fetch_id)
        .where(Version.article_id == article_id, Version.number == number)
    )
    with _session(archive) as session:
        row = session.execute(query).first()
    if row is None:
        return None
    return {"url": row[0], "started_at": row[1], "headers": row[2], "capture_sha256": row[3]}


def recent_fetch_errors(archive: Archive, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest fetches that failed, newest first, JSON-ready."""
    query = (
        sa.select(Fetch.url, Fetch.host, Fetch.source, Fetch.started_at, Fetch.outcome, Fetch.error)
        .where(Fetch.outcome.not_in(["ok", "not_modified"]))
        .order_by(Fetch.started_at.desc(), Fetch.id.desc())
        .limit(limit)
    )
    with _session(archive) as session:
        rows = session.execute(query).all()
    return [
        {
            "url": url,
            "host": host,
            "source": source,
            "started_at": started_at.isoformat(),
            "outcome": outcome,
            "error": error,
        }
        for url, host, source, started_at, outcome, error in rows
    ]
