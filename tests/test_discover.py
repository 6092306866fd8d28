"""worker.discover against the shared corpus of real feeds and sitemaps, and hostile input."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from worker.canonical import canonicalize
from worker.discover import (
    MAX_SITEMAP_URLS,
    DiscoveryError,
    Link,
    SitemapPage,
    filter_links,
    find_page_links,
    parse_feed,
    parse_sitemap,
)

pytestmark = pytest.mark.corpus

BASE = "http://feeds.example.com/feed.xml"

FEED_RS = CORPUS / "feeds" / "feed-rs"
# Collected at import to get one test per feed; empty (and so skipped) without the corpus.
FEED_RS_FEEDS = sorted(
    str(p.relative_to(FEED_RS))
    for p in FEED_RS.rglob("*")
    if p.suffix in {".xml", ".json"} and not p.name.endswith(".serde.json")
)


def _collapse(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def _serde_date(entry: dict) -> datetime | None:
    value = entry.get("published") or entry.get("updated")
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


# --- feeds: the feed-rs corpus --------------------------------------------------------


def test_feed_rs_corpus_is_all_listed(corpus):
    assert len(FEED_RS_FEEDS) >= 60


@pytest.mark.parametrize("name", FEED_RS_FEEDS)
def test_feed_rs_feed_matches_serde(corpus, name):
    path = corpus / "feeds" / "feed-rs" / name
    body = path.read_bytes()
    content_type = "application/feed+json" if path.suffix == ".json" else None
    serde = path.with_name(path.stem + ".serde.json")
    if name == "rss2/rss_2.0_invalid_1.xml":
        # Truncated mid-document: an error that says so, or the items before the cut.
        try:
            links = parse_feed(body, BASE)
        except DiscoveryError as exc:
            assert "not a readable feed" in str(exc)
        else:
            assert all(link.url.startswith("http") for link in links)
        return
    if name.startswith("xml/xml_sample"):
        with pytest.raises(DiscoveryError, match="not an RSS, RDF or Atom feed"):
            parse_feed(body, BASE)
        return
    links = parse_feed(body, BASE, content_type=content_type)
    assert all(isinstance(link, Link) for link in links)
    assert all(link.url == canonicalize(link.url) for link in links)
    if not serde.exists():
        return
    entries = json.loads(serde.read_text(encoding="utf-8"))["entries"]
    with_links = [e for e in entries if e["links"]]
    # Entries without a link are skipped, except that an http(s) id stands in for one.
    by_id = [e for e in entries if not e["links"] and e["id"].startswith(("http://", "https://"))]
    assert len(links) == len(with_links) + len(by_id)
    found = {link.url: link for link in links}
    for entry in with_links:
        expected = canonicalize(entry["links"][0]["href"], BASE)
        assert expected in found, f"{expected} not found in {list(found)}"
        link = found[expected]
        title = (entry.get("title") or {}).get("content")
        assert _collapse(link.title) == _collapse(title)
        published = _serde_date(entry)
        if published is not None:
            assert link.published == published.replace(microsecond=0)


def test_rss_2_0_bbc_feed_in_detail(corpus):
    body = (corpus / "feeds/feed-rs/rss2/rss_2.0_bbc.xml").read_bytes()
    [link] = parse_feed(body, "http://www.bbc.co.uk/feed.rss")
    assert link.url == "http://www.bbc.co.uk/programmes/m000sjxt"
    assert link.title == "Marcus Aurelius"
    assert link.published == datetime(2021, 2, 25, 10, 15, tzinfo=UTC)
    assert link.published.tzinfo is UTC


def test_relative_links_resolve_against_the_feed_url(corpus):
    body = (corpus / "feeds/feed-rs/atom/atom_relative.xml").read_bytes()
    links = parse_feed(body, "https://blog.example.org/feeds/atom.xml")
    assert links and all(link.url.startswith("https://blog.example.org/") for link in links)


def test_iso_8859_1_feed_decodes(corpus):
    body = (corpus / "feeds/feed-rs/rss1/rss_1.0_iso8859.xml").read_bytes()
    expected = json.loads(
        (corpus / "feeds/feed-rs/rss1/rss_1.0_iso8859.serde.json").read_text(encoding="utf-8")
    )["entries"][0]["title"]["content"]
    [link] = parse_feed(body, BASE)
    assert link.title == _collapse(expected)
    assert any(ord(c) > 127 for c in link.title)


# --- feeds: feedparser's encoding suite ---------------------------------------------------


def _manifest(corpus: Path) -> list[dict]:
    return json.loads((corpus / "feeds/feedparser/manifest.json").read_text(encoding="utf-8"))


def _content_type(entry: dict) -> str | None:
    for header in entry.get("header", []):
        name, _, value = header.partition(":")
        if name.strip().lower() == "content-type":
            return value.strip()
    return None


def test_feedparser_suite_never_crashes(corpus):
    manifest = _manifest(corpus)
    assert len(manifest) >= 100
    refused = []
    for entry in manifest:
        body = (corpus / "feeds/feedparser" / entry["file"]).read_bytes()
        try:
            links = parse_feed(body, BASE, content_type=_content_type(entry))
        except DiscoveryError as exc:
            refused.append(entry["file"])
            # Only documents feedparser itself calls ill-formed may be refused.
            assert "bozo" in entry["expect"] and "not bozo" not in entry["expect"], (
                f"{entry['file']}: {exc}"
            )
            assert str(exc)
            continue
        assert all(link.url.startswith(("http://", "https://")) for link in links)
    # The truncated and empty documents of the suite cannot be read.
    assert "illformed/rss_empty_document.xml" in refused


def test_feedparser_http_charset_is_honoured(corpus):
    entry = next(
        e for e in _manifest(corpus) if e["file"] == "encoding/http_text_xml_charset_2.xml"
    )
    body = (corpus / "feeds/feedparser" / entry["file"]).read_bytes()
    [link] = parse_feed(body, BASE, content_type=_content_type(entry))
    assert link.title == "Foo"
    assert link.url == "http://purl.org/rss/2.0/?item="


def test_corrupted_ampersands_link(corpus):
    body = (
        corpus / "feeds/feedparser/illformed/rss_item_link_corrupted_ampersands.xml"
    ).read_bytes()
    [link] = parse_feed(body, BASE)
    assert link.url == "http://link/get?a=1&b=2"


ITEM_TITLES = {
    "koi8-r": "Как пережить новогоднюю ночь",
    "shift_jis": "記事のタイトル",
    "windows-1252": "Café “quoted” — £5",
    "iso-8859-2": "Zażółć gęślą jaźń",
    "big5": "新聞標題",
}


def _feed_bytes(title: str, encoding: str, declare: str | None) -> bytes:
    declaration = f'<?xml version="1.0" encoding="{declare}"?>\n' if declare else ""
    text = (
        f'{declaration}<rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><link>https://example.com/a</link></item>"
        "</channel></rss>"
    )
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", sorted(ITEM_TITLES))
def test_titles_decode_with_the_http_charset(encoding):
    title = ITEM_TITLES[encoding]
    # No declaration in the document: only the HTTP header tells the charset.
    body = _feed_bytes(title, encoding, declare=None)
    [link] = parse_feed(body, BASE, content_type=f"application/rss+xml; charset={encoding}")
    assert link.title == title


def test_http_charset_overrides_a_wrong_declaration():
    title = ITEM_TITLES["koi8-r"]
    body = _feed_bytes(title, "koi8-r", declare="windows-1251")
    [link] = parse_feed(body, BASE, content_type="text/xml; charset=koi8-r")
    assert link.title == title


def test_declared_encoding_used_without_http_charset():
    title = ITEM_TITLES["iso-8859-2"]
    body = _feed_bytes(title, "iso-8859-2", declare="iso-8859-2")
    [link] = parse_feed(body, BASE)
    assert link.title == title


def test_utf16_feed_with_doctype():
    text = (
        '<?xml version="1.0" encoding="utf-16"?>\n<!DOCTYPE rss [<!ENTITY a "aaaa">]>\n'
        '<rss version="2.0"><channel><item><title>Ünïcode</title>'
        "<link>https://example.com/u</link></item></channel></rss>"
    )
    [link] = parse_feed(text.encode("utf-16"), BASE)
    assert (link.url, link.title) == ("https://example.com/u", "Ünïcode")


# --- feeds: JSON Feed and hand-made cases ------------------------------------------------


def test_json_feed(corpus):
    body = (corpus / "feeds/feed-rs/jsonfeed/jsonfeed_example_1.json").read_bytes()
    links = parse_feed(body, BASE, content_type="application/feed+json")
    assert [link.title for link in links][:1] and all(link.url.startswith("http") for link in links)


def test_entry_falls_back_to_http_id():
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>https://example.com/by-id</id><title>By id</title>
      <updated>2024-05-01T12:00:00+02:00</updated></entry>
      <entry><id>urn:uuid:1</id><title>No link at all</title></entry></feed>"""
    [link] = parse_feed(body, BASE)
    assert link.url == "https://example.com/by-id"
    assert link.published == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_feed_link_with_tracking_is_canonicalised_and_keeps_source_url():
    href = "https://www.example.com/story?utm_source=rss&amp;id=4"
    body = f"<rss version='2.0'><channel><item><link>{href}</link></item></channel></rss>".encode()
    [link] = parse_feed(body, BASE)
    assert link.url == "https://www.example.com/story?id=4"
    assert link.source_url == "https://www.example.com/story?utm_source=rss&id=4"


def test_feed_cut_short_keeps_the_items_before_the_cut(corpus):
    body = (corpus / "feeds/feed-rs/rss2/rss_2.0_spec_1.xml").read_bytes()
    cut = body[: body.index(b"</item>") + len(b"</item>") + 20]
    links = parse_feed(cut, BASE)
    assert [link.url for link in links] == [parse_feed(body, BASE)[0].url]


def test_empty_valid_feed_gives_no_links():
    assert parse_feed(b"<rss version='2.0'><channel><title>x</title></channel></rss>", BASE) == []


# --- feeds: bad and hostile input -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (b"   \n\t", "empty document"),
        (b"<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>", "HTML page"),
        (b"<html><body><a href='/a'>a</a></body></html>", "HTML page"),
        (bytes(range(256)) * 8, "not a readable feed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "not a readable feed"),
        (b"{not json", "not JSON"),
        (b'{"version": "1", "items": []}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "without an 'items' list"),
        (b"<catalog><book/></catalog>", "not an RSS, RDF or Atom feed"),
        (b"<rss version='2.0'><channel><title>cut", "not a readable feed"),
        (b"<rss><channel><item><title>oops", "not a readable feed"),
    ],
)
def test_bad_feeds_raise_discovery_error(body, message):
    with pytest.raises(DiscoveryError, match=message):
        parse_feed(body, BASE)


def test_html_page_from_corpus_is_not_a_feed(corpus):
    body = (corpus / "articles/001/source.html").read_bytes()
    with pytest.raises(DiscoveryError, match="HTML"):
        parse_feed(body, BASE, content_type="text/html; charset=utf-8")


def test_a_str_body_is_refused():
    with pytest.raises(TypeError, match="bytes"):
        parse_feed("<rss/>", BASE)  # type: ignore[arg-type]


def test_a_local_path_as_content_is_never_read(tmp_path):
    secret = tmp_path / "feed.xml"
    secret.write_bytes(
        b"<rss version='2.0'><channel><item><link>https://secret.example/leak</link>"
        b"</item></channel></rss>"
    )
    with pytest.raises(DiscoveryError):
        parse_feed(str(secret).encode(), BASE)
    with pytest.raises(DiscoveryError):
        parse_feed(secret.as_uri().encode(), BASE)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://example.com/bomb</link></item>
</channel></rss>"""

# One large entity referenced many times: feedparser's own DOCTYPE filter would keep it.
QUADRATIC = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY big "'
    + b"x" * 100_000
    + b'">]>\n<rss version="2.0"><channel><item><title>'
    + b"&big;" * 20_000
    + b"</title><link>https://example.com/q</link></item></channel></rss>"
)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("bomb", [BILLION_LAUGHS, QUADRATIC], ids=["billion-laughs", "quadratic"])
def test_entity_bombs_in_feeds_are_not_expanded(bomb):
    try:
        links = parse_feed(bomb, BASE)
    except DiscoveryError:
        return
    for link in links:
        assert link.url.startswith("https://example.com/")
        assert "lol" * 100 not in (link.title or "")
        assert len(link.title or "") < len(bomb)


def test_external_entity_in_feed_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-VALUE")
    for target in (secret.as_uri(), "file:///etc/passwd"):
        body = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>\n'
            '<rss version="2.0"><channel><item><title>a &xxe; b</title>'
            "<link>https://example.com/x</link></item></channel></rss>"
        ).encode()
        try:
            links = parse_feed(body, BASE)
        except DiscoveryError:
            continue
        text = json.dumps([[link.url, link.title, link.source_url] for link in links])
        assert "TOPSECRET" not in text and "root:" not in text


def test_unterminated_doctype_is_refused():
    with pytest.raises(DiscoveryError, match="unterminated DOCTYPE"):
        parse_feed(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">', BASE)


# --- sitemaps ---------------------------------------------------------------------------------

# (file, links, child sitemaps), counted by hand.
SITEMAP_COUNTS = [
    ("atom.xml", 1, 0),
    ("do-not-visit.txt", 1, 0),
    ("extension/hebdenbridgetimes-articles-sitemap.xml", 74, 0),
    ("extension/pagemaps-sitemap.xml", 2, 0),
    ("extension/shinpaideshou-news-sitemap.xml", 3, 0),
    ("extension/sitemap-images.xml", 1, 0),
    ("extension/sitemap-links.xml", 3, 0),
    ("extension/sitemap-mobile.xml", 3, 0),
    ("extension/sitemap-news.xml", 2, 0),
    ("extension/sitemap-videos-tvshow.xml", 1, 0),
    ("extension/sitemap-videos.xml", 3, 0),
    ("sitemap-with-bom.txt", 2, 0),
    ("sitemap.badns.xml", 2, 0),
    ("sitemap.index.xml", 0, 15),
    ("sitemap.ns.xml", 2, 0),
    ("sitemap.txt", 2, 0),
    ("sitemap.txt.gz", 5, 0),
    ("xmlSitemap.gz", 5, 0),
]

SITEMAPS = "sitemaps/crawler-commons"


def test_every_corpus_sitemap_is_counted(corpus):
    files = {
        str(p.relative_to(corpus / SITEMAPS))
        for p in (corpus / SITEMAPS).rglob("*")
        if p.is_file() and p.name != "LICENSE.txt"
    }
    assert files == {name for name, _, _ in SITEMAP_COUNTS}


@pytest.mark.parametrize(("name", "links", "children"), SITEMAP_COUNTS)
def test_corpus_sitemap_counts(corpus, name, links, children):
    page = parse_sitemap((corpus / SITEMAPS / name).read_bytes(), "http://www.example.com/sitemap")
    assert isinstance(page, SitemapPage)
    assert (len(page.links), len(page.sitemaps)) == (links, children)
    assert all(link.url == canonicalize(link.url) for link in page.links)


def test_google_news_sitemap(corpus):
    page = parse_sitemap(
        (corpus / SITEMAPS / "extension/shinpaideshou-news-sitemap.xml").read_bytes(),
        "https://shinpaideshou.wordpress.com/news-sitemap.xml",
    )
    first = page.links[0]
    assert first.url == (
        "https://shinpaideshou.wordpress.com/2017/04/25/job-opening-reischauer-policy-research-fellow/"
    )
    assert first.title == "Job Opening: Reischauer Policy Research Fellow"
    assert first.published == datetime(2017, 4, 25, 10, 0, 36, tzinfo=UTC)


def test_news_sitemap_date_only(corpus):
    page = parse_sitemap((corpus / SITEMAPS / "extension/sitemap-news.xml").read_bytes(), BASE)
    assert page.links[0].title == "Companies A, B in Merger Talks"
    assert page.links[0].published == datetime(2008, 12, 23, tzinfo=UTC)


def test_image_and_video_extensions_are_ignored(corpus):
    page = parse_sitemap(
        (corpus / SITEMAPS / "extension/hebdenbridgetimes-articles-sitemap.xml").read_bytes(), BASE
    )
    assert all("/webimage/" not in link.url and "brightcove" not in link.url for link in page.links)
    # Titles come only from news:title, never image:title or video:title.
    assert all(link.title is None for link in page.links)
    # lastmod with an offset, as UTC.
    assert page.links[0].published == datetime(2015, 5, 3, 17, 51, 50, tzinfo=UTC)


def test_sitemap_index_without_loc_elements(corpus):
    page = parse_sitemap((corpus / SITEMAPS / "sitemap.index.xml").read_bytes(), BASE)
    assert page.links == []
    assert page.sitemaps[0] == "https://example.com/sitemap.jss?lang=en&portalCode=10260"


def test_bad_namespace_and_whitespace_in_loc(corpus):
    page = parse_sitemap((corpus / SITEMAPS / "sitemap.badns.xml").read_bytes(), BASE)
    assert [link.url for link in page.links] == [
        "http://www.example.com/1",
        "http://www.example.com/2",
    ]


def test_bom_text_sitemap(corpus):
    body = (corpus / SITEMAPS / "sitemap-with-bom.txt").read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    page = parse_sitemap(body, BASE)
    assert page.links[0].url == "http://www.domain.com/page1.html"


def test_gzipped_xml_sitemap(corpus):
    body = (corpus / SITEMAPS / "xmlSitemap.gz").read_bytes()
    assert body[:2] == b"\x1f\x8b"
    page = parse_sitemap(body, BASE)
    assert page.links[1].url == "http://www.example.com/catalog?desc=vacation_hawaii&item=12"
    assert page.links[0].published == datetime(2005, 1, 1, tzinfo=UTC)


def test_bom_xml_sitemap():
    body = (
        b"\xef\xbb\xbf<?xml version='1.0'?><urlset><url><loc>https://e.com/a</loc></url></urlset>"
    )
    assert [link.url for link in parse_sitemap(body, BASE).links] == ["https://e.com/a"]


def test_relative_loc_resolves_and_bad_loc_is_skipped():
    body = (
        b"<urlset><url><loc>/news/a</loc></url><url><loc>mailto:x@y.z</loc></url>"
        b"<url><loc></loc></url></urlset>"
    )
    page = parse_sitemap(body, "https://news.example.com/sitemap.xml")
    assert [link.url for link in page.links] == ["https://news.example.com/news/a"]


def test_sitemap_url_limit():
    entries = b"".join(b"<url><loc>https://e.com/%d</loc></url>" % i for i in range(50_010))
    page = parse_sitemap(b"<urlset>" + entries + b"</urlset>", BASE)
    assert len(page.links) == MAX_SITEMAP_URLS
    assert page.links[-1].url == f"https://e.com/{MAX_SITEMAP_URLS - 1}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (b"\xef\xbb\xbf  \n", "empty document"),
        (b"<urlset><url><loc>https://e.com/a</loc></url>", "not well-formed XML"),
        (b"<html><body>nope</body></html>", "HTML page"),
        (b"<!DOCTYPE html><html><body><p>nope<br></body></html>", "HTML page"),
        (b"<catalog/>", "not <urlset> or <sitemapindex>"),
        (b"just some words\nand more words\n", "not a sitemap"),
        (bytes(range(256)) * 8, "not UTF-8"),
        (b"\x00\x01\x02\x03http://e.com/", "binary data"),
        (b"\x1f\x8b\x08\x00garbage-that-is-not-deflate", "corrupt gzip"),
    ],
)
def test_bad_sitemaps_raise_discovery_error(body, message):
    with pytest.raises(DiscoveryError, match=message):
        parse_sitemap(body, BASE)


@pytest.mark.timeout(20)
def test_entity_bomb_sitemap_is_refused():
    bomb = BILLION_LAUGHS.replace(b"rss", b"urlset")
    with pytest.raises(DiscoveryError, match="unsafe XML"):
        parse_sitemap(bomb, BASE)


def test_external_entity_sitemap_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("https://secret.example/TOPSECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        "<urlset><url><loc>&x;</loc></url></urlset>"
    ).encode()
    with pytest.raises(DiscoveryError, match="unsafe XML"):
        parse_sitemap(body, BASE)


@pytest.mark.timeout(60)
def test_gzip_bomb_sitemap_is_refused():
    # 51 MB of whitespace inside a valid sitemap squeezes into about 50 kB.
    inflated = b"<urlset>" + b" " * (51 * 1024 * 1024) + b"</urlset>"
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(DiscoveryError, match="limit"):
        parse_sitemap(bomb, BASE)


def test_gzip_size_cap_is_configurable():
    body = gzip.compress(b"<urlset><url><loc>https://e.com/a</loc></url></urlset>")
    assert len(parse_sitemap(body, BASE, max_bytes=1000).links) == 1
    with pytest.raises(DiscoveryError, match="limit"):
        parse_sitemap(body, BASE, max_bytes=20)
    with pytest.raises(DiscoveryError, match="limit"):
        parse_sitemap(b"<urlset>" + b" " * 100 + b"</urlset>", BASE, max_bytes=50)


# --- front pages --------------------------------------------------------------------------------

FRONT_PAGE = """<!DOCTYPE html>
<html><head><title>The Gazette</title><base href="https://www.gazette.example/news/"></head>
<body>
  <a href="#main">Skip</a>
  <a href="/">Home</a>
  <a href="https://www.gazette.example/news/">This page</a>
  <a href="2024/05/01/harbour-reopens"><img src="harbour.jpg" alt=""></a>
  <a href="2024/05/01/harbour-reopens?utm_source=home">Harbour reopens after storm</a>
  <a href="/news/2024/05/02/council-vote#comments">Council   vote
     delayed</a>
  <a href="https://gazette.example/news/2024/05/03/school-prize" title="School prize"></a>
  <a href="https://sport.gazette.example/2024/05/03/cup-final">Cup final</a>
  <a href="https://www.other-paper.example/2024/05/01/rival">Rival story</a>
  <a href="mailto:desk@gazette.example">Email us</a>
  <a href="javascript:void(0)">Menu</a>
  <a href="tel:+441234">Call</a>
  <a href="/media/photo-of-the-day.jpg">Photo</a>
  <a href="/files/annual-report.pdf">Report</a>
  <a href="/news/live/election-night">Live: election night</a>
  <a>No href</a>
  <a href="http://[broken">Broken</a>
</body></html>"""


def test_front_page_links():
    links = find_page_links(FRONT_PAGE, "https://www.gazette.example/news/")
    assert [(link.url, link.title) for link in links] == [
        ("https://www.gazette.example/", "Home"),
        (
            "https://www.gazette.example/news/2024/05/01/harbour-reopens",
            "Harbour reopens after storm",
        ),
        ("https://www.gazette.example/news/2024/05/02/council-vote", "Council vote delayed"),
        ("https://gazette.example/news/2024/05/03/school-prize", "School prize"),
        ("https://sport.gazette.example/2024/05/03/cup-final", "Cup final"),
        ("https://www.gazette.example/news/live/election-night", "Live: election night"),
    ]
    assert links[1].source_url == "2024/05/01/harbour-reopens"


def test_front_page_allow_and_deny():
    links = find_page_links(
        FRONT_PAGE.encode(), "https://www.gazette.example/news/", allow=r"/20\d\d/", deny="sport\\."
    )
    assert [link.url.rsplit("/", 1)[-1] for link in links] == [
        "harbour-reopens",
        "council-vote",
        "school-prize",
    ]


def test_front_page_off_site_links_on_request():
    links = find_page_links(FRONT_PAGE, "https://www.gazette.example/news/", same_site_only=False)
    assert "https://www.other-paper.example/2024/05/01/rival" in [link.url for link in links]


def test_front_page_bytes_with_meta_charset():
    html = (
        '<html><head><meta charset="iso-8859-1"></head><body>'
        '<a href="/a">Caf\xe9 cr\xe8me</a></body></html>'
    ).encode("iso-8859-1")
    [link] = find_page_links(html, "https://e.example/")
    assert link.title == "Café crème"


def test_front_page_of_a_real_article(corpus):
    body = (corpus / "articles/001/source.html").read_bytes()
    links = find_page_links(body, "http://fakehost/test/page.html", same_site_only=False)
    urls = [link.url for link in links]
    assert len(urls) == len(set(urls))
    assert all(url.startswith(("http://", "https://")) for url in urls)
    assert all(url == canonicalize(url) for url in urls)


@pytest.mark.parametrize("html", ["", "   ", b"", b"\n"])
def test_empty_front_page_is_an_error(html):
    with pytest.raises(DiscoveryError, match="empty page"):
        find_page_links(html, "https://e.example/")


def test_front_page_bad_regex_is_a_clear_error():
    with pytest.raises(ValueError, match="not a valid regex"):
        find_page_links(FRONT_PAGE, "https://www.gazette.example/", allow="(")


# --- filter_links ---------------------------------------------------------------------------------


def test_filter_links_dedupes_keeps_order_and_limits():
    links = [
        Link("https://e.com/a"),
        Link("https://e.com/b", title="B"),
        Link("https://e.com/a", title="A again"),
        Link("https://e.com/c"),
        Link("https://e.com/skip/d"),
        Link("https://e.com/e"),
    ]
    kept = filter_links(links, allow=None, deny="/skip/", limit=3)
    assert [(link.url, link.title) for link in kept] == [
        ("https://e.com/a", "A again"),
        ("https://e.com/b", "B"),
        ("https://e.com/c", None),
    ]
    assert filter_links(links, allow=r"/[bc]$", deny=None, limit=10) == [links[1], links[3]]
    assert filter_links(links, allow=None, deny=None, limit=0) == []


def test_filter_links_refuses_a_negative_limit():
    with pytest.raises(ValueError, match="limit"):
        filter_links([], allow=None, deny=None, limit=-1)
