"""The pipeline end to end over a real local site, on SQLite and on Postgres."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from editions.api import Editions
from editions.demo.site import LocalSite
from editions.settings import Settings
from schedules.sources import Source
from tests.pages import BOILERPLATE, article_html, paragraphs, rss, sitemap
from worker.pipeline import ingest_article

TOPICS = ["the ferry timetable", "the harbour wall", "the lifeboat station"]


def settings() -> Settings:
    return Settings(allow_private_addresses=True, host_delay=0.0, max_retries=0)


def publish(site: LocalSite, slug: str, title: str, paras: list[str], **kwargs: object) -> str:
    url = site.url(f"/news/{slug}")
    page = article_html(
        title=title,
        paragraphs=paras,
        canonical=url,
        amphtml=site.url(f"/amp/news/{slug}"),
        **kwargs,
    )
    site.add(f"/news/{slug}", page)
    amp = article_html(title=title, paragraphs=paras, canonical=url)
    site.add(f"/amp/news/{slug}", amp)
    return url


@pytest.fixture
def newsroom(site: LocalSite) -> dict[str, str]:
    urls = {}
    for i, topic in enumerate(TOPICS):
        urls[topic] = publish(site, f"story-{i}", f"Council decides on {topic}", paragraphs(topic))
    feed_items = [
        (t, u + "?utm_source=rss&utm_medium=feed&fbclid=abc#comments") for t, u in urls.items()
    ]
    site.add("/feed.xml", rss(feed_items), content_type="application/rss+xml")
    site.add("/sitemap.xml", sitemap(list(urls.values())), content_type="application/xml")
    return urls


def sources(site: LocalSite) -> list[Source]:
    return [
        Source(name="feed", url=site.url("/feed.xml"), kind="feed", every=timedelta(minutes=10)),
        Source(name="map", url=site.url("/sitemap.xml"), kind="sitemap", every=timedelta(hours=1)),
    ]


def test_first_ingest_dedupes_and_archives(site, newsroom, database_url):
    with Editions(database_url, settings=settings()) as ed:
        report = ed.run_once(sources=sources(site))
        assert [p.outcome for p in report.polls] == ["ok", "ok"]
        assert report.counts() == {"new": 3}
        status = ed.status()
        assert status["articles"] == 3
        assert status["versions"] == 3
        url = newsroom["the harbour wall"]
        # The feed link with tracking parameters and a fragment is the same article.
        shown = ed.show(url + "?utm_campaign=x#top")
        assert shown["canonical_url"] == url
        assert shown["title"] == "Council decides on the harbour wall"
        assert shown["byline"] == "Dana Whitfield"
        assert "Paragraph 3 about the harbour wall" in shown["text"]
        for junk in BOILERPLATE:
            assert junk not in shown["text"]
        history = ed.history(url)
        assert [v["version"] for v in history["versions"]] == [1]
        # A second pass with nothing changed adds nothing.
        again = ed.run_once(sources=sources(site))
        assert ed.status()["versions"] == 3
        assert all(p.outcome in {"ok", "not_modified"} for p in again.polls)


def test_amp_copy_is_an_alias_not_an_article(site, newsroom, database_url):
    with Editions(database_url, settings=settings()) as ed:
        ed.run_once(sources=sources(site))
        amp_url = site.url("/amp/news/story-1")
        result = ed.revisit([newsroom["the harbour wall"]])[0]
        assert result.action in {"identical", "not_modified"}
        page = Source(
            name="front", url=site.url("/"), kind="page", every=timedelta(minutes=5), allow="/amp/"
        )
        site.add("/", '<html><body><a href="/amp/news/story-1">Harbour</a></body></html>')
        ed.run_once(sources=[page])
        assert ed.status()["articles"] == 3
        assert amp_url in ed.history(newsroom["the harbour wall"])["aliases"]
        assert ed.show(amp_url)["canonical_url"] == newsroom["the harbour wall"]


def test_versions_changed_unchanged_whitespace_identical(site, newsroom, database_url):
    topic = "the ferry timetable"
    url = newsroom[topic]
    paras = paragraphs(topic)
    with Editions(database_url, settings=settings()) as ed:
        ed.run_once(sources=sources(site))

        # Byte-identical body without validators: extraction is skipped.
        site.pages["/news/story-0"].conditional = False
        assert ed.revisit([url])[0].action == "identical"

        # Conditional GET: the server answers 304.
        site.pages["/news/story-0"].conditional = True
        assert ed.revisit([url])[0].action == "not_modified"

        # Whitespace-only change: new bytes, same text, no new version.
        spaced = [p.replace(" ", "  ") + "\n\n" for p in paras]
        publish(site, "story-0", f"Council decides on {topic}", spaced)
        assert ed.revisit([url])[0].action == "unchanged"

        # Boilerplate-only change: no new version either.
        publish(site, "story-0", f"Council decides on {topic}", paras, related=["/x", "/y"])
        assert ed.revisit([url])[0].action == "unchanged"

        # A real edit: a correction paragraph and a new headline.
        correction = "Correction: an earlier version of this article misstated the ferry fares."
        publish(site, "story-0", f"Council delays {topic}", [*paras, correction])
        result = ed.revisit([url])[0]
        assert result.action == "changed" and result.version == 2
        history = ed.history(url)
        assert [v["version"] for v in history["versions"]] == [1, 2]
        assert "title changed" in history["versions"][1]["change"]
        diff = ed.diff(url)
        assert diff["from"] == 1 and diff["to"] == 2
        assert diff["words_added"] >= len(correction.split())
        assert "Correction" in diff["rendered"]
        assert ed.show(url, version=1)["title"] == f"Council decides on {topic}"
        assert ed.status()["versions"] == 4


def test_failures_are_recorded_and_never_stop_the_run(site, newsroom, database_url):
    site.add(
        "/broken-feed.xml", b"<rss><channel><item><title>oops", content_type="application/rss+xml"
    )
    site.add("/news/gone", b"gone", status=410, content_type="text/plain")
    site.add("/image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, content_type="image/png")
    feed = rss([("gone", site.url("/news/gone")), ("png", site.url("/image.png"))])
    site.add("/feed2.xml", feed, content_type="application/rss+xml")
    broken = [
        Source(
            name="broken", url=site.url("/broken-feed.xml"), kind="feed", every=timedelta(minutes=5)
        ),
        Source(name="missing", url=site.url("/nope.xml"), kind="feed", every=timedelta(minutes=5)),
        Source(name="feed2", url=site.url("/feed2.xml"), kind="feed", every=timedelta(minutes=5)),
    ]
    with Editions(database_url, settings=settings()) as ed:
        report = ed.run_once(sources=broken + sources(site))
        outcomes = {p.source: p.outcome for p in report.polls}
        assert outcomes["broken"] == "parse_error"
        assert outcomes["missing"] == "http_error"
        assert outcomes["feed"] == "ok"
        assert report.counts()["new"] == 3
        assert report.counts()["failed"] == 2
        by_outcome = ed.status()["fetches_by_outcome"]
        assert by_outcome["parse_error"] == 1
        assert by_outcome["http_error"] >= 2
        assert by_outcome["bad_content"] == 1
        # The failed articles stay tracked, to be retried later with a backoff.
        due = ed.archive.due_articles(datetime.now(UTC) + timedelta(days=1), 100)
        assert {a.canonical_url for a in due} >= {site.url("/news/gone"), site.url("/image.png")}


def test_new_articles_get_a_next_check(site, newsroom, database_url):
    with Editions(database_url, settings=settings()) as ed:
        ed.run_once(sources=sources(site))
        history = ed.history(newsroom["the lifeboat station"])
        next_check = datetime.fromisoformat(history["next_check_at"])
        assert datetime.now(UTC) < next_check < datetime.now(UTC) + timedelta(hours=1)
        assert ed.archive.due_articles(datetime.now(UTC), 10) == []


def test_same_story_under_two_urls_is_one_article(site, database_url):
    # No rel=canonical: the story is filed under two sections with the same text.
    page = article_html(title="Lighthouse keeper retires", paragraphs=paragraphs("the lighthouse"))
    site.add("/politics/lighthouse", page)
    site.add("/local/lighthouse", page.replace("Home</a>", "Start</a>"))
    other = article_html(title="Short note", paragraphs=["Page not found."])
    site.add("/a/missing", other)
    site.add("/b/missing", other)
    links = ["/politics/lighthouse", "/local/lighthouse", "/a/missing", "/b/missing"]
    site.add("/f.xml", rss([(p, site.url(p)) for p in links]), content_type="application/rss+xml")
    feed = Source(name="f", url=site.url("/f.xml"), kind="feed", every=timedelta(minutes=5))
    with Editions(database_url, settings=settings()) as ed:
        report = ed.run_once(sources=[feed])
        assert report.counts() == {"new": 3, "alias": 1}
        history = ed.history(site.url("/local/lighthouse"))
        assert history["canonical_url"] == site.url("/politics/lighthouse")
        assert site.url("/local/lighthouse") in history["aliases"]
        # Short texts that happen to match are not merged.
        assert ed.show(site.url("/b/missing"))["canonical_url"] == site.url("/b/missing")
        assert ed.status()["articles"] == 3
        assert ed.status()["pending"] == 0


def test_run_once_takes_due_articles_in_batches(site, database_url):
    links = []
    for i in range(5):
        url = site.url(f"/news/batch-{i}")
        site.add(
            f"/news/batch-{i}",
            article_html(title=f"Batch {i}", paragraphs=paragraphs(f"batch {i}"), canonical=url),
        )
        links.append((f"Batch {i}", url))
    site.add("/b.xml", rss(links), content_type="application/rss+xml")
    feed = Source(name="b", url=site.url("/b.xml"), kind="feed", every=timedelta(minutes=5))
    with Editions(database_url, settings=settings().replace(revisit_batch=2)) as ed:
        report = ed.run_once(sources=[feed])
        assert report.counts() == {"new": 5}
        assert ed.archive.count_due(datetime.now(UTC)) == 0


def test_text_nested_past_libxml2s_depth_limit_is_archived(site, database_url):
    # Stored before as a normal version holding the headline only (issue 8, hole 5).
    paras = paragraphs("the breakwater")
    page = article_html(title="Breakwater repairs begin", paragraphs=paras)
    page = page.replace("<p>", "<div>" * 300 + "<p>", 1).replace(
        "</article>", "</div>" * 300 + "</article>"
    )
    site.add("/news/deep", page)
    site.add("/d.xml", rss([("deep", site.url("/news/deep"))]), content_type="application/rss+xml")
    feed = Source(name="d", url=site.url("/d.xml"), kind="feed", every=timedelta(minutes=5))
    with Editions(database_url, settings=settings()) as ed:
        assert ed.run_once(sources=[feed]).counts() == {"new": 1}
        text = ed.show(site.url("/news/deep"))["text"]
    for paragraph in paras:
        assert paragraph in text


# A statement that writes, or takes a write lock (SQLite's BEGIN IMMEDIATE, FOR UPDATE).
_WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|BEGIN IMMEDIATE)\b|\bFOR UPDATE\b", re.I)


class WriteTransactions:
    """Counts the committed transactions on a real engine that wrote or locked for writing."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)
        sa.event.listen(engine, "rollback", self._rollback)

    def _statement(self, conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if _WRITES.search(statement):
            conn.info["writes"] = True

    def _commit(self, conn: sa.Connection) -> None:
        if conn.info.pop("writes", False):
            self.count += 1

    def _rollback(self, conn: sa.Connection) -> None:
        conn.info.pop("writes", False)

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def test_one_ingest_is_one_write_transaction(site, database_url):
    topic = "the one write"
    url = publish(site, "one-write", f"Council decides on {topic}", paragraphs(topic))
    with Editions(database_url, settings=settings()) as ed:
        now = ed.clock()
        assert ed.archive.track_articles([url], source="feed", seen_at=now, next_check_at=now)
        writes = WriteTransactions(ed.archive.engine)
        # A tracked article's first version: capture, fetch log, version and next check.
        assert ingest_article(ed.pipeline, url).action == "new"
        assert writes.take() == 1
        # Nothing changed: the conditional GET answers 304.
        assert ingest_article(ed.pipeline, url).action == "not_modified"
        assert writes.take() == 1
        publish(site, "one-write", f"Council decides on {topic}", [*paragraphs(topic), "Update."])
        changed = ingest_article(ed.pipeline, url)
        assert (changed.action, changed.version) == ("changed", 2)
        assert writes.take() == 1
        assert ed.status()["versions"] == 2


def test_a_removed_article_is_checked_sparsely_then_no_more(
    database_url: str, site: LocalSite
) -> None:
    """404 marks the article removed; it is checked daily for a while, then left alone."""
    clock = {"now": datetime(2026, 3, 14, 10, 0, tzinfo=UTC)}
    url = publish(site, "gone", "Council decides on the pier", paragraphs("the pier"))
    config = settings().replace(removed_revisit_every=86400.0, removed_revisit_for=3 * 86400.0)
    with Editions(database_url, settings=config, clock=lambda: clock["now"]) as ed:
        assert ingest_article(ed.pipeline, url).action == "new"
        site.add("/news/gone", b"gone", status=404, content_type="text/plain")
        removed_at = clock["now"] = clock["now"] + timedelta(hours=1)
        assert ingest_article(ed.pipeline, url).action == "removed"
        checks = []
        while (article := ed.archive.find_article(url)).next_check_at is not None:  # type: ignore[union-attr]
            checks.append(article.next_check_at - removed_at)  # type: ignore[union-attr]
            clock["now"] = article.next_check_at  # type: ignore[union-attr]
            assert [a.canonical_url for a in ed.archive.due_articles(clock["now"])] == [url]
            assert ingest_article(ed.pipeline, url).action == "removed"
        assert checks == [timedelta(days=d) for d in (1, 2, 3)]
        assert article.status == "removed"  # type: ignore[union-attr]
        assert [e.kind for e in ed.archive.events(article.id)] == ["removed"]  # type: ignore[union-attr]
