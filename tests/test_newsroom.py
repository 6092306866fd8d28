"""The offline demo site, over real HTTP: pages, feed, sitemap, front page and edits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import lxml.html
import pytest
import requests
from defusedxml import ElementTree
from protego import Protego

from editions.demo.newsroom import (
    ARTICLE_URL_PATTERN,
    CORRECTION,
    NEW_HEADLINE,
    PRIVATE_PATH,
    DemoArticleError,
    Newsroom,
    NewsroomError,
    load_article,
    load_articles,
)
from editions.demo.site import LocalSite
from schedules.sources import Source
from worker.extract import extract_article
from worker.version import fingerprint

NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture
def newsroom(site: LocalSite) -> Newsroom:
    room = Newsroom(site)
    room.publish()
    return room


@pytest.fixture
def http() -> requests.Session:
    with requests.Session() as session:
        yield session


def _json_ld(page: str) -> dict:
    tree = lxml.html.fromstring(page)
    (script,) = tree.xpath('//script[@type="application/ld+json"]')
    return json.loads(script.text)


# --- content files ---------------------------------------------------------------------


def test_content_files_load() -> None:
    articles = load_articles()
    assert len(articles) == 12
    assert len({a.slug for a in articles}) == 12
    assert len({a.title for a in articles}) == 12
    for a in articles:
        assert 250 <= a.word_count <= 600, (a.slug, a.word_count)
        assert a.published.year == 2026 and a.published.tzinfo is not None
        assert a.authors and a.byline == " and ".join(a.authors)
        assert a.image.startswith("/images/")
        assert len(a.paragraphs) >= 5
    assert {a.language for a in articles} == {"en", "fr", "es"}
    assert [a.published for a in articles] == sorted(a.published for a in articles)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """title = "A title"
authors = ["A. Writer"]
section = "local"
published = 2026-01-02T03:04:05Z
language = "en"
image = "/images/a.jpg"
body = '''
First paragraph.

Second paragraph.
'''
"""


def test_a_valid_file_loads(tmp_path: Path) -> None:
    article = load_article(_write(tmp_path, "a-title.toml", GOOD))
    assert article.paragraphs == ["First paragraph.", "Second paragraph."]
    assert article.path == "/local/2026/01/02/a-title"
    assert article.amp_path == "/amp/local/2026/01/02/a-title"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("no-title.toml", GOOD.replace('title = "A title"\n', ""), "missing field(s) title"),
        ("bad.toml", GOOD.replace("title =", "title"), "not valid TOML"),
        ("naive.toml", GOOD.replace("03:04:05Z", "03:04:05"), "with a zone"),
        ("section.toml", GOOD.replace('"local"', '"gossip"'), "section 'gossip'"),
        ("lang.toml", GOOD.replace('"en"', '"xx"'), "language 'xx'"),
        ("authors.toml", GOOD.replace('["A. Writer"]', "[]"), "'authors'"),
        ("empty.toml", re.sub(r"body = '''.*'''", 'body = "  "', GOOD, flags=re.S), "empty"),
        ("Bad Name.toml", GOOD, "lowercase slug"),
    ],
)
def test_bad_content_files_are_clear_errors(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(DemoArticleError) as caught:
        load_article(_write(tmp_path, name, text))
    assert name in str(caught.value)
    assert message in str(caught.value)


def test_an_empty_articles_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DemoArticleError, match="no article files"):
        load_articles(tmp_path)


# --- the published site -------------------------------------------------------------------


def test_every_page_answers(newsroom: Newsroom, http: requests.Session) -> None:
    for path in newsroom.paths():
        response = http.get(newsroom.site.url(path))
        assert response.status_code == 200, path
        assert response.headers["ETag"]
    assert http.get(newsroom.site.url("/no/such/page")).status_code == 404


def test_article_pages_carry_metadata_and_boilerplate(
    newsroom: Newsroom, http: requests.Session
) -> None:
    for slug, article in newsroom.articles.items():
        page = http.get(newsroom.article_url(slug)).text
        tree = lxml.html.fromstring(page)
        assert tree.xpath("//link[@rel='canonical']/@href") == [newsroom.article_url(slug)]
        assert tree.xpath("//link[@rel='amphtml']/@href") == [newsroom.amp_url(slug)]
        assert tree.xpath("//meta[@property='og:title']/@content") == [article.title]
        assert tree.xpath("//html/@lang") == [article.language]
        data = _json_ld(page)
        assert data["@type"] == "NewsArticle"
        assert data["headline"] == article.title
        assert [a["name"] for a in data["author"]] == article.authors
        assert data["datePublished"].startswith("2026-")
        assert data["dateModified"] == data["datePublished"]
        assert data["inLanguage"] == article.language
        assert data["articleSection"].lower() == article.section
        assert data["image"] == [newsroom.site.url(article.image)]
        body = [p.text_content() for p in tree.xpath("//div[@class='article-body']/p")]
        assert body == article.paragraphs
        for boilerplate in (
            "Subscribe to our newsletter",
            "Related articles",
            "Accept all",
            "Quantcast",
            "Share on Facebook",
        ):
            assert boilerplate in page, (slug, boilerplate)
        assert "Previous article" in page or "Next article" in page


def test_amp_copies_point_back_to_the_plain_page(
    newsroom: Newsroom, http: requests.Session
) -> None:
    for slug, article in newsroom.articles.items():
        page = http.get(newsroom.amp_url(slug)).text
        tree = lxml.html.fromstring(page)
        assert tree.xpath("//link[@rel='canonical']/@href") == [newsroom.article_url(slug)]
        assert "⚡" in page and "amp-img" in page
        assert [p.text_content() for p in tree.xpath("//article/p[not(@class)]")] == (
            article.paragraphs
        )
        assert _json_ld(page)["headline"] == article.title


def test_feed_links_carry_tracking_parameters(newsroom: Newsroom, http: requests.Session) -> None:
    response = http.get(newsroom.site.url("/feed.xml"))
    assert response.headers["Content-Type"].startswith("application/rss+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    assert len(feed.entries) == 12
    paths = set()
    for entry in feed.entries:
        link = urlsplit(entry.link)
        assert parse_qs(link.query) == {"utm_source": ["rss"], "utm_medium": ["feed"]}
        paths.add(link.path)
        assert entry.published_parsed.tm_year == 2026
    assert paths == {a.path for a in newsroom.articles.values()}


def test_news_sitemap_lists_plain_urls(newsroom: Newsroom, http: requests.Session) -> None:
    root = ElementTree.fromstring(http.get(newsroom.site.url("/sitemap.xml")).content)
    urls = root.findall(f"{SITEMAP}url")
    assert len(urls) == 12
    locs = {u.findtext(f"{SITEMAP}loc") for u in urls}
    assert locs == {newsroom.article_url(slug) for slug in newsroom.articles}
    for url in urls:
        news = url.find(f"{NEWS}news")
        assert news.findtext(f"{NEWS}publication/{NEWS}name") == "The Harwick Ledger"
        assert news.findtext(f"{NEWS}publication_date").startswith("2026-")
        assert news.findtext(f"{NEWS}title")
    languages = {u.findtext(f"{NEWS}news/{NEWS}publication/{NEWS}language") for u in urls}
    assert languages == {"en", "fr", "es"}


def test_front_page_links_every_article_in_several_ways(
    newsroom: Newsroom, http: requests.Session
) -> None:
    tree = lxml.html.fromstring(http.get(newsroom.site.url("/")).text)
    hrefs = tree.xpath("//main//a/@href")
    pattern = re.compile(ARTICLE_URL_PATTERN)
    article_links = [h for h in hrefs if pattern.search(h)]
    assert len(article_links) == 12
    assert any("?ref=homepage" in h for h in article_links)
    assert any("fbclid=" in h for h in article_links)
    assert any(h.startswith("/amp/") for h in article_links)
    plain = {urlsplit(h).path.removeprefix("/amp") for h in article_links}
    assert plain == {a.path for a in newsroom.articles.values()}


def test_robots_txt_disallows_only_private(newsroom: Newsroom, http: requests.Session) -> None:
    robots = Protego.parse(http.get(newsroom.site.url("/robots.txt")).text)
    assert not robots.can_fetch(newsroom.site.url(PRIVATE_PATH), "editions")
    for path in newsroom.paths():
        if not path.startswith("/private/"):
            assert robots.can_fetch(newsroom.site.url(path), "editions"), path


def test_sources_are_valid_source_dicts(newsroom: Newsroom) -> None:
    sources = [Source.from_dict(d) for d in newsroom.sources()]
    assert [s.kind for s in sources] == ["feed", "sitemap", "page"]
    assert all(s.url.startswith(newsroom.site.base_url) for s in sources)
    front = sources[2]
    for slug in newsroom.articles:
        assert front.matches(newsroom.article_url(slug))
        assert front.matches(newsroom.amp_url(slug))
    assert not front.matches(newsroom.site.url("/section/politics"))
    assert not front.matches(newsroom.site.url("/about"))
    # The private page looks like an article: only robots.txt keeps an archiver out.
    assert front.matches(newsroom.site.url(PRIVATE_PATH))


# --- edits ------------------------------------------------------------------------------


def _snapshot(newsroom: Newsroom, http: requests.Session) -> dict[str, tuple[bytes, str]]:
    snapshot = {}
    for path in newsroom.paths():
        response = http.get(newsroom.site.url(path))
        snapshot[path] = (response.content, response.headers["ETag"])
    return snapshot


def test_apply_edits_changes_exactly_the_pages_it_says(
    newsroom: Newsroom, http: requests.Session
) -> None:
    before = _snapshot(newsroom, http)
    descriptions = newsroom.apply_edits()
    after = _snapshot(newsroom, http)

    assert len(descriptions) == 4
    assert [e.kind for e in newsroom.edits] == [
        "headline",
        "correction",
        "whitespace",
        "boilerplate",
    ]
    for edit, description in zip(newsroom.edits, descriptions, strict=True):
        assert edit.description == description
        assert newsroom.articles[edit.slug].path in description

    changed = {path for path in before if before[path][0] != after[path][0]}
    assert changed == {path for edit in newsroom.edits for path in edit.paths}
    for path in before:
        etag_changed = before[path][1] != after[path][1]
        assert etag_changed == (path in changed), path


def test_real_edits_show_on_the_page_and_bump_date_modified(
    newsroom: Newsroom, http: requests.Session
) -> None:
    old = {slug: _json_ld(http.get(newsroom.article_url(slug)).text) for slug in newsroom.articles}
    newsroom.apply_edits()
    for edit in newsroom.edits:
        page = http.get(newsroom.article_url(edit.slug)).text
        data = _json_ld(page)
        if edit.new_version:
            assert data["dateModified"] > old[edit.slug]["dateModified"]
            assert "Updated" in page
        else:
            assert data == old[edit.slug]
    headline = http.get(newsroom.article_url("council-budget-vote")).text
    assert f'<h1 class="headline">{NEW_HEADLINE}</h1>' in headline
    assert _json_ld(headline)["headline"] == NEW_HEADLINE
    corrected = http.get(newsroom.article_url("old-mill-bridge-reopens")).text
    assert CORRECTION in corrected
    assert "The repairs cost $11.9 million" in corrected
    assert "The repairs cost $11.4 million" not in corrected
    assert CORRECTION in http.get(newsroom.amp_url("old-mill-bridge-reopens")).text
    feed = feedparser.parse(http.get(newsroom.site.url("/feed.xml")).content)
    assert NEW_HEADLINE in {entry.title for entry in feed.entries}


def test_noise_edits_keep_the_extracted_fingerprint(
    newsroom: Newsroom, http: requests.Session
) -> None:
    def fingerprints() -> dict[str, str]:
        result = {}
        for slug in newsroom.articles:
            url = newsroom.article_url(slug)
            article = extract_article(http.get(url).content, url)
            result[slug] = fingerprint(article.title, article.byline, article.text)
        return result

    before = fingerprints()
    newsroom.apply_edits()
    after = fingerprints()
    new_versions = {slug for slug in before if before[slug] != after[slug]}
    assert new_versions == {e.slug for e in newsroom.edits if e.new_version}
    noise = [e for e in newsroom.edits if not e.new_version]
    assert {e.kind for e in noise} == {"whitespace", "boilerplate"}


def test_edits_need_a_published_site_and_happen_once(site: LocalSite) -> None:
    room = Newsroom(site)
    with pytest.raises(NewsroomError, match="publish"):
        room.apply_edits()
    room.publish()
    room.apply_edits()
    with pytest.raises(NewsroomError, match="already"):
        room.apply_edits()


def test_unknown_slug_is_a_clear_error(newsroom: Newsroom) -> None:
    with pytest.raises(KeyError, match="no demo article 'nope'"):
        newsroom.article_url("nope")
