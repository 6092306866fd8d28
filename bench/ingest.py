"""Figures 1-3: first ingest, the extraction-only bound, peers, unchanged revisit.

Every rate is articles per second over the same benchmark site, measured in
this run. The embedded mode and the peers run in this one process, the site in
its own (``bench.site.SiteProcess``), the distributed mode in two Celery worker
processes.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from editions.settings import Settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "EDITIONS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BENCH_REDIS_URL = os.environ.get("EDITIONS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def bench_settings(articles: int, **overrides: Any) -> Settings:
    """Settings for a run over the local site: no politeness delay, room for every link."""
    return Settings(
        host_delay=0.0,
        allow_private_addresses=True,
        max_links_per_source=articles + 10,
        revisit_batch=articles,
        **overrides,
    )


def bench_env(articles: int, **extra: str) -> dict[str, str]:
    """The same settings as environment variables, for worker subprocesses."""
    env = dict(os.environ)
    env.update(
        EDITIONS_HOST_DELAY="0",
        EDITIONS_ALLOW_PRIVATE_ADDRESSES="1",
        EDITIONS_MAX_LINKS_PER_SOURCE=str(articles + 10),
        EDITIONS_REVISIT_BATCH=str(articles),
    )
    env.update(extra)
    return env


def bench_sources(feed_url: str, sitemap_url: str) -> list[Any]:
    from schedules.sources import Source

    return [
        Source("bench-feed", feed_url, "feed", timedelta(minutes=10)),
        Source("bench-sitemap", sitemap_url, "sitemap", timedelta(hours=1)),
    ]


@dataclass
class Measured:
    """A rate and what produced it."""

    count: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


# --- figure 1: the extraction-only bound ----------------------------------------------


def extraction_bound(pages: list[tuple[str, bytes]]) -> Measured:
    """The same pages through ``extract_article`` alone, one process, nothing else."""
    from worker.extract import ExtractionError, extract_article

    failed = 0
    started = time.perf_counter()
    for url, body in pages:
        try:
            extract_article(body.decode("utf-8"), url)
        except ExtractionError:
            failed += 1
    return Measured(len(pages), time.perf_counter() - started, {"failed": failed})


# --- figures 1 and 3: embedded first ingest and unchanged revisit -------------------------


def first_ingest(editions: Any, sources: list[Any]) -> Measured:
    """Poll the feed and sitemap, fetch and archive every article: the whole pipeline."""
    started = time.perf_counter()
    report = editions.run_once(sources=sources)
    seconds = time.perf_counter() - started
    counts = report.counts()
    return Measured(counts.get("new", 0), seconds, {"actions": counts})


def unchanged_revisit(editions: Any) -> Measured:
    """Re-fetch every archived article while nothing has changed on the site."""
    started = time.perf_counter()
    results = editions.revisit(all_articles=True)
    seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    for result in results:
        counts[result.action] = counts.get(result.action, 0) + 1
    return Measured(len(results), seconds, {"actions": counts})


# --- figure 2: peers ---------------------------------------------------------------------


def newspaper_loop(urls: list[str]) -> Measured:
    """newspaper4k's own download + parse of every article URL."""
    import newspaper

    offline_public_suffixes()
    failed = 0
    started = time.perf_counter()
    for url in urls:
        try:
            article = newspaper.Article(url, fetch_images=False)
            article.download()
            article.parse()
        except Exception as exc:  # a peer failing on a page counts as a failure, not a crash
            failed += 1
            log.debug("newspaper4k failed on %s: %s", url, exc)
    return Measured(len(urls) - failed, time.perf_counter() - started, {"failed": failed})


def offline_public_suffixes() -> None:
    """Make tldextract (used by newspaper4k) use its bundled suffix list, never the network."""
    import tldextract.tldextract

    if tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls:
        tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())


def trafilatura_loop(urls: list[str]) -> Measured:
    """trafilatura's own ``fetch_url`` + ``extract`` (with metadata) for every URL."""
    import trafilatura
    from trafilatura.settings import use_config

    config = use_config()
    # The benchmark site is on 127.0.0.1, which trafilatura's SSRF guard refuses by default.
    config.set("DEFAULT", "SSRF_PROTECTION", "off")
    failed = 0
    started = time.perf_counter()
    for url in urls:
        downloaded = trafilatura.fetch_url(url, config=config)
        if (
            downloaded is None
            or trafilatura.extract(downloaded, url=url, with_metadata=True) is None
        ):
            failed += 1
    return Measured(len(urls) - failed, time.perf_counter() - started, {"failed": failed})


# --- figure 1: distributed first ingest ------------------------------------------------------


@contextmanager
def fresh_postgres_database(prefix: str = "editions_bench") -> Iterator[str]:
    """A new Postgres database on the local server, dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'create database "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


class DistributedUnavailable(RuntimeError):
    """The distributed mode could not be run here (module missing, worker did not start...)."""


def distributed_ingest(
    feed_url: str, sitemap_url: str, articles: int, *, workers: int = 2, timeout: float = 1800
) -> Measured:
    """Two ``celery -A worker worker`` processes (concurrency 1) on Redis db 14 and Postgres."""
    try:
        import redis
        from celery import Celery

        import worker.tasks  # noqa: F401  (the distributed mode must exist and import)
    except Exception as exc:
        raise DistributedUnavailable(f"worker.tasks does not import: {exc}") from exc
    celery_bin = shutil.which("celery", path=str(Path(sys.executable).parent))
    if celery_bin is None:
        raise DistributedUnavailable("no celery executable beside this Python")
    client = redis.Redis.from_url(BENCH_REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise DistributedUnavailable(f"Redis at {BENCH_REDIS_URL}: {exc}") from exc

    from storage.archive import Archive

    with fresh_postgres_database() as database_url:
        Archive(database_url).close()  # migrate before the workers race to do it
        client.flushdb()
        env = bench_env(
            articles,
            EDITIONS_BROKER_URL=BENCH_REDIS_URL,
            EDITIONS_DATABASE_URL=database_url,
        )
        processes = []
        logs = []
        try:
            for number in range(workers):
                log_file = open(  # noqa: SIM115 (closed in finally)
                    Path(os.environ.get("TMPDIR", "/tmp")) / f"editions-bench-worker{number}.log",
                    "w",
                )
                logs.append(log_file)
                processes.append(
                    subprocess.Popen(
                        [celery_bin, "-A", "worker", "worker", "-Q", "feeds,articles",
                         "--concurrency", "1", "--loglevel", "WARNING",
                         "-n", f"bench{number}-{uuid.uuid4().hex[:6]}@%h"],
                        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
            app = Celery(broker=BENCH_REDIS_URL)
            _wait_for_workers(app, workers, processes)
            started = time.perf_counter()
            for source in bench_sources(feed_url, sitemap_url):
                app.send_task("editions.poll_source", args=[source.as_dict()], queue="feeds")
            done, failed = _wait_for_articles(database_url, articles, processes, timeout)
            seconds = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
            for log_file in logs:
                log_file.close()
            client.flushdb()
    return Measured(done, seconds, {"failed": failed, "workers": workers})


def _wait_for_workers(app: Any, count: int, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise DistributedUnavailable("a Celery worker exited at start (see its log in /tmp)")
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= count:
            return
    raise DistributedUnavailable(f"{count} Celery workers did not answer a ping in 2 minutes")


def _wait_for_articles(
    database_url: str, expected: int, processes: list[subprocess.Popen[bytes]], timeout: float
) -> tuple[int, int]:
    """Wait until both sources were polled and no registered article is still pending.

    Some pages may fold into another article (dedupe), so the count of archived
    articles can end below ``expected``; pending ones are what matters.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    deadline = time.monotonic() + timeout
    done = failed = 0
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                polled = connection.execute(
                    sa.text("select count(*) from source where last_polled_at is not null")
                ).scalar_one()
                done, failed, pending = connection.execute(
                    sa.text(
                        "select count(*) filter (where latest_version > 0),"
                        " count(*) filter (where status = 'failed'),"
                        " count(*) filter (where latest_version = 0 and status <> 'failed')"
                        " from article"
                    )
                ).one()
            if polled >= 2 and done and not pending:
                return done, failed
            if all(p.poll() is not None for p in processes):
                raise DistributedUnavailable("every Celery worker exited during the run")
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise DistributedUnavailable(
        f"only {done} of {expected} articles archived after {timeout:.0f}s"
    )
