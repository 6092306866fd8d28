"""Tables of the archive (SQLModel, SQLAlchemy 2).

The search index tables (FTS5 on SQLite, a tsvector table on Postgres) are
dialect-specific and live only in the migrations; see ``storage.search``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Stable constraint names, so later migrations (batch mode on SQLite) can refer to them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect.

    SQLite has no timezone support, so values are stored as naive UTC and
    given ``tzinfo=UTC`` back on load. Naive input is taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value.replace(tzinfo=UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _when(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Source(SQLModel, table=True):
    """A feed, sitemap or front page polled on a schedule."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    url: str
    kind: str
    every_seconds: float
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = _when()
    next_poll_at: datetime | None = _when()
    last_outcome: str | None = None


class Article(SQLModel, table=True):
    """One news article, identified by its canonical URL."""

    __table_args__ = (sa.Index("ix_article_status_next_check_at", "status", "next_check_at"),)

    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str = Field(unique=True)
    source: str | None = Field(default=None, index=True)
    first_seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_checked_at: datetime | None = _when()
    last_changed_at: datetime | None = _when()
    next_check_at: datetime | None = _when()
    status: str = Field(default="active")
    failures: int = 0
    deliveries: int = 0
    last_error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    latest_version: int = 0
    title: str | None = None
    byline: str | None = None
    published: datetime | None = _when()
    language: str | None = None


class Alias(SQLModel, table=True):
    """Another URL under which an article was found."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")


class ArticleEvent(SQLModel, table=True):
    """Something that happened to an article besides a new version: the page was
    removed (404/410), moved (redirects to another article) or restored."""

    __tablename__ = "article_event"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    kind: str
    detail: str | None = None


class Capture(SQLModel, table=True):
    """A raw response body, compressed and stored once per distinct content."""

    sha256: str = Field(primary_key=True)
    codec: str
    size: int
    stored_size: int
    content_type: str | None = None
    # 'zstd-delta' captures are compressed with their base capture as dictionary.
    base_sha256: str | None = Field(default=None, foreign_key="capture.sha256")
    depth: int = 0
    data: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Fetch(SQLModel, table=True):
    """One HTTP request made by the worker: the fetch log."""

    id: int | None = Field(default=None, primary_key=True)
    url: str
    host: str = Field(index=True)
    source: str | None = None
    kind: str
    article_id: int | None = Field(
        default=None, foreign_key="article.id", index=True, ondelete="SET NULL"
    )
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    duration_ms: int
    status_code: int | None = None
    bytes: int = 0
    outcome: str = Field(index=True)
    error: str | None = None
    capture_sha256: str | None = None
    headers: str | None = Field(default=None, sa_type=sa.Text)


class VersionContent(SQLModel):
    """What extraction yields for one page and the archive keeps: one record, named as
    the fields of ``worker.extract.Extracted``, from which it is copied by name.

    A new extracted field is added here (with its migration) and to ``Extracted``;
    the pipeline, the archive and ``Editions.show`` carry it with no other change.
    """

    title: str | None = None
    byline: str | None = None
    published: datetime | None = _when()
    modified: datetime | None = _when()
    language: str | None = None
    section: str | None = None
    image_url: str | None = None
    canonical_url: str | None = None
    description: str | None = Field(default=None, sa_type=sa.Text)
    text: str = Field(sa_type=sa.Text)


class NewVersion(VersionContent):
    """A version as the pipeline hands it to the archive: the content plus the
    archive's bookkeeping (when, hashes, where from, what changed)."""

    fetched_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Indexed: the same text under another URL of the same site is the same story.
    text_sha256: str = Field(index=True)
    fingerprint: str
    capture_sha256: str | None = Field(default=None, foreign_key="capture.sha256", index=True)
    fetch_id: int | None = Field(default=None, foreign_key="fetch.id", ondelete="SET NULL")
    words_added: int = 0
    words_removed: int = 0
    change: str = ""

    @classmethod
    def from_content(cls, content: object, **bookkeeping: Any) -> NewVersion:
        """The one mapping from the extraction stage: every ``VersionContent`` field is
        read by name from ``content`` (an extracted article), the rest comes as keywords."""
        fields = {name: getattr(content, name) for name in VersionContent.model_fields}
        return cls(**fields, **bookkeeping)


class Version(NewVersion, table=True):
    """One meaningful edition of an article's content."""

    __table_args__ = (
        sa.UniqueConstraint("article_id", "number"),
        # The recent-changes page and the feeds read the newest versions first.
        sa.Index("ix_version_fetched_at", "fetched_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", ondelete="CASCADE")
    number: int


class HostBlock(SQLModel, table=True):
    """A text block seen on a host's articles: the host's learned template (issue 10).

    ``pages`` counts the distinct articles of ``host`` whose body held the block (by
    its ``fingerprint``). The row with the empty fingerprint counts the host's learned
    articles, the denominator. ``storage.templates`` bounds the rows per host.
    """

    __tablename__ = "host_block"

    host: str = Field(primary_key=True)
    fingerprint: str = Field(primary_key=True)
    pages: int = 0
