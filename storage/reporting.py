"""Reporting: the archive's status summary and a streaming export of everything in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from .db import Database
from .due import due_query
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
                sa.select(sa.func.min(Article.next_check_at)).where(Article.status == "active")
            )
            return {
                "sources": sources,
                # Archived articles have at least one version; the others are
                # tracked URLs still waiting for a first successful fetch.
                "articles": session.scalar(
                    sa.select(count).select_from(Article).where(Article.latest_version > 0)
                ),
                "pending": session.scalar(
                    sa.select(count).select_from(Article).where(Article.latest_version == 0)
                ),
                "versions": session.scalar(sa.select(count).select_from(Version)),
                "captures": session.scalar(sa.select(count).select_from(Capture)),
                "fetches_by_outcome": by_outcome,
                "recent_by_host": recent_by_host,
                "due": session.scalar(due_query(now).with_only_columns(count)),
                "next_due": _iso(next_due),
                "failed": session.scalar(
                    sa.select(count).select_from(Article).where(Article.status == "failed")
                ),
            }

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
