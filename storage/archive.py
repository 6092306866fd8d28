"""The archive: the one place the pipeline reads and writes the database.

Every write runs in one short transaction. On SQLite writes begin with
``BEGIN IMMEDIATE`` (see ``storage.engine``), which serialises writers; on
Postgres, per-article work locks the article row (``SELECT ... FOR UPDATE``)
and inserts that may race use ``ON CONFLICT``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import zstandard
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from editions.errors import (
    ArchiveError,
    ArticleNotFoundError,
    CaptureNotFoundError,
    InvalidInputError,
    SearchQueryError,
    UnknownSourceError,
)
from editions.records import Source as SourceRecord
from editions.settings import Settings

from . import search as fts
from .engine import (
    SQLITE_BEGIN,
    create_engine,
    database_errors,
    database_url,
    redact,
    require_existing,
)
from .migrate import is_current, upgrade, upgrade_engine
from .models import Alias, Article, Capture, Fetch, Source, UTCDateTime, Version

log = logging.getLogger(__name__)

__all__ = [
    "Archive",
    "ArchiveError",
    "ArticleNotFoundError",
    "CaptureNotFoundError",
    "InvalidInputError",
    "NewVersion",
    "SearchHit",
    "SearchQueryError",
    "UnknownSourceError",
    "upgrade",
]

# Snippet highlight markers: private-use characters that never occur in article
# text, so "did the text match?" is a reliable test; swapped for [ ] at the end.
_OPEN, _CLOSE = "\ue000", "\ue001"
# FTS5 bm25 column weights (title, byline, text): a title hit outranks a body hit.
_BM25 = "bm25(article_fts, 10.0, 2.0, 1.0)"
_HEADLINE = f'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=30, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "'







@dataclass
class NewVersion:
    """What the pipeline extracted from one fetch of an article."""

    fetched_at: datetime
    title: str | None
    byline: str | None
    published: datetime | None
    modified: datetime | None
    language: str | None
    section: str | None
    image_url: str | None
    canonical_url: str | None
    description: str | None
    text: str
    text_sha256: str
    fingerprint: str
    capture_sha256: str | None
    fetch_id: int | None
    words_added: int = 0
    words_removed: int = 0
    change: str = ""


@dataclass
class SearchHit:
    """One search result; ``score`` is higher for better matches on both dialects."""

    article_id: int
    url: str
    title: str | None
    snippet: str
    score: float
    published: datetime | None
    source: str | None
    versions: int
    language: str | None


class Archive:
    """Repository over the archive database (SQLite or Postgres)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        migrate: bool = True,
        create: bool = True,
    ) -> None:
        """Open the archive at ``url``; ``create=False`` refuses to make a new SQLite file."""
        self.settings = settings or Settings.defaults()
        self.url = database_url(url, self.settings)
        if not create:
            require_existing(self.url)
        self.engine = create_engine(self.url, settings=self.settings)
        self.dialect: str = self.engine.dialect.name
        self._read_engine = self.engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
        with database_errors(self.engine.url):
            if migrate and not is_current(self.engine):
                log.info("migrating %s to the newest schema", redact(self.engine.url))
                upgrade_engine(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Archive({self.engine.url.render_as_string(hide_password=True)!r})"

    # --- sessions ---------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._read_engine, expire_on_commit=False) as session:
            yield session

    def _insert(self, model: type[SQLModel]) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(model)

    # --- sources ----------------------------------------------------------------

    def sync_sources(self, sources: Iterable[SourceRecord]) -> None:
        """Insert or update the sources' rows by name."""
        rows = []
        for source in sources:
            every = getattr(source, "every", None)
            if not isinstance(every, timedelta):
                raise InvalidInputError(
                    f"source {getattr(source, 'name', source)!r}: .every must be a timedelta, "
                    f"got {every!r}"
                )
            rows.append(
                {
                    "name": source.name,
                    "url": source.url,
                    "kind": source.kind,
                    "every_seconds": every.total_seconds(),
                }
            )
        if not rows:
            return
        with self._write() as session:
            for row in rows:
                stmt = self._insert(Source).values(**row)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["name"],
                    set_={k: stmt.excluded[k] for k in ("url", "kind", "every_seconds")},
                )
                session.execute(stmt)

    def get_source(self, name: str) -> Source | None:
        with self._read() as session:
            return session.scalars(sa.select(Source).where(Source.name == name)).first()

    def sources(self) -> list[Source]:
        with self._read() as session:
            return list(session.scalars(sa.select(Source).order_by(Source.name)))

    def mark_source_polled(
        self,
        name: str,
        *,
        at: datetime,
        etag: str | None,
        last_modified: str | None,
        next_poll_at: datetime | None,
        outcome: str,
    ) -> None:
        with self._write() as session:
            result = session.execute(
                sa.update(Source)
                .where(Source.name == name)
                .values(
                    last_polled_at=at,
                    etag=etag,
                    last_modified=last_modified,
                    next_poll_at=next_poll_at,
                    last_outcome=outcome,
                )
            )
            if result.rowcount == 0:
                raise UnknownSourceError(f"no source named {name!r}; sync_sources() it first")

    # --- fetch log --------------------------------------------------------------

    def record_fetch(
        self,
        *,
        url: str,
        source: str | None,
        kind: str,
        started_at: datetime,
        duration: float,
        status: int | None,
        size: int,
        outcome: str,
        error: str | None = None,
        article_id: int | None = None,
        capture_sha256: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Log one request; returns the fetch id."""
        fetch = Fetch(
            url=url,
            host=(urlsplit(url).hostname or "").lower(),
            source=source,
            kind=kind,
            article_id=article_id,
            started_at=started_at,
            duration_ms=round(duration * 1000),
            status_code=status,
            bytes=size,
            outcome=outcome,
            error=error,
            capture_sha256=capture_sha256,
            headers=json.dumps(dict(headers), ensure_ascii=False) if headers is not None else None,
        )
        with self._write() as session:
            session.add(fetch)
            session.flush()
            assert fetch.id is not None
            return fetch.id

    # --- raw captures -----------------------------------------------------------

    def store_capture(
        self, body: bytes, *, content_type: str | None = None, base_sha256: str | None = None
    ) -> str:
        """Store a raw body once (by sha256) and return its hex digest.

        With ``base_sha256`` (the article's previous capture) the body is stored
        as a zstd delta against it when that is smaller.
        """
        if not isinstance(body, bytes | bytearray | memoryview):
            raise InvalidInputError(f"capture body must be bytes, not {type(body).__name__}")
        body = bytes(body)
        digest = hashlib.sha256(body).hexdigest()
        with self._read() as session:
            if session.get(Capture, digest) is not None:
                return digest
        # Compress outside the write transaction: on SQLite it holds the database lock.
        codec, data, base, depth = self._compress(body, base_sha256)
        values = {
            "sha256": digest,
            "codec": codec,
            "size": len(body),
            "stored_size": len(data),
            "content_type": content_type,
            "base_sha256": base,
            "depth": depth,
            "data": data,
            "created_at": datetime.now(UTC),
        }
        with self._write() as session:
            session.execute(
                self._insert(Capture)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["sha256"])
            )
        return digest

    def _compress(self, body: bytes, base_sha256: str | None) -> tuple[str, bytes, str | None, int]:
        level = int(self.settings.capture_compression_level)
        plain = zstandard.ZstdCompressor(level=level).compress(body)
        if base_sha256 is None:
            return "zstd", plain, None, 0
        with self._read() as session:
            base_depth = session.scalar(
                sa.select(Capture.depth).where(Capture.sha256 == base_sha256)
            )
        if base_depth is None:
            log.warning("delta base capture %s not found; storing plain zstd", base_sha256)
            return "zstd", plain, None, 0
        if base_depth >= int(self.settings.capture_max_delta_chain):
            # Bound the chain so loading a capture never replays an article's whole history.
            return "zstd", plain, None, 0
        dictionary = zstandard.ZstdCompressionDict(
            self.load_capture(base_sha256), dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        delta = zstandard.ZstdCompressor(level=level, dict_data=dictionary).compress(body)
        if len(delta) < len(plain):
            return "zstd-delta", delta, base_sha256, base_depth + 1
        return "zstd", plain, None, 0

    def load_capture(self, sha256: str) -> bytes:
        """The original bytes of a capture; CaptureNotFoundError if absent."""
        chain: list[Capture] = []
        with self._read() as session:
            wanted: str | None = sha256
            while wanted is not None:
                capture = session.get(Capture, wanted)
                if capture is None:
                    if not chain:
                        raise CaptureNotFoundError(f"no capture with sha256 {sha256!r}")
                    raise ArchiveError(
                        f"capture {chain[-1].sha256} refers to missing base {wanted}"
                    )
                chain.append(capture)
                wanted = capture.base_sha256 if capture.codec == "zstd-delta" else None
        body = b""
        for capture in reversed(chain):
            if capture.codec == "zstd":
                body = zstandard.ZstdDecompressor().decompress(capture.data)
            elif capture.codec == "zstd-delta":
                dictionary = zstandard.ZstdCompressionDict(
                    body, dict_type=zstandard.DICT_TYPE_RAWCONTENT
                )
                body = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(capture.data)
            else:
                raise ArchiveError(f"capture {capture.sha256} has unknown codec {capture.codec!r}")
        if hashlib.sha256(body).hexdigest() != sha256:
            raise ArchiveError(f"capture {sha256} is corrupt: its content no longer matches")
        return body

    def get_capture(self, sha256: str) -> Capture | None:
        """The capture row (metadata and compressed data), or None."""
        with self._read() as session:
            return session.get(Capture, sha256)

    # --- articles ---------------------------------------------------------------

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

    def find_article(self, url: str) -> Article | None:
        """The article whose canonical URL or alias is ``url`` (already canonicalised)."""
        with self._read() as session:
            return self._find(session, url)

    def get_article(self, article_id: int) -> Article | None:
        with self._read() as session:
            return session.get(Article, article_id)

    def get_or_create_article(
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
        with self._write() as session:
            article = self._find(session, canonical_url)
            if article is not None:
                return article, False
            stmt = (
                self._insert(Article)
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

    def track_articles(
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
        with self._write() as session:
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
                    self._insert(Article)
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

    def _lock_article(self, session: Session, article_id: int) -> Article:
        article = session.scalars(
            sa.select(Article).where(Article.id == article_id).with_for_update()
        ).first()
        if article is None:
            raise ArticleNotFoundError(f"no article with id {article_id}")
        return article

    def add_aliases(self, article_id: int, urls: Iterable[str]) -> None:
        """Record other URLs of an article; URLs already known anywhere are skipped."""
        wanted = sorted({u for u in urls if isinstance(u, str) and u.strip()})
        with self._write() as session:
            article = self._lock_article(session, article_id)
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
                    self._insert(Alias).values(rows).on_conflict_do_nothing(index_elements=["url"])
                )

    def merge_article(self, article_id: int, *, into: int) -> None:
        """Fold one article into another that turned out to be the same story.

        Its URL and aliases become aliases of ``into``, its fetch log follows,
        and both version histories are merged in fetch order; nothing is lost.
        """
        if article_id == into:
            raise InvalidInputError(f"cannot merge article {article_id} into itself")
        with self._write() as session:
            # Lock in id order so two opposite merges cannot deadlock on Postgres.
            locked = {a: self._lock_article(session, a) for a in sorted((article_id, into))}
            old, target = locked[article_id], locked[into]
            session.execute(
                sa.update(Alias).where(Alias.article_id == old.id).values(article_id=target.id)
            )
            session.execute(
                sa.update(Fetch).where(Fetch.article_id == old.id).values(article_id=target.id)
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
            if self.dialect == "sqlite":
                session.execute(
                    sa.text("DELETE FROM article_fts WHERE rowid = :id"), {"id": old.id}
                )
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
                self._index(session, target.id, latest)  # type: ignore[arg-type]

    def aliases(self, article_id: int) -> list[str]:
        with self._read() as session:
            return list(
                session.scalars(
                    sa.select(Alias.url).where(Alias.article_id == article_id).order_by(Alias.id)
                )
            )

    def add_version(self, article_id: int, new: NewVersion) -> Version | None:
        """Store a new version unless its fingerprint equals the latest one (then None)."""
        _check_new_version(new)
        with self._write() as session:
            article = self._lock_article(session, article_id)
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
                article_id=article_id,
                number=article.latest_version + 1,
                fetched_at=new.fetched_at,
                title=new.title,
                byline=new.byline,
                published=new.published,
                modified=new.modified,
                language=new.language,
                section=new.section,
                image_url=new.image_url,
                canonical_url=new.canonical_url,
                description=new.description,
                text=new.text,
                text_sha256=new.text_sha256,
                fingerprint=new.fingerprint,
                capture_sha256=new.capture_sha256,
                fetch_id=new.fetch_id,
                words_added=new.words_added,
                words_removed=new.words_removed,
                change=new.change,
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
            self._index(session, article_id, version)
            return version

    def _index(self, session: Session, article_id: int, version: Version) -> None:
        params = {
            "id": article_id,
            "version_id": version.id,
            "title": version.title or "",
            "byline": version.byline or "",
            "text": version.text,
        }
        if self.dialect == "sqlite":
            session.execute(sa.text("DELETE FROM article_fts WHERE rowid = :id"), params)
            session.execute(
                sa.text(
                    "INSERT INTO article_fts(rowid, title, byline, text)"
                    " VALUES (:id, :title, :byline, :text)"
                ),
                params,
            )
            return
        session.execute(
            sa.text(
                "INSERT INTO article_search(article_id, version_id, document) VALUES (:id, :version_id,"
                " setweight(to_tsvector('simple', :title), 'A')"
                " || setweight(to_tsvector('simple', :byline), 'B')"
                " || setweight(to_tsvector('simple', :text), 'C'))"
                " ON CONFLICT (article_id) DO UPDATE"
                " SET version_id = excluded.version_id, document = excluded.document"
            ),
            params,
        )

    def mark_checked(
        self,
        article_id: int,
        *,
        checked_at: datetime,
        ok: bool,
        next_check_at: datetime | None,
        etag: str | None = None,
        last_modified: str | None = None,
        body_sha256: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record a revisit: resets or counts failures and sets the next check."""
        with self._write() as session:
            article = self._lock_article(session, article_id)
            article.last_checked_at = checked_at
            article.next_check_at = next_check_at
            if etag is not None:
                article.etag = etag
            if last_modified is not None:
                article.last_modified = last_modified
            if body_sha256 is not None:
                article.body_sha256 = body_sha256
            if ok:
                article.failures = 0
                article.last_error = None
                article.status = "active" if next_check_at is not None else "done"
                return
            article.failures += 1
            article.last_error = error
            if article.failures >= int(self.settings.max_article_failures):
                article.status = "failed"
            elif next_check_at is None:
                # Failing and no further check planned: it will never be archived now.
                article.status = "failed"

    def record_delivery(self, article_id: int) -> int:
        """Count one more delivery of the article's task; returns the new count."""
        with self._write() as session:
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
        with self._write() as session:
            result = session.execute(
                sa.update(Article).where(Article.id == article_id).values(deliveries=0)
            )
            if result.rowcount == 0:
                raise ArticleNotFoundError(f"no article with id {article_id}")

    def due_articles(self, now: datetime, limit: int = 100) -> list[Article]:
        """Active articles whose next check is due, oldest due first."""
        with self._read() as session:
            return list(
                session.scalars(
                    _due_query(now).order_by(Article.next_check_at, Article.id).limit(limit)
                )
            )

    def count_due(self, now: datetime) -> int:
        """How many active articles are due for a check at ``now``."""
        with self._read() as session:
            return session.scalar(_due_query(now).with_only_columns(sa.func.count())) or 0

    def next_due_at(self) -> datetime | None:
        with self._read() as session:
            return session.scalar(
                sa.select(sa.func.min(Article.next_check_at)).where(Article.status == "active")
            )

    # --- versions ---------------------------------------------------------------

    def versions(self, article_id: int) -> list[Version]:
        with self._read() as session:
            return list(
                session.scalars(
                    sa.select(Version)
                    .where(Version.article_id == article_id)
                    .order_by(Version.number)
                )
            )

    def get_version(self, article_id: int, number: int | None = None) -> Version | None:
        """Version ``number`` of an article, or its latest version."""
        query = sa.select(Version).where(Version.article_id == article_id)
        if number is None:
            query = query.order_by(Version.number.desc()).limit(1)
        else:
            query = query.where(Version.number == number)
        with self._read() as session:
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
        with self._read() as session:
            return list(session.scalars(query))

    def count_articles(self) -> int:
        with self._read() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(Article)) or 0

    def count_versions(self) -> int:
        with self._read() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(Version)) or 0

    # --- reporting --------------------------------------------------------------

    def status(self, *, now: datetime, recent: timedelta = timedelta(hours=24)) -> dict[str, Any]:
        """A JSON-ready summary of the archive for `editions status`."""
        count = sa.func.count()
        with self._read() as session:
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
                "due": session.scalar(_due_query(now).with_only_columns(count)),
                "next_due": _iso(next_due),
                "failed": session.scalar(
                    sa.select(count).select_from(Article).where(Article.status == "failed")
                ),
            }

    def iter_articles(self, batch: int = 200) -> Iterator[dict[str, Any]]:
        """Every article with its aliases and versions, as JSON-ready dicts, oldest first."""
        last_id = 0
        while True:
            with self._read() as session:
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

    # --- search -----------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        language: str | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """Full-text search over the latest version of every article, best first."""
        parsed = fts.parse_query(query, max_length=int(self.settings.search_max_query_length))
        if not isinstance(limit, int) or limit < 1:
            raise SearchQueryError(f"limit must be a positive whole number, got {limit!r}")
        where = []
        params: dict[str, Any] = {"limit": limit}
        binds = [sa.bindparam("limit", type_=sa.Integer)]
        if source is not None:
            where.append("a.source = :source")
            params["source"] = source
        if language is not None:
            # Languages are stored as lower-case codes; comparing the bare column lets
            # Postgres use its statistics (lower(column) has none and misleads the planner).
            where.append("a.language = lower(:language)")
            params["language"] = language
        for name, value, op in (("since", since, ">="), ("until", until, "<=")):
            if value is not None:
                where.append(f"coalesce(a.published, a.first_seen_at) {op} :{name}")
                params[name] = value
                binds.append(sa.bindparam(name, type_=UTCDateTime))
        filters = "".join(f" AND {w}" for w in where)
        if self.dialect == "sqlite":
            rows = self._search_sqlite(parsed, filters, params, binds)
        else:
            rows = self._search_postgres(parsed, filters, params, binds)
        if not rows:
            return []
        with self._read() as session:
            articles = {
                a.id: a
                for a in session.scalars(
                    sa.select(Article).where(Article.id.in_([r[0] for r in rows]))
                )
            }
        hits = []
        for article_id, score, text_snippet, title_snippet in rows:
            article = articles.get(article_id)
            if article is None:  # deleted between the two reads
                continue
            snippet = text_snippet or ""
            if _OPEN not in snippet and title_snippet and _OPEN in title_snippet:
                snippet = title_snippet
            hits.append(
                SearchHit(
                    article_id=article_id,
                    url=article.canonical_url,
                    title=article.title,
                    snippet=snippet.replace(_OPEN, "[").replace(_CLOSE, "]"),
                    score=float(score),
                    published=article.published,
                    source=article.source,
                    versions=article.latest_version,
                    language=article.language,
                )
            )
        return hits

    def _search_sqlite(
        self, parsed: fts.Query, filters: str, params: dict[str, Any], binds: list[Any]
    ) -> list[tuple[int, float, str, str]]:
        params = {
            **params,
            "match": fts.to_fts5(parsed),
            "open": _OPEN,
            "close": _CLOSE,
            "window": int(self.settings.search_rank_window),
        }
        # Rank within the newest SEARCH_RANK_WINDOW matches: a very broad query then
        # costs the same at 100k articles as at 10k (see the setting's comment).
        ranked_sql = sa.text(
            f"SELECT a.id, -{_BM25} AS score FROM article_fts JOIN article a ON a.id = article_fts.rowid"
            # The window is a rowid floor, a range FTS5 applies while it scans; an
            # `IN (ids)` list would re-run the full-text query once per id.
            f" WHERE article_fts MATCH :match{filters} AND article_fts.rowid >="
            " (SELECT coalesce(min(w.id), 0) FROM (SELECT article_fts.rowid AS id"
            "  FROM article_fts JOIN article a ON a.id = article_fts.rowid"
            f"  WHERE article_fts MATCH :match{filters}"
            "  ORDER BY article_fts.rowid DESC LIMIT :window) AS w)"
            f" ORDER BY {_BM25}, a.id LIMIT :limit"
        ).bindparams(*binds, sa.bindparam("window", type_=sa.Integer))
        with self._read() as session:
            try:
                ranked = session.execute(ranked_sql, params).all()
                if not ranked:
                    return []
                # Snippets only for the hits we return, not for every match.
                snippet_sql = sa.text(
                    "SELECT rowid, snippet(article_fts, 2, :open, :close, '…', 12),"
                    " snippet(article_fts, 0, :open, :close, '…', 12)"
                    " FROM article_fts WHERE article_fts MATCH :match AND rowid IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True))
                snippets = {
                    row[0]: (row[1], row[2])
                    for row in session.execute(
                        snippet_sql, {**params, "ids": [r[0] for r in ranked]}
                    )
                }
            except sa.exc.OperationalError as exc:
                # parse_query should make this unreachable; never leak a raw SQLite error.
                raise SearchQueryError(
                    f"cannot search for {params['match']!r}: {exc.orig}"
                ) from exc
        return [(i, s, *snippets.get(i, ("", ""))) for i, s in ranked]

    def _search_postgres(
        self, parsed: fts.Query, filters: str, params: dict[str, Any], binds: list[Any]
    ) -> list[tuple[int, float, str, str]]:
        tsquery, query_params = fts.to_tsquery_sql(parsed)
        # Rank and limit first; ts_headline is costly, so only the top hits get one.
        # Three steps, each bounded: the newest SEARCH_RANK_WINDOW matches (the GIN
        # index finds them without reading documents), ranking within those (reading
        # each tsvector is the costly part), then headlines for the top hits only.
        join = " JOIN article a ON a.id = s.article_id" if filters else ""
        tsquery = f"({tsquery})"
        sql = sa.text(
            # MATERIALIZED keeps the planner on the GIN index: without the fence it may
            # walk the primary key backwards, reading every document, for a rare word.
            "WITH matches AS MATERIALIZED ("
            f"  SELECT s.article_id FROM article_search s{join}"
            f"  WHERE s.document @@ {tsquery}{filters}),"
            " window_ AS (SELECT article_id FROM matches ORDER BY article_id DESC LIMIT :window),"
            " top AS ("
            f"  SELECT s.article_id, s.version_id, ts_rank_cd(s.document, {tsquery}) AS score"
            "   FROM article_search s JOIN window_ w ON w.article_id = s.article_id"
            "   ORDER BY score DESC, s.article_id LIMIT :limit)"
            " SELECT top.article_id, top.score,"
            f" ts_headline('simple', v.text, {tsquery}, :headline),"
            f" ts_headline('simple', coalesce(v.title, ''), {tsquery}, :headline)"
            " FROM top JOIN version v ON v.id = top.version_id"
            " ORDER BY top.score DESC, top.article_id"
        ).bindparams(*binds, sa.bindparam("window", type_=sa.Integer))
        values = {
            **params,
            **query_params,
            "headline": _HEADLINE,
            "window": int(self.settings.search_rank_window),
        }
        with self._read() as session:
            rows = session.execute(sql, values).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _due_query(now: datetime) -> Any:
    return sa.select(Article).where(Article.status == "active", Article.next_check_at <= now)


def _check_new_version(new: NewVersion) -> None:
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _jsonable(model: SQLModel) -> dict[str, Any]:
    record = {}
    for column in sa.inspect(type(model)).columns:
        value = getattr(model, column.key)
        record[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return record
