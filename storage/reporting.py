"""Reporting: the archive's status summary and a streaming export of everything in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from .articles import STATES, state_filter, state_of
from .db import Database
from .due import WATCHED, due_query
from .models import Alias, Article, Capture, Fetch, Source, Version


class Reports:
    def __init__(self, db: Database) -> None:
        self.db = db

    def status(self, *, now: datetime, recent: timedelta = timedelta(hours=24)) -> dict[str, Any]:
        """A JSON-ready summary of the archive for `editions status`."""
        count = sa.func.count()
        with self.db.read() as session:
            sources = [
                {
                    "name": s.name,
                    "url": s.url,
                    "kind": s.kind,
                    "every": s.every_seconds,
                    "last_polled_at": _iso(s.last_polled_at),
                    "next_poll_at": _iso(s.next_poll_at),
                    "last_outcome": s.last_outcome,
                }
                for s in session.scalars(sa.select(Source).order_by(Source.name))
            ]
            by_outcome = {
                outcome: n
                for outcome, n in session.execute(
                    sa.select(Fetch.outcome, count).group_by(Fetch.outcome).order_by(Fetch.outcome)
                )
            }
            recent_by_host: dict[str, dict[str, int]] = {}
            rows = session.execute(
                sa.select(Fetch.host, Fetch.outcome, count)
                .where(Fetch.started_at >= now - recent)
                .group_by(Fetch.host, Fetch.outcome)
                .order_by(Fetch.host, Fetch.outcome)
            )
            for host, outcome, n in rows:
                recent_by_host.setdefault(host, {})[outcome] = n
            next_due = session.scalar(
                sa.select(sa.func.min(Article.next_check_at)).where(Article.status.in_(WATCHED))
            )
            states = {
                state: session.scalar(
                    sa.select(count).select_from(Article).where(state_filter(state))
                )
                for state in STATES
            }
            return {
                "sources": sources,
                # Archived articles have at least one version (a removed or failed one
                # keeps its versions); the states below split every tracked article.
                "articles": session.scalar(
                    sa.select(count).select_from(Article).where(Article.latest_version > 0)
                ),
                "tracked": sum(states.values()),
                "archived": states["active"],
                "pending": states["pending"],
                "removed": states["removed"],
                "versions": session.scalar(sa.select(count).select_from(Version)),
                "captures": session.scalar(sa.select(count).select_from(Capture)),
                "fetches_by_outcome": by_outcome,
                "recent_by_host": recent_by_host,
                "due": session.scalar(due_query(now).with_only_columns(count)),
                "next_due": _iso(next_due),
                "failed": states["failed"],
            }

    def articles(
        self, *, state: str | None = None, source: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Tracked articles, newest first, with their state and their last fetch."""
        # The last fetch of each article: fetch ids grow with time.
        last = (
            sa.select(Fetch.article_id, sa.func.max(Fetch.id).label("fetch_id"))
            .where(Fetch.article_id.is_not(None))
            .group_by(Fetch.article_id)
            .subquery()
        )
        query = (
            sa.select(Article, Fetch.started_at, Fetch.outcome, Fetch.status_code)
            .outerjoin(last, last.c.article_id == Article.id)
            .outerjoin(Fetch, Fetch.id == last.c.fetch_id)
            .order_by(Article.id.desc())
        )
        if state is not None:
            query = query.where(state_filter(state))
        if source is not None:
            query = query.where(Article.source == source)
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as session:
            rows = session.execute(query).all()
        return [
            {
                "url": article.canonical_url,
                "source": article.source,
                "state": state_of(article),
                "title": article.title,
                "versions": article.latest_version,
                "first_seen_at": _iso(article.first_seen_at),
                "last_fetch_at": _iso(fetched_at or article.last_checked_at),
                "last_outcome": outcome,
                "last_http_status": http_status,
                "last_error": article.last_error,
                "failures": article.failures,
                "next_check_at": _iso(article.next_check_at),
            }
            for article, fetched_at, outcome, http_status in rows
        ]

    def iter_articles(self, batch: int = 200) -> Iterator[dict[str, Any]]:
        """Every article with its aliases and versions, as JSON-ready dicts, oldest first."""
        last_id = 0
        while True:
            with self.db.read() as session:
                articles = list(
                    session.scalars(
                        sa.select(Article)
                        .where(Article.id > last_id)
                        .order_by(Article.id)
                        .limit(batch)
                    )
                )
                if not articles:
                    return
                ids = [a.id for a in articles]
                aliases: dict[int, list[str]] = {}
                for article_id, url in session.execute(
                    sa.select(Alias.article_id, Alias.url)
                    .where(Alias.article_id.in_(ids))
                    .order_by(Alias.id)
                ):
                    aliases.setdefault(article_id, []).append(url)
                versions: dict[int, list[dict[str, Any]]] = {}
                for version in session.scalars(
                    sa.select(Version).where(Version.article_id.in_(ids)).order_by(Version.number)
                ):
                    versions.setdefault(version.article_id, []).append(_jsonable(version))
            for article in articles:
                record = _jsonable(article)
                record["aliases"] = aliases.get(article.id, [])
                record["versions"] = versions.get(article.id, [])
                yield record
            last_id = ids[-1]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _jsonable(model: SQLModel) -> dict[str, Any]:
    record = {}
    for column in sa.inspect(type(model)).columns:
        value = getattr(model, column.key)
        record[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return record
