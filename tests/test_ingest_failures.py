"""Whatever one article does, the run goes on (issue 8 hole 2): an oversized page is
archived whole and indexed by its beginning, and an article whose ingest raises is
recorded, retried and finally marked failed with the reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from editions.api import Editions
from editions.cli import cli
from editions.demo.site import LocalSite
from editions.settings import Settings
from schedules.sources import Source
from tests.pages import article_html, paragraphs, rss
from worker.pipeline import ingest_article
from worker.response import FetchResult, Outcome


def test_an_oversized_article_does_not_stop_the_run(
    site: LocalSite, tmp_path: Path, database_url: str
) -> None:
    # ~2.4 MB of text, most of it distinct words: more than a 1 MB tsvector holds.
    huge_text = ["Zanzibar lighthouse keepers vote to strike."] + [
        " ".join(f"w{i:07d}" for i in range(start, start + 1000))
        for start in range(0, 270_000, 1000)
    ]
    items = [("Huge", site.url("/news/huge"))]
    site.add("/news/huge", article_html(title="Lighthouse dump", paragraphs=huge_text))
    for slug in ("ferry", "wall"):
        site.add(f"/news/{slug}", article_html(title=f"The {slug}", paragraphs=paragraphs(slug)))
        items.append((slug, site.url(f"/news/{slug}")))
    site.add("/feed.xml", rss(items), content_type="application/rss+xml")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "gazette"\nurl = "{site.url("/feed.xml")}"\n'
        'kind = "feed"\nevery = "10m"\n'
    )
    runner = CliRunner(
        env={
            "EDITIONS_ALLOW_PRIVATE_ADDRESSES": "1",
            "EDITIONS_HOST_DELAY": "0",
            "EDITIONS_MAX_RETRIES": "0",
        }
    )
    result = runner.invoke(
        cli,
        ["--database", database_url, "--sources", str(sources), "run", "--once", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    actions = {a["url"]: a["action"] for a in report["articles"]}
    assert actions == {url: "new" for _, url in items}, actions
    with Editions(database_url, settings=Settings(allow_private_addresses=True)) as ed:
        article = ed.archive.find_article(site.url("/news/huge"))
        assert article is not None
        assert len(ed.archive.get_version(article.id).text) > 2_000_000  # archived whole
        assert [h["url"] for h in ed.search("zanzibar lighthouse")] == [site.url("/news/huge")]
        assert [h["url"] for h in ed.search("w0000500")] == [site.url("/news/huge")]
        assert ed.search("w0269999") == []  # beyond what the index holds
        assert [h["url"] for h in ed.search("ferry")] == [site.url("/news/ferry")]


class BrokenBody:
    """A fetcher double: the feed and one article are fine, another article's body is
    not bytes, which makes an ingest step raise TypeError (an unexpected exception)."""

    def __init__(self, feed: str, pages: dict[str, str], broken: str) -> None:
        self.feed, self.pages, self.broken = feed, pages, broken
        self.fetched: list[str] = []

    def fetch(self, url: str, **options: Any) -> FetchResult:
        self.fetched.append(url)
        if url.endswith("/feed.xml"):
            body: Any = self.feed.encode()
            content_type = "application/rss+xml"
        elif url == self.broken:
            body = "<html>not bytes</html>"
            content_type = "text/html; charset=utf-8"
        else:
            body = self.pages[url].encode()
            content_type = "text/html; charset=utf-8"
        return FetchResult(
            url=url,
            final_url=url,
            outcome=Outcome.OK,
            status=200,
            headers={"content-type": content_type},
            body=body,
            started_at=datetime.now(UTC),
            duration=0.01,
        )


def test_an_article_that_raises_is_retried_then_marked_failed(database_url: str) -> None:
    base = "http://news.example"
    broken, good = f"{base}/news/broken", f"{base}/news/good"
    feed = rss([("Broken", broken), ("Good", good)])
    pages = {good: article_html(title="Good news", paragraphs=paragraphs("good news"))}
    fetcher = BrokenBody(feed, pages, broken)
    settings = Settings(max_article_failures=3, failed_fetch_retry=0.0, host_delay=0.0)
    source = Source(name="wire", url=f"{base}/feed.xml", kind="feed", every=timedelta(minutes=10))
    with Editions(database_url, settings=settings, fetcher=fetcher) as ed:
        report = ed.run_once(sources=[source])
        results = {r.url: r for r in report.articles}
        # The run went on: the article after the broken one was archived.
        assert results[good].action == "new"
        assert results[broken].action == "failed"
        assert "TypeError" in (results[broken].error or "")
        article = ed.archive.find_article(broken)
        assert (article.failures, article.status) == (1, "active")
        assert "TypeError" in (article.last_error or "")
        for attempt in (2, 3):
            [again] = ed.revisit([broken])
            assert again.action == "failed"
            article = ed.archive.find_article(broken)
            assert article.failures == attempt
        assert article.status == "failed"
        assert "TypeError" in (article.last_error or "")
        assert fetcher.fetched.count(broken) == 3
        with ed.archive.engine.connect() as conn:
            logged = conn.execute(
                sa.text('SELECT outcome, error FROM "fetch" WHERE url = :u'), {"u": broken}
            ).all()
        assert len(logged) == 3
        assert all(o == "error" and "TypeError" in (e or "") for o, e in logged), logged
        # A failed article is no longer due: the next run leaves it alone.
        ed.run_once(sources=[source])
        assert fetcher.fetched.count(broken) == 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unexpected_error_on_a_new_url_is_recorded(database_url: str) -> None:
    # A URL ingested directly (not tracked by a poll first) is tracked by its failure.
    url = "http://news.example/news/broken"
    fetcher = BrokenBody("", {}, url)
    with Editions(database_url, settings=Settings(host_delay=0.0), fetcher=fetcher) as ed:
        result = ingest_article(ed.pipeline, url)
        assert result.action == "failed" and "TypeError" in (result.error or "")
        article = ed.archive.find_article(url)
        assert article is not None and article.failures == 1
        assert "TypeError" in (article.last_error or "")
