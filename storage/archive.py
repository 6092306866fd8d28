"""The archive: the one place the pipeline reads and writes the database.

``Archive`` is a facade over small repositories that share one ``Database``
(engine plus session helper, ``storage.db``), one per concern:

- ``Sources`` (``storage.sources``): what to poll and what the last poll found;
- ``FetchLog`` (``storage.fetchlog``): every HTTP request;
- ``Captures`` (``storage.captures``): raw bodies, compressed, stored once;
- ``Articles`` (``storage.articles``): articles, their aliases, merges;
- ``Versions`` (``storage.versions``): the editions of each article;
- ``DueQueue`` (``storage.due``): when each article is checked next;
- ``Events`` (``storage.events``): an article removed, moved or restored;
- ``Reports`` (``storage.reporting``): status and export;
- ``SearchIndex`` (``storage.search``): the full-text index in both dialects.

Every write runs in one short transaction. On SQLite writes begin with
``BEGIN IMMEDIATE`` (see ``storage.engine``), which serialises writers; on
Postgres, per-article work locks the article row (``SELECT ... FOR UPDATE``)
and inserts that may race use ``ON CONFLICT``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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

from .articles import Articles
from .captures import Captures, PreparedCapture
from .db import Database
from .due import Check, DueQueue
from .engine import create_engine, database_errors, database_url, redact, require_existing
from .events import Events, removed_since
from .fetchlog import FetchEntry, FetchLog
from .migrate import is_current, upgrade, upgrade_engine
from .models import Article, ArticleEvent, Capture, Source, Version
from .reporting import Reports
from .search import SearchHit, SearchIndex
from .sources import Sources
from .templates import learn_in
from .versions import NewVersion, Versions, check_new_version

log = logging.getLogger(__name__)

__all__ = [
    "Archive",
    "ArchiveError",
    "ArticleNotFoundError",
    "CaptureNotFoundError",
    "Check",
    "FetchEntry",
    "Ingest",
    "Ingested",
    "InvalidInputError",
    "NewVersion",
    "SearchHit",
    "SearchQueryError",
    "UnknownSourceError",
    "upgrade",
]


@dataclass
class Ingest:
    """Everything one fetch of an article writes, stored by ``Archive.record_ingest``
    in one transaction under the article's lock."""

    article_id: int
    fetch: FetchEntry
    check: Check | None = None
    # Prepared (hashed, compressed) before the transaction: see Archive.prepare_capture.
    capture: PreparedCapture | None = None
    # Its fetch_id is set to the fetch logged in the same transaction.
    version: NewVersion | None = None
    aliases: Collection[str] = ()
    # What an article's first version teaches its host's template: (host, block prints).
    template: tuple[str, Collection[str]] | None = None


@dataclass
class Ingested:
    """What ``record_ingest`` stored: the fetch id, and the new version unless unchanged."""

    fetch_id: int
    version: Version | None


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
        with database_errors(self.engine.url):
            if migrate and not is_current(self.engine):
                log.info("migrating %s to the newest schema", redact(self.engine.url))
                upgrade_engine(self.engine)
        self.db = Database(self.engine, self.settings)
        self._search = SearchIndex(self.db)
        self._sources = Sources(self.db)
        self._fetches = FetchLog(self.db)
        self._captures = Captures(self.db)
        self._articles = Articles(self.db, self._search)
        self._versions = Versions(self.db, self._search)
        self._due = DueQueue(self.db)
        self._events = Events(self.db)
        self._reports = Reports(self.db)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Archive({self.engine.url.render_as_string(hide_password=True)!r})"

    # Sources.

    def sync_sources(self, sources: Iterable[SourceRecord]) -> None:
        """Insert or update the sources' rows by name."""
        self._sources.sync(sources)

    def get_source(self, name: str) -> Source | None:
        return self._sources.get(name)

    def sources(self) -> list[Source]:
        return self._sources.all()

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
        self._sources.mark_polled(
            name,
            at=at,
            etag=etag,
            last_modified=last_modified,
            next_poll_at=next_poll_at,
            outcome=outcome,
        )

    # The fetch log.

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
        return self._fetches.record(
            FetchEntry(
                url=url,
                source=source,
                kind=kind,
                started_at=started_at,
                duration=duration,
                status=status,
                size=size,
                outcome=outcome,
                error=error,
                article_id=article_id,
                capture_sha256=capture_sha256,
                headers=headers,
            )
        )

    # Raw captures.

    def prepare_capture(
        self, body: bytes, *, content_type: str | None = None, base_sha256: str | None = None
    ) -> PreparedCapture:
        """Hash and compress a body for ``record_ingest``, outside any write transaction."""
        return self._captures.prepare(body, content_type=content_type, base_sha256=base_sha256)

    def store_capture(
        self, body: bytes, *, content_type: str | None = None, base_sha256: str | None = None
    ) -> str:
        """Store a raw body once (by sha256) and return its hex digest (see ``Captures.store``)."""
        return self._captures.store(body, content_type=content_type, base_sha256=base_sha256)

    def load_capture(self, sha256: str) -> bytes:
        """The original bytes of a capture; CaptureNotFoundError if absent."""
        return self._captures.load(sha256)

    def get_capture(self, sha256: str) -> Capture | None:
        """The capture row (metadata and compressed data), or None."""
        return self._captures.get(sha256)

    # Articles and aliases.

    def find_article(self, url: str) -> Article | None:
        """The article whose canonical URL or alias is ``url`` (already canonicalised)."""
        return self._articles.find(url)

    def get_article(self, article_id: int) -> Article | None:
        return self._articles.get(article_id)

    def get_or_create_article(
        self,
        canonical_url: str,
        *,
        source: str | None,
        seen_at: datetime,
        next_check_at: datetime | None = None,
    ) -> tuple[Article, bool]:
        """The article for this URL (canonical or alias), created if new; bool = created."""
        return self._articles.get_or_create(
            canonical_url, source=source, seen_at=seen_at, next_check_at=next_check_at
        )

    def track_articles(
        self,
        urls: Iterable[str],
        *,
        source: str | None,
        seen_at: datetime,
        next_check_at: datetime | None = None,
    ) -> list[str]:
        """Start tracking every URL not yet known; returns the new ones (see ``Articles.track``)."""
        return self._articles.track(
            urls, source=source, seen_at=seen_at, next_check_at=next_check_at
        )

    def add_aliases(self, article_id: int, urls: Iterable[str]) -> None:
        """Record other URLs of an article; URLs already known anywhere are skipped."""
        self._articles.add_aliases(article_id, urls)

    def merge_article(self, article_id: int, *, into: int) -> None:
        """Fold one article into another that turned out to be the same story."""
        self._articles.merge(article_id, into=into)

    def aliases(self, article_id: int) -> list[str]:
        return self._articles.aliases(article_id)

    def count_articles(self) -> int:
        return self._articles.count()

    # Versions.

    def add_version(self, article_id: int, new: NewVersion) -> Version | None:
        """Store a new version unless its fingerprint equals the latest one (then None)."""
        return self._versions.add(article_id, new)

    def versions(self, article_id: int) -> list[Version]:
        return self._versions.of(article_id)

    def get_version(self, article_id: int, number: int | None = None) -> Version | None:
        """Version ``number`` of an article, or its latest version."""
        return self._versions.get(article_id, number)

    def articles_with_text(self, text_sha256: str, *, exclude: int | None = None) -> list[Article]:
        """Articles whose latest version has exactly this (normalised) text."""
        return self._versions.articles_with_text(text_sha256, exclude=exclude)

    def count_versions(self) -> int:
        return self._versions.count()

    # One fetch of an article, in one write.

    def record_ingest(self, ingest: Ingest) -> Ingested:
        """Store a fetch of an article in one write transaction: capture, fetch log,
        aliases, version and next check.

        The article row is locked first (SQLite's BEGIN IMMEDIATE holds the whole
        database; Postgres takes SELECT ... FOR UPDATE), so a racing fetch of the same
        article waits, then finds the version already stored and stores none.
        """
        if ingest.version is not None:
            check_new_version(ingest.version)
        with self.db.write() as session:
            article = self._articles.lock(session, ingest.article_id)
            if ingest.capture is not None:
                self._captures.add(session, ingest.capture)
            fetch_id = self._fetches.add(session, ingest.fetch)
            self._articles.add_aliases_in(session, article, ingest.aliases)
            stored = None
            if ingest.version is not None:
                version = ingest.version.model_copy(update={"fetch_id": fetch_id})
                stored = self._versions.add_in(session, article, version)
            if ingest.check is not None:
                self._due.mark_checked_in(session, article, ingest.check)
            if ingest.template is not None:
                learn_in(session, *ingest.template)
        return Ingested(fetch_id, stored)

    # The due queue.

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
        removed: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record a revisit: resets or counts failures and sets the next check;
        ``removed`` ("removed" or "moved", to ``detail``) marks the page gone."""
        self._due.mark_checked(
            article_id,
            Check(
                checked_at,
                ok,
                next_check_at,
                etag,
                last_modified,
                body_sha256,
                error,
                removed,
                detail,
            ),
        )

    def record_delivery(self, article_id: int) -> int:
        """Count one more delivery of the article's task; returns the new count."""
        return self._due.record_delivery(article_id)

    def clear_deliveries(self, article_id: int) -> None:
        """Reset the delivery count once a delivery finished without killing its worker."""
        self._due.clear_deliveries(article_id)

    def due_articles(self, now: datetime, limit: int = 100) -> list[Article]:
        """Active articles whose next check is due, oldest due first."""
        return self._due.due(now, limit)

    def count_due(self, now: datetime) -> int:
        """How many active articles are due for a check at ``now``."""
        return self._due.count(now)

    def next_due_at(self) -> datetime | None:
        return self._due.next_due_at()

    # Events.

    def events(self, article_id: int) -> list[ArticleEvent]:
        """What happened to an article besides versions (removed, moved, restored), in order."""
        return self._events.of(article_id)

    def removed_since(self, article_id: int) -> datetime | None:
        """When the article's current removal began; None when it is not removed."""
        return removed_since(self._events.of(article_id))

    # Reporting and search.

    def status(self, *, now: datetime, recent: timedelta = timedelta(hours=24)) -> dict[str, Any]:
        """A JSON-ready summary of the archive for `editions status`."""
        return self._reports.status(now=now, recent=recent)

    def articles(
        self, *, state: str | None = None, source: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Tracked articles, newest first, with state, last fetch, outcome and error;
        ``state`` is one of pending, active, failed, removed."""
        return self._reports.articles(state=state, source=source, limit=limit)

    def iter_articles(self, batch: int = 200) -> Iterator[dict[str, Any]]:
        """Every article with its aliases and versions, as JSON-ready dicts, oldest first."""
        return self._reports.iter_articles(batch)

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
        return self._search.search(
            query, source=source, since=since, until=until, language=language, limit=limit
        )
