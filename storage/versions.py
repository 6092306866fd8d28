"""Versions: every meaningful edition of an article, numbered from 1.

The record the archive receives is ``NewVersion`` (``storage.models``), the
stored row is ``Version``: the same fields plus the article and the number.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from editions.errors import InvalidInputError

from .articles import Articles
from .db import Database
from .models import Article, NewVersion, Version
from .search import SearchIndex


class Versions:
    def __init__(self, db: Database, search: SearchIndex) -> None:
        self.db = db
        self.search = search

    def add(self, article_id: int, new: NewVersion) -> Version | None:
        """Store a new version unless its fingerprint equals the latest one (then None)."""
        with self.db.write() as session:
            return self.add_in(session, Articles.lock(session, article_id), new)

    def add_in(self, session: Session, article: Article, new: NewVersion) -> Version | None:
        """``add`` inside the caller's transaction, for an article it has locked."""
        check_new_version(new)
        article_id = article.id
        assert article_id is not None
        latest = None
        if article.latest_version:
            latest = session.scalars(
                sa.select(Version).where(
                    Version.article_id == article_id, Version.number == article.latest_version
                )
            ).first()
        if latest is not None and latest.fingerprint == new.fingerprint:
            return None
        version = Version(
            **new.model_dump(), article_id=article_id, number=article.latest_version + 1
        )
        session.add(version)
        article.latest_version = version.number
        # An edition that lost a field (e.g. no byline this time) keeps the one we knew.
        article.title = new.title if new.title is not None else article.title
        article.byline = new.byline if new.byline is not None else article.byline
        article.published = new.published if new.published is not None else article.published
        # Lower-case, as the search's language filter compares it.
        if new.language:
            article.language = new.language.lower()
        article.last_changed_at = new.fetched_at
        session.flush()
        self.search.index(session, article_id, version)
        return version

    def of(self, article_id: int) -> list[Version]:
        with self.db.read() as session:
            return list(
                session.scalars(
                    sa.select(Version)
                    .where(Version.article_id == article_id)
                    .order_by(Version.number)
                )
            )

    def get(self, article_id: int, number: int | None = None) -> Version | None:
        """Version ``number`` of an article, or its latest version."""
        query = sa.select(Version).where(Version.article_id == article_id)
        if number is None:
            query = query.order_by(Version.number.desc()).limit(1)
        else:
            query = query.where(Version.number == number)
        with self.db.read() as session:
            return session.scalars(query).first()

    def articles_with_text(self, text_sha256: str, *, exclude: int | None = None) -> list[Article]:
        """Articles whose latest version has exactly this (normalised) text."""
        query = (
            sa.select(Article)
            .join(Version, Version.article_id == Article.id)
            .where(Version.text_sha256 == text_sha256, Version.number == Article.latest_version)
            .order_by(Article.id)
        )
        if exclude is not None:
            query = query.where(Article.id != exclude)
        with self.db.read() as session:
            return list(session.scalars(query))

    def count(self) -> int:
        with self.db.read() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(Version)) or 0


def check_new_version(new: NewVersion) -> None:
    if not isinstance(new, NewVersion):
        raise InvalidInputError(f"expected a NewVersion, got {type(new).__name__}")
    if not isinstance(new.fetched_at, datetime):
        raise InvalidInputError(f"NewVersion.fetched_at must be a datetime, got {new.fetched_at!r}")
    if not isinstance(new.text, str):
        raise InvalidInputError(f"NewVersion.text must be a string, got {type(new.text).__name__}")
    if not new.fingerprint:
        raise InvalidInputError(
            "NewVersion.fingerprint is empty; it decides whether content changed"
        )
