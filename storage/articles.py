"""Articles, their aliases (other URLs of the same story) and merges of two articles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from editions.errors import ArticleNotFoundError, InvalidInputError

from .db import Database
from .models import Alias, Article, ArticleEvent, Fetch, Version
from .search import SearchIndex

# What `editions articles --state` and `status` tell apart; every article is in one.
STATES = ("pending", "active", "failed", "removed")


def state_of(article: Article) -> str:
    """pending (no version yet, still tried), active (archived), failed (given up) or
    removed (the page answered 404/410 or moved to another article)."""
    if article.status in ("failed", "removed"):
        return article.status
    return "active" if article.latest_version else "pending"


def state_filter(state: str) -> Any:
    """The SQL condition for articles in ``state`` (one of ``STATES``)."""
    if state in ("failed", "removed"):
        return Article.status == state
    if state not in STATES:
        raise InvalidInputError(f"unknown state {state!r} (one of: {', '.join(STATES)})")
    watched = Article.status.not_in(("failed", "removed"))
    if state == "pending":
        return sa.and_(watched, Article.latest_version == 0)
    return sa.and_(watched, Article.latest_version > 0)


class Articles:
    def __init__(self, db: Database, search: SearchIndex) -> None:
        self.db = db
        self.search = search

    @staticmethod
    def _find(session: Session, url: str) -> Article | None:
        article = session.scalars(sa.select(Article).where(Article.canonical_url == url)).first()
        if article is None:
            article = session.scalars(
                sa.select(Article)
                .join(Alias, Alias.article_id == Article.id)
                .where(Alias.url == url)
            ).first()
        return article

    def find(self, url: str) -> Article | None:
        """The article whose canonical URL or alias is ``url`` (already canonicalised)."""
        with self.db.read() as session:
            return self._find(session, url)

    def get(self, article_id: int) -> Article | None:
        with self.db.read() as session:
            return session.get(Article, article_id)

    def get_or_create(
        self,
        canonical_url: str,
        *,
        source: str | None,
        seen_at: datetime,
        next_check_at: datetime | None = None,
    ) -> tuple[Article, bool]:
        """The article for this URL (canonical or alias), created if new; bool = created."""
        if not isinstance(canonical_url, str) or not canonical_url.strip():
            raise InvalidInputError(
                f"canonical_url must be a non-empty string, got {canonical_url!r}"
            )
        with self.db.write() as session:
            article = self._find(session, canonical_url)
            if article is not None:
                return article, False
            stmt = (
                self.db.insert(Article)
                .values(
                    canonical_url=canonical_url,
                    source=source,
                    first_seen_at=seen_at,
                    next_check_at=next_check_at,
                    status="active",
                    failures=0,
                    deliveries=0,
                    latest_version=0,
                )
                .on_conflict_do_nothing(index_elements=["canonical_url"])
                .returning(Article.id)
            )
            new_id = session.execute(stmt).scalar_one_or_none()
            if new_id is None:  # another writer inserted it first
                article = self._find(session, canonical_url)
                assert article is not None
                return article, False
            article = session.get(Article, new_id)
            assert article is not None
            return article, True

    def track(
        self,
        urls: Iterable[str],
        *,
        source: str | None,
        seen_at: datetime,
        next_check_at: datetime | None = None,
    ) -> list[str]:
        """Start tracking every URL not yet known (as canonical URL or alias).

        One transaction for a whole feed or sitemap; returns the URLs that are
        new, in the order given. Safe against concurrent pollers: a URL another
        writer inserted first is simply not new here.
        """
        wanted = list(dict.fromkeys(u for u in urls if isinstance(u, str) and u.strip()))
        created: list[str] = []
        with self.db.write() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                known = set(
                    session.scalars(
                        sa.select(Article.canonical_url).where(Article.canonical_url.in_(chunk))
                    )
                )
                known.update(session.scalars(sa.select(Alias.url).where(Alias.url.in_(chunk))))
                fresh = [u for u in chunk if u not in known]
                if not fresh:
                    continue
                stmt = (
                    self.db.insert(Article)
                    .values(
                        [
                            {
                                "canonical_url": url,
                                "source": source,
                                "first_seen_at": seen_at,
                                "next_check_at": next_check_at,
                                "status": "active",
                                "failures": 0,
                                "deliveries": 0,
                                "latest_version": 0,
                            }
                            for url in fresh
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["canonical_url"])
                    .returning(Article.canonical_url)
                )
                inserted = set(session.scalars(stmt))
                created.extend(u for u in fresh if u in inserted)
        return created

    @staticmethod
    def lock(session: Session, article_id: int) -> Article:
        """The article row, locked for the rest of the transaction (FOR UPDATE on Postgres;
        SQLite's BEGIN IMMEDIATE already holds the database)."""
        article = session.scalars(
            sa.select(Article).where(Article.id == article_id).with_for_update()
        ).first()
        if article is None:
            raise ArticleNotFoundError(f"no article with id {article_id}")
        return article

    def add_aliases(self, article_id: int, urls: Iterable[str]) -> None:
        """Record other URLs of an article; URLs already known anywhere are skipped."""
        with self.db.write() as session:
            self.add_aliases_in(session, self.lock(session, article_id), urls)

    def add_aliases_in(self, session: Session, article: Article, urls: Iterable[str]) -> None:
        """``add_aliases`` inside the caller's transaction, for an article it has locked."""
        wanted = sorted({u for u in urls if isinstance(u, str) and u.strip()})
        if not wanted:
            return
        canonical = set(
            session.scalars(
                sa.select(Article.canonical_url).where(Article.canonical_url.in_(wanted))
            )
        )
        rows = [{"url": u, "article_id": article.id} for u in wanted if u not in canonical]
        if rows:
            session.execute(
                self.db.insert(Alias).values(rows).on_conflict_do_nothing(index_elements=["url"])
            )

    def merge(self, article_id: int, *, into: int) -> None:
        """Fold one article into another that turned out to be the same story.

        Its URL and aliases become aliases of ``into``, its fetch log follows,
        and both version histories are merged in fetch order; nothing is lost.
        """
        if article_id == into:
            raise InvalidInputError(f"cannot merge article {article_id} into itself")
        with self.db.write() as session:
            # Lock in id order so two opposite merges cannot deadlock on Postgres.
            locked = {a: self.lock(session, a) for a in sorted((article_id, into))}
            old, target = locked[article_id], locked[into]
            session.execute(
                sa.update(Alias).where(Alias.article_id == old.id).values(article_id=target.id)
            )
            session.execute(
                sa.update(Fetch).where(Fetch.article_id == old.id).values(article_id=target.id)
            )
            session.execute(
                sa.update(ArticleEvent)
                .where(ArticleEvent.article_id == old.id)
                .values(article_id=target.id)
            )
            history = list(
                session.scalars(
                    sa.select(Version)
                    .where(Version.article_id.in_([old.id, target.id]))
                    .order_by(Version.fetched_at, Version.article_id != target.id, Version.number)
                )
            )
            # Two passes: numbers must stay unique per article at every step.
            for version in history:
                version.number = -version.number - (
                    0 if version.article_id == target.id else 1_000_000
                )
            session.flush()
            for number, version in enumerate(history, start=1):
                version.article_id = target.id
                version.number = number
            target.first_seen_at = min(target.first_seen_at, old.first_seen_at)
            session.flush()
            old_url = old.canonical_url
            self.search.forget(session, old.id)
            session.delete(old)
            session.flush()
            session.add(Alias(url=old_url, article_id=target.id))
            if history:
                latest = history[-1]
                target.latest_version = latest.number
                for field in ("title", "byline", "published", "language"):
                    value = getattr(latest, field)
                    if value is not None:
                        setattr(target, field, value)
                target.last_changed_at = latest.fetched_at
                session.flush()
                self.search.index(session, target.id, latest)  # type: ignore[arg-type]

    def aliases(self, article_id: int) -> list[str]:
        with self.db.read() as session:
            return list(
                session.scalars(
                    sa.select(Alias.url).where(Alias.article_id == article_id).order_by(Alias.id)
                )
            )

    def count(self) -> int:
        with self.db.read() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(Article)) or 0
