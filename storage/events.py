"""Article events: what happened to an article besides a new version.

A page that starts answering 404/410 is ``removed``; one that now redirects to
another article is ``moved`` (detail: where to); one that answers again after
either is ``restored``. Events are written by ``DueQueue.mark_checked_in`` from
the article's state change, inside the ingest's transaction, so two racing
fetches never record the same event twice.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from .db import Database
from .models import ArticleEvent

REMOVED = "removed"
MOVED = "moved"
RESTORED = "restored"


class Events:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def add_in(
        session: Session, article_id: int, *, at: datetime, kind: str, detail: str | None
    ) -> None:
        session.add(ArticleEvent(article_id=article_id, at=at, kind=kind, detail=detail))

    @staticmethod
    def latest_in(session: Session, article_id: int) -> ArticleEvent | None:
        return session.scalars(
            sa.select(ArticleEvent)
            .where(ArticleEvent.article_id == article_id)
            .order_by(ArticleEvent.id.desc())
            .limit(1)
        ).first()

    def of(self, article_id: int) -> list[ArticleEvent]:
        """An article's events, oldest first."""
        with self.db.read() as session:
            return list(
                session.scalars(
                    sa.select(ArticleEvent)
                    .where(ArticleEvent.article_id == article_id)
                    .order_by(ArticleEvent.at, ArticleEvent.id)
                )
            )


def removed_since(events: list[ArticleEvent]) -> datetime | None:
    """When the article's current removal began (None if it is not removed)."""
    since = None
    for event in events:
        if event.kind == RESTORED:
            since = None
        elif since is None:
            since = event.at
    return since
