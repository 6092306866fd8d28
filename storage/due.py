"""The due queue: when each article is checked next, failures and task deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from editions.errors import ArticleNotFoundError

from .articles import Articles
from .db import Database
from .events import RESTORED, Events
from .models import Article

# Removed articles are still revisited (sparsely): the page may come back.
WATCHED = ("active", "removed")


def due_query(now: datetime) -> Any:
    """Watched articles whose next check is at or before ``now``."""
    return sa.select(Article).where(Article.status.in_(WATCHED), Article.next_check_at <= now)


@dataclass
class Check:
    """What one check of an article found, and when to check it next."""

    checked_at: datetime
    ok: bool
    next_check_at: datetime | None
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    error: str | None = None
    # The page is gone: "removed" (404/410) or "moved" (redirects to ``detail``).
    removed: str | None = None
    detail: str | None = None


class DueQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def mark_checked(self, article_id: int, check: Check) -> None:
        """Record a revisit: resets or counts failures and sets the next check."""
        with self.db.write() as session:
            self.mark_checked_in(session, Articles.lock(session, article_id), check)

    def mark_checked_in(self, session: Session, article: Article, check: Check) -> None:
        """``mark_checked`` inside the caller's transaction, for an article it has locked."""
        article.last_checked_at = check.checked_at
        article.next_check_at = check.next_check_at
        if check.etag is not None:
            article.etag = check.etag
        if check.last_modified is not None:
            article.last_modified = check.last_modified
        if check.body_sha256 is not None:
            article.body_sha256 = check.body_sha256
        if check.removed is not None:
            self._removed_in(session, article, check)
            return
        if check.ok:
            if article.status == "removed":
                Events.add_in(
                    session, article.id, at=check.checked_at, kind=RESTORED, detail=None
                )
            article.failures = 0
            article.last_error = None
            article.status = "active" if check.next_check_at is not None else "done"
            return
        article.failures += 1
        article.last_error = check.error
        if article.status == "removed":
            return  # a removed page that also times out is still removed, not failed
        if article.failures >= int(self.db.settings.max_article_failures):
            article.status = "failed"
        elif check.next_check_at is None:
            # Failing and no further check planned: it will never be archived now.
            article.status = "failed"

    @staticmethod
    def _removed_in(session: Session, article: Article, check: Check) -> None:
        """Mark the page gone; an event only when this is news (not the same removal again)."""
        assert article.id is not None
        latest = Events.latest_in(session, article.id) if article.status == "removed" else None
        if latest is None or (latest.kind, latest.detail) != (check.removed, check.detail):
            Events.add_in(
                session, article.id, at=check.checked_at, kind=check.removed, detail=check.detail
            )
        article.status = "removed"
        article.failures = 0
        article.last_error = check.error

    def record_delivery(self, article_id: int) -> int:
        """Count one more delivery of the article's task; returns the new count."""
        with self.db.write() as session:
            count = session.execute(
                sa.update(Article)
                .where(Article.id == article_id)
                .values(deliveries=Article.deliveries + 1)
                .returning(Article.deliveries)
            ).scalar_one_or_none()
            if count is None:
                raise ArticleNotFoundError(f"no article with id {article_id}")
            return count

    def clear_deliveries(self, article_id: int) -> None:
        """Reset the delivery count once a delivery finished without killing its worker."""
        with self.db.write() as session:
            result = session.execute(
                sa.update(Article).where(Article.id == article_id).values(deliveries=0)
            )
            if result.rowcount == 0:
                raise ArticleNotFoundError(f"no article with id {article_id}")

    def due(self, now: datetime, limit: int = 100) -> list[Article]:
        """Active articles whose next check is due, oldest due first."""
        with self.db.read() as session:
            return list(
                session.scalars(
                    due_query(now).order_by(Article.next_check_at, Article.id).limit(limit)
                )
            )

    def count(self, now: datetime) -> int:
        """How many active articles are due for a check at ``now``."""
        with self.db.read() as session:
            return session.scalar(due_query(now).with_only_columns(sa.func.count())) or 0

    def next_due_at(self) -> datetime | None:
        with self.db.read() as session:
            return session.scalar(
                sa.select(sa.func.min(Article.next_check_at)).where(
                    Article.status.in_(WATCHED)
                )
            )
