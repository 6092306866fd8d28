"""The archive on the real databases: every test runs on SQLite and on Postgres."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from editions.settings import Settings
from storage import (
    Archive,
    ArticleNotFoundError,
    CaptureNotFoundError,
    DatabaseURLError,
    InvalidInputError,
    NewVersion,
    UnknownSourceError,
    create_engine,
    upgrade,
)
from storage.archive import Check, FetchEntry, Ingest, Ingested
from storage.migrate import current_revision, head_revision, include_object
from storage.models import Fetch, SQLModel

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def new_version(
    text: str, *, title: str | None = "A title", at: datetime = T0, **extra: Any
) -> NewVersion:
    values: dict[str, Any] = {
        "fetched_at": at,
        "title": title,
        "byline": "Ada Reporter",
        "published": T0 - timedelta(hours=1),
        "modified": None,
        "language": "en",
        "section": "World",
        "image_url": None,
        "canonical_url": None,
        "description": None,
        "text": text,
        "text_sha256": hashlib.sha256(str(text).encode()).hexdigest(),
        "fingerprint": hashlib.sha256(f"{title}\n{text}".encode()).hexdigest(),
        "capture_sha256": None,
        "fetch_id": None,
    }
    values.update(extra)
    return NewVersion(**values)


@pytest.fixture
def archive(database_url: str) -> Iterator[Archive]:
    with Archive(database_url) as a:
        yield a


def run_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Run target(i) in `count` threads released at the same moment; re-raise any error."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# --- migrations ---------------------------------------------------------------------


# Alembic cannot reflect the expression index; it is created by hand in the migration.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_create_schema_and_are_idempotent(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # a second run finds the schema at head and does nothing
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            tables = set(sa.inspect(conn).get_table_names())
            assert {"source", "article", "alias", "capture", "fetch", "version"} <= tables
            search_table = "article_fts" if engine.dialect.name == "sqlite" else "article_search"
            assert search_table in tables
            # The hand-written migration and the models describe the same schema.
            context = MigrationContext.configure(
                conn, opts={"include_object": include_object, "compare_type": True}
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_archive_migrates_on_first_use(database_url: str) -> None:
    with Archive(database_url) as archive:
        assert archive.count_articles() == 0
        assert archive.dialect in {"sqlite", "postgresql"}


def test_unsupported_database_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseURLError, match="unsupported database 'mysql'"):
        Archive("mysql://user@127.0.0.1/db")
    with pytest.raises(DatabaseURLError, match="not a database URL"):
        Archive("definitely not a url")


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Any) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'x.db'}", settings=Settings(sqlite_busy_timeout=7.5)
    )
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7500
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


# --- articles and aliases -----------------------------------------------------------


def test_datetimes_come_back_as_aware_utc(archive: Archive) -> None:
    paris = datetime(2024, 3, 1, 13, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Paris")
    )
    article, _ = archive.get_or_create_article("https://news.test/a", source="s", seen_at=paris)
    stored = archive.get_article(article.id)
    assert stored is not None
    assert stored.first_seen_at == datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
    assert stored.first_seen_at.utcoffset() == timedelta(0)


def test_get_or_create_article_race_creates_one_row(database_url: str) -> None:
    archives = [Archive(database_url) for _ in range(6)]
    try:
        results = run_threads(
            6,
            lambda i: archives[i].get_or_create_article(
                "https://news.test/race", source="s", seen_at=T0, next_check_at=T0
            ),
        )
        assert len({article.id for article, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        assert archives[0].count_articles() == 1
    finally:
        for a in archives:
            a.close()


def test_aliases(archive: Archive) -> None:
    first, created = archive.get_or_create_article("https://news.test/a", source="s", seen_at=T0)
    other, _ = archive.get_or_create_article("https://news.test/b", source="s", seen_at=T0)
    assert created
    archive.add_aliases(first.id, ["https://news.test/a?amp=1", "https://m.news.test/a"])
    # Already an alias, a canonical URL, or duplicated: all silently skipped.
    archive.add_aliases(
        other.id, ["https://m.news.test/a", "https://news.test/a", "https://news.test/b2"]
    )
    archive.add_aliases(first.id, ["https://news.test/a?amp=1"])
    assert archive.aliases(first.id) == ["https://m.news.test/a", "https://news.test/a?amp=1"]
    assert archive.aliases(other.id) == ["https://news.test/b2"]
    found = archive.find_article("https://m.news.test/a")
    assert found is not None and found.id == first.id
    assert archive.find_article("https://news.test/b").id == other.id  # type: ignore[union-attr]
    assert archive.find_article("https://news.test/unknown") is None
    # Meeting an alias again must not create a duplicate article.
    again, created = archive.get_or_create_article(
        "https://news.test/a?amp=1", source="s", seen_at=T0
    )
    assert (again.id, created) == (first.id, False)


def test_aliases_for_unknown_article_is_a_clear_error(archive: Archive) -> None:
    with pytest.raises(ArticleNotFoundError, match="no article with id 999"):
        archive.add_aliases(999, ["https://news.test/x"])


# --- versions -----------------------------------------------------------------------


def test_add_version_first_unchanged_changed_and_revert(archive: Archive) -> None:
    article, _ = archive.get_or_create_article("https://news.test/v", source="s", seen_at=T0)
    first = archive.add_version(article.id, new_version("Original text.", change="first version"))
    assert first is not None and first.number == 1
    assert archive.add_version(article.id, new_version("Original text.")) is None
    second = archive.add_version(
        article.id, new_version("Edited text.", title="New title", at=T0 + timedelta(hours=1))
    )
    assert second is not None and second.number == 2
    third = archive.add_version(
        article.id, new_version("Original text.", at=T0 + timedelta(hours=2))
    )
    assert third is not None and third.number == 3  # a revert is an edit too
    assert [v.number for v in archive.versions(article.id)] == [1, 2, 3]
    assert [v.text for v in archive.versions(article.id)] == [
        "Original text.",
        "Edited text.",
        "Original text.",
    ]
    assert archive.get_version(article.id).number == 3  # type: ignore[union-attr]
    assert archive.get_version(article.id, 2).title == "New title"  # type: ignore[union-attr]
    assert archive.get_version(article.id, 9) is None
    stored = archive.get_article(article.id)
    assert stored is not None
    assert stored.latest_version == 3
    assert stored.title == "A title"
    assert stored.last_changed_at == T0 + timedelta(hours=2)
    assert archive.count_versions() == 3


def test_racing_identical_versions_store_one(database_url: str) -> None:
    archives = [Archive(database_url) for _ in range(4)]
    try:
        article, _ = archives[0].get_or_create_article(
            "https://news.test/r", source="s", seen_at=T0
        )
        archives[0].add_version(article.id, new_version("Before."))
        results = run_threads(
            4, lambda i: archives[i].add_version(article.id, new_version("After."))
        )
        assert sum(r is not None for r in results) == 1
        assert [v.number for v in archives[0].versions(article.id)] == [1, 2]
    finally:
        for a in archives:
            a.close()


def test_racing_ingests_of_one_article_store_one_version(database_url: str) -> None:
    archives = [Archive(database_url) for _ in range(4)]
    try:
        article, _ = archives[0].get_or_create_article(
            "https://news.test/ingest", source="s", seen_at=T0
        )
        body = page(40)

        def ingest(i: int) -> Ingested:
            capture = archives[i].prepare_capture(body, content_type="text/html")
            fetch = FetchEntry(
                url="https://news.test/ingest",
                source="s",
                kind="article",
                started_at=T0,
                duration=0.1,
                status=200,
                size=len(body),
                outcome="ok",
                article_id=article.id,
                capture_sha256=capture.sha256,
            )
            check = Check(checked_at=T0, ok=True, next_check_at=T0 + timedelta(hours=1))
            version = new_version("Body.", capture_sha256=capture.sha256)
            return archives[i].record_ingest(
                Ingest(article.id, fetch, check=check, capture=capture, version=version)
            )

        results = run_threads(4, ingest)
        stored = [r.version for r in results if r.version is not None]
        assert len(stored) == 1
        assert stored[0].fetch_id in {r.fetch_id for r in results}
        assert len({r.fetch_id for r in results}) == 4
        status = archives[0].status(now=T0)
        assert (status["versions"], status["captures"]) == (1, 1)
        assert status["fetches_by_outcome"] == {"ok": 4}
        checked = archives[0].get_article(article.id)
        assert checked is not None and checked.next_check_at == T0 + timedelta(hours=1)
    finally:
        for a in archives:
            a.close()


def test_add_version_rejects_bad_input(archive: Archive) -> None:
    article, _ = archive.get_or_create_article("https://news.test/bad", source="s", seen_at=T0)
    with pytest.raises(InvalidInputError, match="fingerprint is empty"):
        archive.add_version(article.id, new_version("x", fingerprint=""))
    with pytest.raises(InvalidInputError, match="text must be a string"):
        archive.add_version(article.id, new_version("x").model_copy(update={"text": b"bytes"}))
    with pytest.raises(ArticleNotFoundError):
        archive.add_version(12345, new_version("x"))
    with pytest.raises(InvalidInputError, match="canonical_url"):
        archive.get_or_create_article("", source=None, seen_at=T0)
    assert archive.count_versions() == 0


# --- captures -----------------------------------------------------------------------


def page(n: int, edit: str = "") -> bytes:
    paragraphs = "".join(
        f"<p>Paragraph {i}: the council met on day {i * 7 % 31} to discuss item {i**2}.</p>"
        for i in range(n)
    )
    return f"<html><body><h1>Title</h1>{paragraphs}{edit}</body></html>".encode()


def test_captures_are_content_addressed_compressed_and_round_trip(archive: Archive) -> None:
    body = page(200)
    digest = archive.store_capture(body, content_type="text/html")
    assert digest == hashlib.sha256(body).hexdigest()
    assert archive.store_capture(body, content_type="text/html") == digest
    assert archive.status(now=T0)["captures"] == 1
    assert archive.load_capture(digest) == body
    capture = archive.get_capture(digest)
    assert capture is not None
    assert capture.codec == "zstd" and capture.size == len(body)
    assert capture.stored_size < len(body) // 5


def test_racing_identical_captures_store_one(database_url: str) -> None:
    archives = [Archive(database_url) for _ in range(4)]
    try:
        body = page(50)
        digests = run_threads(4, lambda i: archives[i].store_capture(body))
        assert len(set(digests)) == 1
        assert archives[0].status(now=T0)["captures"] == 1
    finally:
        for a in archives:
            a.close()


def test_small_edit_is_stored_as_a_small_delta(archive: Archive) -> None:
    before = page(300)
    after = page(300, edit="<p>Correction: the meeting was on Tuesday.</p>")
    base = archive.store_capture(before)
    digest = archive.store_capture(after, base_sha256=base)
    capture = archive.get_capture(digest)
    plain = archive.get_capture(base)
    assert capture is not None and plain is not None
    assert capture.codec == "zstd-delta" and capture.base_sha256 == base
    assert capture.stored_size * 10 < plain.stored_size
    assert archive.load_capture(digest) == after


def test_delta_chains_are_bounded(database_url: str) -> None:
    with Archive(database_url, settings=Settings(capture_max_delta_chain=2)) as archive:
        digest = archive.store_capture(page(100))
        codecs = []
        for i in range(4):
            digest = archive.store_capture(page(100, edit=f"<p>edit {i}</p>"), base_sha256=digest)
            codecs.append(archive.get_capture(digest).codec)  # type: ignore[union-attr]
        assert codecs == ["zstd-delta", "zstd-delta", "zstd", "zstd-delta"]
        assert archive.load_capture(digest) == page(100, edit="<p>edit 3</p>")


def test_missing_capture_and_bad_body_are_clear_errors(archive: Archive) -> None:
    with pytest.raises(CaptureNotFoundError, match="no capture with sha256 'abc'"):
        archive.load_capture("abc")
    with pytest.raises(KeyError):
        archive.load_capture("abc")
    with pytest.raises(InvalidInputError, match="must be bytes"):
        archive.store_capture("text")  # type: ignore[arg-type]
    # An unknown delta base is not fatal: the body is stored whole.
    digest = archive.store_capture(b"hello", base_sha256="0" * 64)
    assert archive.get_capture(digest).codec == "zstd"  # type: ignore[union-attr]


# --- revisits -----------------------------------------------------------------------


def test_mark_checked_counts_failures_and_sets_status(database_url: str) -> None:
    with Archive(database_url, settings=Settings(max_article_failures=3)) as archive:
        article, _ = archive.get_or_create_article("https://news.test/m", source="s", seen_at=T0)
        later = T0 + timedelta(hours=1)
        archive.mark_checked(
            article.id, checked_at=T0, ok=True, next_check_at=later, etag='"v1"', body_sha256="aa"
        )
        archive.mark_checked(
            article.id, checked_at=T0, ok=False, next_check_at=later, error="HTTP 503"
        )
        archive.mark_checked(
            article.id, checked_at=T0, ok=False, next_check_at=later, error="HTTP 503"
        )
        stored = archive.get_article(article.id)
        assert stored is not None
        assert (stored.failures, stored.status, stored.last_error) == (2, "active", "HTTP 503")
        assert (stored.etag, stored.body_sha256) == ('"v1"', "aa")  # not overwritten by None
        archive.mark_checked(article.id, checked_at=T0, ok=True, next_check_at=later, etag='"v2"')
        stored = archive.get_article(article.id)
        assert (stored.failures, stored.status, stored.etag) == (0, "active", '"v2"')  # type: ignore[union-attr]
        for _ in range(3):
            archive.mark_checked(article.id, checked_at=later, ok=False, next_check_at=later)
        stored = archive.get_article(article.id)
        assert (stored.failures, stored.status) == (3, "failed")  # type: ignore[union-attr]
        assert stored.last_checked_at == later  # type: ignore[union-attr]

        done, _ = archive.get_or_create_article("https://news.test/done", source="s", seen_at=T0)
        archive.mark_checked(done.id, checked_at=T0, ok=True, next_check_at=None)
        assert archive.get_article(done.id).status == "done"  # type: ignore[union-attr]
        assert archive.status(now=later)["failed"] == 1


def test_a_removed_page_is_an_event_and_stays_watched(database_url: str) -> None:
    with Archive(database_url, settings=Settings(max_article_failures=2)) as archive:
        article, _ = archive.get_or_create_article("https://news.test/r", source="s", seen_at=T0)
        archive.add_version(article.id, new_version("Text"))
        t1, t2, t3, t4 = (T0 + timedelta(hours=h) for h in (1, 2, 3, 4))
        day = timedelta(days=1)
        gone = {"ok": False, "removed": "removed", "detail": "HTTP 404", "error": "HTTP 404"}
        archive.mark_checked(article.id, checked_at=t1, next_check_at=t1 + day, **gone)
        # The same removal seen again is no new event; failures never make it "failed".
        archive.mark_checked(article.id, checked_at=t2, next_check_at=t2 + day, **gone)
        for _ in range(3):
            archive.mark_checked(
                article.id, checked_at=t2, ok=False, next_check_at=t2 + day, error="timeout"
            )
        stored = archive.get_article(article.id)
        assert stored is not None and stored.status == "removed"
        # Still revisited, sparsely: it may come back.
        assert [a.id for a in archive.due_articles(t2 + day)] == [article.id]
        assert archive.removed_since(article.id) == t1
        moved = {"removed": "moved", "detail": "https://news.test/other"}
        archive.mark_checked(
            article.id, checked_at=t3, ok=False, next_check_at=t3 + day,
            error="moved to https://news.test/other", **moved,
        )
        archive.mark_checked(article.id, checked_at=t4, ok=True, next_check_at=t4 + day)
        events = [(e.at, e.kind, e.detail) for e in archive.events(article.id)]
        assert events == [
            (t1, "removed", "HTTP 404"),
            (t3, "moved", "https://news.test/other"),
            (t4, "restored", None),
        ]
        stored = archive.get_article(article.id)
        assert stored is not None and (stored.status, stored.last_error) == ("active", None)
        assert archive.removed_since(article.id) is None


def test_status_and_listing_split_articles_by_state(database_url: str) -> None:
    with Archive(database_url) as archive:
        urls = {s: f"https://news.test/{s}" for s in ("active", "pending", "failed", "removed")}
        ids = {}
        for state, url in urls.items():
            article, _ = archive.get_or_create_article(
                url, source="wire" if state != "pending" else "other", seen_at=T0
            )
            ids[state] = article.id
            if state in ("active", "removed"):
                archive.add_version(article.id, new_version(f"Text {state}"))
        archive.record_fetch(
            url=urls["failed"], source="wire", kind="article", started_at=T0, duration=0.1,
            status=503, size=0, outcome="http_error", error="HTTP 503", article_id=ids["failed"],
        )
        archive.mark_checked(
            ids["failed"], checked_at=T0, ok=False, next_check_at=None, error="HTTP 503"
        )
        archive.record_fetch(
            url=urls["removed"], source="wire", kind="article", started_at=T0, duration=0.1,
            status=410, size=0, outcome="http_error", error="HTTP 410", article_id=ids["removed"],
        )
        archive.mark_checked(
            ids["removed"], checked_at=T0, ok=False, next_check_at=None, error="HTTP 410",
            removed="removed", detail="HTTP 410",
        )
        status = archive.status(now=T0)
        assert {k: status[k] for k in ("tracked", "archived", "pending", "failed", "removed")} == {
            "tracked": 4, "archived": 1, "pending": 1, "failed": 1, "removed": 1,
        }
        assert status["articles"] == 2  # with versions: the removed one keeps its version
        everything = archive.articles()
        assert [a["url"] for a in everything] == [urls[s] for s in reversed(list(urls))]
        for state in urls:
            listed = archive.articles(state=state)
            assert [(a["url"], a["state"]) for a in listed] == [(urls[state], state)]
        failed = archive.articles(state="failed")[0]
        assert (failed["last_outcome"], failed["last_http_status"]) == ("http_error", 503)
        assert (failed["last_error"], failed["last_fetch_at"]) == ("HTTP 503", T0.isoformat())
        assert archive.articles(state="pending")[0]["last_outcome"] is None
        assert [a["url"] for a in archive.articles(source="other")] == [urls["pending"]]
        assert len(archive.articles(limit=3)) == 3
        with pytest.raises(InvalidInputError):
            archive.articles(state="archived")


def test_merging_an_article_keeps_its_events(archive: Archive) -> None:
    old, _ = archive.get_or_create_article("https://news.test/old", source="s", seen_at=T0)
    new, _ = archive.get_or_create_article("https://news.test/new", source="s", seen_at=T0)
    archive.mark_checked(
        old.id, checked_at=T0, ok=False, next_check_at=None, removed="removed", detail="HTTP 404"
    )
    archive.merge_article(old.id, into=new.id)
    assert [e.kind for e in archive.events(new.id)] == ["removed"]


def test_due_articles_oldest_first(archive: Archive) -> None:
    ids = {}
    for name, offset in [("c", 30), ("a", 10), ("b", 20), ("future", 999), ("none", None)]:
        due = None if offset is None else T0 + timedelta(minutes=offset)
        article, _ = archive.get_or_create_article(
            f"https://news.test/{name}", source="s", seen_at=T0, next_check_at=due
        )
        ids[name] = article.id
    finished, _ = archive.get_or_create_article(
        "https://news.test/finished", source="s", seen_at=T0, next_check_at=T0
    )
    archive.mark_checked(finished.id, checked_at=T0, ok=True, next_check_at=None)
    now = T0 + timedelta(hours=1)
    assert [a.id for a in archive.due_articles(now)] == [ids["a"], ids["b"], ids["c"]]
    assert [a.id for a in archive.due_articles(now, limit=2)] == [ids["a"], ids["b"]]
    assert archive.next_due_at() == T0 + timedelta(minutes=10)
    assert archive.status(now=now)["due"] == 3


def test_due_query_uses_the_status_index_on_sqlite(tmp_path: Any) -> None:
    with Archive(f"sqlite:///{tmp_path / 'plan.db'}") as archive:
        with archive.engine.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM article WHERE status = 'active'"
                " AND next_check_at <= '2024-01-01' ORDER BY next_check_at LIMIT 100"
            ).all()
        detail = " ".join(row[-1] for row in plan)
        assert "USING INDEX ix_article_status_next_check_at" in detail
        assert "TEMP B-TREE" not in detail  # the index also gives the order


def test_record_delivery_counts(archive: Archive) -> None:
    article, _ = archive.get_or_create_article("https://news.test/d", source="s", seen_at=T0)
    assert [archive.record_delivery(article.id) for _ in range(3)] == [1, 2, 3]
    archive.clear_deliveries(article.id)
    assert archive.record_delivery(article.id) == 1
    with pytest.raises(ArticleNotFoundError):
        archive.clear_deliveries(4242)
    with pytest.raises(ArticleNotFoundError):
        archive.record_delivery(4242)


# --- sources, fetch log, status -----------------------------------------------------


@dataclass
class SourceSpec:
    name: str
    url: str
    kind: str
    every: timedelta


def test_sources_sync_and_poll(archive: Archive) -> None:
    archive.sync_sources(
        [SourceSpec("wire", "http://127.0.0.1/feed.xml", "feed", timedelta(minutes=5))]
    )
    archive.sync_sources(
        [SourceSpec("wire", "http://127.0.0.1/rss", "feed", timedelta(minutes=10))]
    )
    source = archive.get_source("wire")
    assert source is not None
    assert (source.url, source.every_seconds) == ("http://127.0.0.1/rss", 600.0)
    archive.mark_source_polled(
        "wire",
        at=T0,
        etag='"e"',
        last_modified=None,
        next_poll_at=T0 + timedelta(minutes=10),
        outcome="ok",
    )
    source = archive.get_source("wire")
    assert (source.etag, source.last_polled_at, source.last_outcome) == ('"e"', T0, "ok")  # type: ignore[union-attr]
    assert archive.get_source("nope") is None
    with pytest.raises(UnknownSourceError, match="no source named 'nope'"):
        archive.mark_source_polled(
            "nope", at=T0, etag=None, last_modified=None, next_poll_at=None, outcome="ok"
        )
    with pytest.raises(InvalidInputError, match="timedelta"):
        archive.sync_sources([SourceSpec("bad", "http://127.0.0.1/", "feed", 60)])  # type: ignore[arg-type]


def test_fetch_log_and_status(archive: Archive) -> None:
    archive.sync_sources(
        [SourceSpec("wire", "http://127.0.0.1/feed.xml", "feed", timedelta(minutes=5))]
    )
    article, _ = archive.get_or_create_article(
        "http://127.0.0.1:8000/a", source="wire", seen_at=T0, next_check_at=T0
    )
    digest = archive.store_capture(b"<html>body</html>", content_type="text/html")
    fetch_id = archive.record_fetch(
        url="http://127.0.0.1:8000/a",
        source="wire",
        kind="article",
        started_at=T0,
        duration=0.25,
        status=200,
        size=17,
        outcome="ok",
        article_id=article.id,
        capture_sha256=digest,
        headers={"Content-Type": "text/html"},
    )
    archive.record_fetch(
        url="http://LOCALHOST:9/x",
        source=None,
        kind="page",
        started_at=T0 - timedelta(days=3),
        duration=1.0,
        status=None,
        size=0,
        outcome="error",
        error="connection refused",
    )
    archive.add_version(
        article.id, new_version("Body text.", fetch_id=fetch_id, capture_sha256=digest)
    )
    status = archive.status(now=T0 + timedelta(minutes=1))
    assert set(status) == {
        "sources",
        "articles",
        "pending",
        "versions",
        "captures",
        "fetches_by_outcome",
        "recent_by_host",
        "due",
        "next_due",
        "failed",
        "tracked",
        "archived",
        "removed",
    }
    assert status["sources"][0]["name"] == "wire" and status["sources"][0]["every"] == 300.0
    assert (status["articles"], status["versions"], status["captures"]) == (1, 1, 1)
    assert status["pending"] == 0
    assert status["fetches_by_outcome"] == {"error": 1, "ok": 1}
    assert status["recent_by_host"] == {"127.0.0.1": {"ok": 1}}  # the old error is not recent
    assert (status["due"], status["next_due"], status["failed"]) == (1, T0.isoformat(), 0)


def test_iter_articles_streams_everything(archive: Archive) -> None:
    for i in range(5):
        article, _ = archive.get_or_create_article(f"https://news.test/{i}", source="s", seen_at=T0)
        archive.add_aliases(article.id, [f"https://news.test/{i}?utm=x"])
        archive.add_version(article.id, new_version(f"Text {i}"))
        archive.add_version(article.id, new_version(f"Text {i} updated"))
    records = list(archive.iter_articles(batch=2))
    assert [r["canonical_url"] for r in records] == [f"https://news.test/{i}" for i in range(5)]
    assert records[3]["aliases"] == ["https://news.test/3?utm=x"]
    assert [v["text"] for v in records[3]["versions"]] == ["Text 3", "Text 3 updated"]
    assert records[0]["first_seen_at"] == T0.isoformat()
    __import__("json").dumps(records)  # JSON-ready


# --- concurrency --------------------------------------------------------------------


def test_concurrent_writers_do_not_fail(database_url: str) -> None:
    """Read-then-write transactions from several connections at once (SQLite: no 'database is locked')."""
    archives = [Archive(database_url) for _ in range(4)]
    try:

        def work(i: int) -> int:
            archive = archives[i]
            for n in range(15):
                article, _ = archive.get_or_create_article(
                    f"https://news.test/{n}", source="s", seen_at=T0
                )
                archive.add_version(article.id, new_version(f"Text {n} by writer {i % 2}"))
                archive.mark_checked(article.id, checked_at=T0, ok=True, next_check_at=T0)
                archive.record_fetch(
                    url=f"https://news.test/{n}",
                    source="s",
                    kind="article",
                    started_at=T0,
                    duration=0.1,
                    status=200,
                    size=10,
                    outcome="ok",
                    article_id=article.id,
                )
            return i

        assert run_threads(4, work) == [0, 1, 2, 3]
        assert archives[0].count_articles() == 15
        assert archives[0].status(now=T0)["fetches_by_outcome"] == {"ok": 60}
        for article in archives[0].due_articles(T0, limit=100):
            numbers = [v.number for v in archives[0].versions(article.id)]
            assert numbers == list(range(1, len(numbers) + 1))
    finally:
        for a in archives:
            a.close()


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    with Archive(url) as writer, Archive(url, settings=Settings(sqlite_busy_timeout=0.2)) as reader:
        article, _ = writer.get_or_create_article("https://news.test/w", source="s", seen_at=T0)
        with writer.engine.begin() as held:  # BEGIN IMMEDIATE: holds the write lock
            held.exec_driver_sql("UPDATE article SET failures = 1")
            # Reads begin deferred and see the last committed state instead of waiting.
            assert reader.get_article(article.id).failures == 0  # type: ignore[union-attr]
            assert reader.search("anything") == []
            # A second writer would wait; with a tiny busy timeout it fails fast and clearly.
            with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                reader.record_delivery(article.id)
        assert reader.get_article(article.id).failures == 1  # type: ignore[union-attr]


def test_merge_article_keeps_everything(archive: Archive) -> None:
    placeholder, _ = archive.get_or_create_article(
        "https://news.test/?p=12", source="s", seen_at=T0
    )
    target, _ = archive.get_or_create_article(
        "https://news.test/story", source="s", seen_at=T0 + timedelta(minutes=5)
    )
    archive.add_aliases(placeholder.id, ["https://news.test/?p=12&amp=1"])
    archive.add_version(placeholder.id, new_version("Early text.", at=T0 + timedelta(minutes=1)))
    archive.add_version(target.id, new_version("Later text.", at=T0 + timedelta(minutes=6)))
    fetch_id = archive.record_fetch(
        url="https://news.test/?p=12",
        source="s",
        kind="article",
        started_at=T0,
        duration=0.1,
        status=200,
        size=1,
        outcome="ok",
        article_id=placeholder.id,
    )
    archive.merge_article(placeholder.id, into=target.id)
    assert archive.get_article(placeholder.id) is None
    assert archive.find_article("https://news.test/?p=12").id == target.id  # type: ignore[union-attr]
    assert set(archive.aliases(target.id)) == {
        "https://news.test/?p=12",
        "https://news.test/?p=12&amp=1",
    }
    assert [(v.number, v.text) for v in archive.versions(target.id)] == [
        (1, "Early text."),
        (2, "Later text."),
    ]
    merged = archive.get_article(target.id)
    assert merged is not None
    assert (merged.latest_version, merged.first_seen_at) == (2, T0)
    assert [h.article_id for h in archive.search("Later")] == [target.id]
    assert archive.search("Early") == []
    with archive.engine.connect() as conn:
        owner = conn.scalar(sa.select(Fetch.article_id).where(Fetch.id == fetch_id))
        assert owner == target.id
    with pytest.raises(InvalidInputError, match="into itself"):
        archive.merge_article(target.id, into=target.id)
    with pytest.raises(ArticleNotFoundError):
        archive.merge_article(placeholder.id, into=target.id)


# --- tracking many links at once ------------------------------------------------


def test_track_articles_registers_only_unknown_urls(archive: Archive) -> None:
    known, _ = archive.get_or_create_article("https://a.test/known", source="s", seen_at=T0)
    archive.add_aliases(known.id, ["https://a.test/known-alias"])
    urls = [
        "https://a.test/new-1",
        "https://a.test/known",
        "https://a.test/known-alias",
        "https://a.test/new-2",
        "https://a.test/new-1",
        "",
    ]
    created = archive.track_articles(urls, source="feed", seen_at=T0, next_check_at=T0)
    assert created == ["https://a.test/new-1", "https://a.test/new-2"]
    assert archive.track_articles(urls, source="feed", seen_at=T0) == []
    new = archive.find_article("https://a.test/new-2")
    assert new is not None and new.latest_version == 0 and new.source == "feed"
    assert [a.canonical_url for a in archive.due_articles(T0, 10)] == [
        "https://a.test/new-1",
        "https://a.test/new-2",
    ]


def test_track_articles_racing_pollers_create_each_url_once(archive: Archive) -> None:
    urls = [f"https://a.test/story-{i}" for i in range(1200)]
    results = run_threads(
        3, lambda i: archive.track_articles(urls, source=f"poller-{i}", seen_at=T0)
    )
    assert sorted(u for created in results for u in created) == sorted(urls)
    assert archive.count_articles() == len(urls)


def test_an_archive_indexed_before_folding_is_reindexed(database_url: str) -> None:
    # An archive at 0001 whose index rows were written the old way (the engines' own
    # tokenizers over the raw text): after the upgrade it answers like a new one.
    from storage.migrate import upgrade_engine

    engine = create_engine(database_url)
    try:
        upgrade_engine(engine, "0001")
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO article (id, canonical_url, first_seen_at, status, failures,"
                    " deliveries, latest_version) VALUES (1, 'https://a.test/1', :now,"
                    " 'active', 0, 0, 1)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO version (id, article_id, number, fetched_at, title, text,"
                    " text_sha256, fingerprint, words_added, words_removed, change)"
                    " VALUES (1, 1, 1, :now, 'Le Café de Flore', 'Un article sur 腾讯的人工智能.',"
                    " 'x', 'x', 0, 0, '')"
                ),
                {"now": now},
            )
            if engine.dialect.name == "sqlite":
                conn.execute(
                    sa.text(
                        "INSERT INTO article_fts(rowid, title, byline, text) VALUES"
                        " (1, 'Le Café de Flore', '', 'Un article sur 腾讯的人工智能.')"
                    )
                )
            else:
                conn.execute(
                    sa.text(
                        "INSERT INTO article_search VALUES (1, 1,"
                        " to_tsvector('simple', 'Le Café de Flore 腾讯的人工智能'))"
                    )
                )
    finally:
        engine.dispose()
    with Archive(database_url) as archive:  # migrates on first use
        assert [h.article_id for h in archive.search("cafe")] == [1]
        assert [h.article_id for h in archive.search("人工智能")] == [1]
        assert [h.article_id for h in archive.search("flore")] == [1]
