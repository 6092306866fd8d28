"""Figure 5: search latency (p50/p95, with snippets) at two archive sizes, SQLite and Postgres.

The archives are built fast, straight through the storage layer's tables in
large transactions (not through the HTTP pipeline): articles with one version
each, text made from windows of the corpus's ground-truth texts with some words
swapped, and the same search index rows ``Archive.add_version`` writes. The big
full-run archives are cached (SQLite file under the temp dir, Postgres database
by name), keyed by ``BUILD_VERSION``; bump it when the build changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.ingest import POSTGRES_ADMIN_URL
from bench.site import CORPUS, CorpusMissing

log = logging.getLogger(__name__)

BUILD_VERSION = "v3"  # v3: the index holds folded tokens (storage.search.index_tokens)
CACHE_DIR = Path(tempfile.gettempdir()) / "editions-bench-cache"
SOURCES = [f"bench-{i}" for i in range(5)]
_WORDS = re.compile(r"\S+")
START = datetime(2018, 1, 1, tzinfo=UTC)

# (query, filters): words, phrases, prefixes, OR/NOT, and filtered searches.
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("government", {}),
    ("police", {}),
    ("president", {}),
    ("million", {}),
    ("water", {}),
    ("school", {}),
    ("music", {}),
    ("court", {}),
    ("security privacy", {}),
    ("company market", {}),
    ('"prime minister"', {}),
    ('"New York"', {}),
    ('"the first time"', {}),
    ('"last year"', {}),
    ('"United States"', {}),
    ("econom*", {}),
    ("elect*", {}),
    ("tech*", {}),
    ("invest*", {}),
    ("politic*", {}),
    ("police OR court", {}),
    ("data -facebook", {}),
    ("police", {"language": "en"}),
    ("city", {"source": "bench-2"}),
    ("government", {"since": datetime(2020, 1, 1, tzinfo=UTC)}),
    ("music", {"until": datetime(2019, 6, 30, tzinfo=UTC)}),
    ('"New York"', {"language": "en", "source": "bench-1"}),
    ("market*", {"since": datetime(2019, 1, 1, tzinfo=UTC)}),
    ("web", {"language": "fr"}),
    ("people", {"source": "bench-4", "until": datetime(2021, 1, 1, tzinfo=UTC)}),
]


def _texts() -> list[tuple[list[str], str]]:
    """(words, language) of every corpus ground-truth text with some length."""
    folder = CORPUS / "articles"
    if not folder.is_dir():
        raise CorpusMissing(f"no corpus pages at {folder}")
    texts = []
    for truth in sorted(folder.glob("*/ground_truth.json")):
        data = json.loads(truth.read_text(encoding="utf-8"))
        words = _WORDS.findall(data.get("text") or "")
        if len(words) >= 80:
            texts.append((words, (data.get("lang") or "en")[:2].lower()))
    return texts


def synthetic_articles(count: int, seed: int = 4) -> Iterator[dict[str, Any]]:
    """``count`` distinct articles: ~250-word windows of real texts, some words swapped."""
    texts = _texts()
    vocabulary = sorted({w for words, _ in texts for w in words if w.isalpha() and len(w) > 3})
    rng = random.Random(seed)
    for i in range(count):
        words, language = texts[i % len(texts)]
        length = min(len(words), rng.randint(150, 350))
        start = rng.randrange(0, len(words) - length + 1)
        chosen = words[start : start + length]
        for _ in range(length // 12):
            chosen[rng.randrange(length)] = vocabulary[rng.randrange(len(vocabulary))]
        text = " ".join(chosen)
        yield {
            "id": i + 1,
            "url": f"https://bench.example/{SOURCES[i % len(SOURCES)]}/{i}",
            "source": SOURCES[i % len(SOURCES)],
            "title": " ".join(chosen[:9]).strip(" .,;:"),
            "text": text,
            "language": language,
            "published": START + timedelta(minutes=37 * i % (6 * 365 * 24 * 60)),
        }


def build_archive(url: str, count: int, batch: int = 5000) -> None:
    """Create the schema at ``url`` and bulk-load ``count`` articles into it."""
    from storage.archive import Archive
    from storage.models import Article, Version
    from storage.search import MAX_POSITIONS, index_tokens, tsvector_literal

    archive = Archive(url)
    engine = archive.engine
    postgres = archive.dialect == "postgresql"
    now = datetime.now(UTC)
    try:
        if postgres:
            with engine.begin() as connection:
                # Build the GIN index once at the end rather than row by row.
                connection.execute(sa.text("DROP INDEX IF EXISTS ix_article_search_document"))
        rows = synthetic_articles(count)
        while True:
            chunk = [row for _, row in zip(range(batch), rows, strict=False)]
            if not chunk:
                break
            articles, versions, index_rows = [], [], []
            for row in chunk:
                digest = hashlib.sha256(row["text"].encode()).hexdigest()
                articles.append(
                    {
                        "id": row["id"], "canonical_url": row["url"], "source": row["source"],
                        "first_seen_at": row["published"], "status": "active", "failures": 0,
                        "deliveries": 0, "latest_version": 1, "title": row["title"],
                        "published": row["published"], "language": row["language"],
                        "last_checked_at": now,
                    }
                )  # fmt: skip
                versions.append(
                    {
                        "id": row["id"], "article_id": row["id"], "number": 1,
                        "fetched_at": now, "title": row["title"], "published": row["published"],
                        "language": row["language"], "text": row["text"], "text_sha256": digest,
                        "fingerprint": digest, "words_added": 0, "words_removed": 0, "change": "",
                    }
                )  # fmt: skip
                # The same index row SearchIndex.index writes.
                title, byline, text = index_tokens([row["title"], "", row["text"]], MAX_POSITIONS)
                index_rows.append(
                    {
                        "id": row["id"],
                        "title": " ".join(title),
                        "byline": " ".join(byline),
                        "text": " ".join(text),
                        "document": tsvector_literal([title, byline, text]),
                    }
                )
            with engine.begin() as connection:
                connection.execute(sa.insert(Article), articles)
                connection.execute(sa.insert(Version), versions)
                if not postgres:
                    connection.execute(
                        sa.text(
                            "INSERT INTO article_fts(rowid, title, byline, text)"
                            " VALUES (:id, :title, :byline, :text)"
                        ),
                        index_rows,
                    )
                else:
                    connection.execute(
                        sa.text(
                            "INSERT INTO article_search(article_id, version_id, document)"
                            " VALUES (:id, :id, CAST(:document AS tsvector))"
                        ),
                        index_rows,
                    )
        if postgres:
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "CREATE INDEX ix_article_search_document ON article_search"
                        " USING gin (document)"
                    )
                )
                connection.execute(sa.text("ANALYZE"))
        else:
            with engine.begin() as connection:
                connection.execute(
                    sa.text("INSERT INTO article_fts(article_fts) VALUES('optimize')")
                )
                connection.execute(sa.text("ANALYZE"))
    finally:
        archive.close()


# --- where the archives live ------------------------------------------------------------


def sqlite_archive(count: int, *, cache: bool, workdir: Path) -> str:
    """A SQLite archive of ``count`` articles (cached across runs when ``cache``)."""
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        path = CACHE_DIR / f"search-{BUILD_VERSION}-{count}.db"
        if not path.exists():
            building = path.with_suffix(".building")
            for leftover in CACHE_DIR.glob(building.name + "*"):
                leftover.unlink()
            build_archive(f"sqlite:///{building}", count)
            _checkpoint(building)
            os.replace(building, path)
        return f"sqlite:///{path}"
    path = workdir / f"search-{count}.db"
    build_archive(f"sqlite:///{path}", count)
    return f"sqlite:///{path}"


def _checkpoint(path: Path) -> None:
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()


def postgres_archive(count: int, *, cache: bool) -> tuple[str, bool]:
    """A Postgres archive of ``count`` articles; True when it is a throwaway to drop."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    name = f"editions_bench_search_{BUILD_VERSION}_{count}"
    if not cache:
        name = f"editions_bench_search_tmp_{os.getpid()}_{count}"
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("select 1 from pg_database where datname = :n"), {"n": name}
            ).first()
            if exists and cache:
                return f"{base}/{name}", False
            building = name + "_building"
            connection.execute(sa.text(f'drop database if exists "{building}" with (force)'))
            connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
            connection.execute(sa.text(f'create database "{building}"'))
        build_archive(f"{base}/{building}", count)
        with admin.connect() as connection:
            connection.execute(sa.text(f'alter database "{building}" rename to "{name}"'))
    finally:
        admin.dispose()
    return f"{base}/{name}", not cache


def drop_postgres(url: str) -> None:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as connection:
        connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


# --- measuring ----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(url: str, repeats: int = 3) -> dict[str, Any]:
    """p50/p95 ms of the 30 queries (each warmed once, then timed ``repeats`` times)."""
    from storage.archive import Archive

    archive = Archive(url, migrate=False)
    timings: list[float] = []
    hits = 0
    slowest = ("", 0.0)
    try:
        for query, filters in QUERIES:
            hits += len(archive.search(query, **filters))
            for _ in range(repeats):
                started = time.perf_counter()
                found = archive.search(query, **filters)
                elapsed = (time.perf_counter() - started) * 1000
                timings.append(elapsed)
                if elapsed > slowest[1]:
                    slowest = (query + (f" {filters}" if filters else ""), elapsed)
                if found and not found[0].snippet:
                    log.warning("no snippet for %r", query)
        articles = archive.count_articles()
    finally:
        archive.close()
    return {
        "articles": articles,
        "p50_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "hits": hits,
        "slowest": slowest[0],
        "slowest_ms": slowest[1],
    }
