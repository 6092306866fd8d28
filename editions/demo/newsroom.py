"""The offline demo news site: "The Harwick Ledger", served by a LocalSite.

A dozen original articles (``articles/*.toml``) are rendered with the clutter real
news pages carry (navigation, cookie banner, newsletter box, share buttons, related
links, tracking script), plus AMP copies, an RSS feed with tracking parameters, a
Google News sitemap, a front page and robots.txt. ``Newsroom.apply_edits`` then
changes some articles the ways real newsrooms do, including two changes that must
not count as new versions.
"""

from __future__ import annotations

import html
import json
import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from editions.demo.site import LocalSite
from editions.errors import DemoArticleError, NewsroomError

log = logging.getLogger(__name__)

ARTICLES_DIR = Path(__file__).resolve().parent / "articles"
SITE_NAME = "The Harwick Ledger"
SECTIONS = (
    "politics",
    "local",
    "business",
    "education",
    "transport",
    "weather",
    "science",
    "culture",
    "sports",
    "obituaries",
)
LANGUAGES = {"en": "en_GB", "fr": "fr_FR", "es": "es_ES"}
# Searched (not anchored) in discovered URLs: article pages and their AMP copies.
ARTICLE_URL_PATTERN = r"/[a-z]+/20\d\d/\d\d/\d\d/[a-z0-9-]+"
REQUIRED_FIELDS = ("title", "authors", "section", "published", "language", "image", "body")

COOKIE_TEXT = (
    "We use cookies and similar technologies to remember your preferences, measure "
    "how our journalism is read and show you relevant advertising."
)
NEW_COOKIE_TEXT = (
    "We and our 143 partners store and access information on your device to personalise "
    "content and ads, measure audiences and improve our services."
)
HEADLINE_SLUG = "council-budget-vote"
NEW_HEADLINE = "Harwick council passes $48.5m budget, raising property tax by 3.1%"
CORRECTION_SLUG = "old-mill-bridge-reopens"
CORRECTION = (
    "Correction: An earlier version of this article misstated the cost of the repairs. "
    "The total was $11.9 million, not $11.4 million."
)
WHITESPACE_SLUG = "storm-power-outages"
BOILERPLATE_SLUG = "harbour-museum-opens"
# Served but disallowed by robots.txt, and linked from nowhere: tests of robots handling
# can point a source at it without the demo's article count changing.
PRIVATE_PATH = "/private/preview/2026/11/25/budget-analysis-draft"


@dataclass
class DemoArticle:
    """One article of the demo site, as written in its content file."""

    slug: str
    title: str
    byline: str
    section: str
    published: datetime
    language: str
    paragraphs: list[str]
    image: str
    authors: list[str] = field(default_factory=list)
    modified: datetime | None = None

    @property
    def path(self) -> str:
        return f"/{self.section}/{self.published:%Y/%m/%d}/{self.slug}"

    @property
    def amp_path(self) -> str:
        return "/amp" + self.path

    @property
    def date_modified(self) -> datetime:
        return self.modified or self.published

    @property
    def summary(self) -> str:
        first = self.paragraphs[0]
        return first if len(first) <= 200 else first[:197].rsplit(" ", 1)[0] + "…"

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return len(self.text.split())


# --- loading -----------------------------------------------------------------------


def _article_from(path: Path, data: dict[str, Any]) -> DemoArticle:
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise DemoArticleError(f"{path.name}: missing field(s) {', '.join(missing)}")
    authors = data["authors"]
    if not (isinstance(authors, list) and authors and all(isinstance(a, str) for a in authors)):
        raise DemoArticleError(f"{path.name}: 'authors' must be a non-empty list of names")
    published = data["published"]
    if not isinstance(published, datetime) or published.tzinfo is None:
        raise DemoArticleError(
            f"{path.name}: 'published' must be a TOML date-time with a zone, "
            f"like 2026-11-17T22:45:00Z (got {published!r})"
        )
    if data["section"] not in SECTIONS:
        raise DemoArticleError(
            f"{path.name}: section {data['section']!r} is not one of {', '.join(SECTIONS)}"
        )
    if data["language"] not in LANGUAGES:
        raise DemoArticleError(
            f"{path.name}: language {data['language']!r} is not one of {', '.join(LANGUAGES)}"
        )
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", str(data["body"]))]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        raise DemoArticleError(f"{path.name}: 'body' is empty")
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", path.stem):
        raise DemoArticleError(f"{path.name}: file name must be a lowercase slug like 'a-b-c'")
    return DemoArticle(
        slug=path.stem,
        title=str(data["title"]),
        byline=" and ".join(authors),
        section=data["section"],
        published=published.astimezone(UTC),
        language=data["language"],
        paragraphs=paragraphs,
        image=str(data["image"]),
        authors=list(authors),
        modified=None,
    )


def load_article(path: Path) -> DemoArticle:
    """Read one ``.toml`` article file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DemoArticleError(f"{path.name}: not valid TOML: {exc}") from None
    return _article_from(path, data)


def load_articles(directory: Path | None = None) -> list[DemoArticle]:
    """Every demo article, oldest first."""
    directory = directory or ARTICLES_DIR
    articles = [load_article(path) for path in sorted(directory.glob("*.toml"))]
    if not articles:
        raise DemoArticleError(f"no article files (*.toml) in {directory}")
    return sorted(articles, key=lambda a: (a.published, a.slug))


# --- rendering -----------------------------------------------------------------------


@dataclass(frozen=True)
class PageStyle:
    """How a page is laid out, apart from its content (what boilerplate and whitespace)."""

    indent: str = "  "
    # Whitespace noise: doubled spaces and line breaks in paragraphs, blank lines between tags.
    loose: bool = False
    cookie_text: str = COOKIE_TEXT
    extra_related: tuple[str, ...] = ()


Line = tuple[int, str]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _lines_to_html(lines: Iterable[Line], style: PageStyle) -> str:
    out = []
    for depth, text in lines:
        out.append(style.indent * depth + text)
        if style.loose and text.startswith("<") and not text.startswith("</"):
            out.append("")
            out.append(" " * (depth % 3))
    return "\n".join(out) + "\n"


def _paragraph(text: str, style: PageStyle) -> str:
    escaped = _e(text)
    if not style.loose:
        return escaped
    # Doubled spaces and a line break in the middle: HTML renders both as one space.
    words = escaped.split(" ")
    middle = len(words) // 2
    return "  ".join(words[:middle]) + "\n        " + "  ".join(words[middle:])


def _display_date(moment: datetime, language: str) -> str:
    months = {
        "en": "January February March April May June July August September October November December",
        "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
        "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    }[language].split()
    month = months[moment.month - 1]
    if language == "es":
        return f"{moment.day} de {month} de {moment.year}, {moment:%H:%M} UTC"
    return f"{moment.day} {month} {moment.year}, {moment:%H:%M} UTC"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_ld(article: DemoArticle, base_url: str) -> dict[str, Any]:
    """The schema.org NewsArticle description of an article."""
    return {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": base_url + article.path},
        "headline": article.title,
        "description": article.summary,
        "author": [{"@type": "Person", "name": name} for name in article.authors],
        "datePublished": _iso(article.published),
        "dateModified": _iso(article.date_modified),
        "articleSection": article.section.title(),
        "inLanguage": article.language,
        "image": [base_url + article.image],
        "wordCount": article.word_count,
        "publisher": {
            "@type": "NewsMediaOrganization",
            "name": SITE_NAME,
            "logo": {"@type": "ImageObject", "url": base_url + "/static/logo.png"},
        },
    }


def _json_script(data: dict[str, Any]) -> str:
    # "</" inside a script would end it early.
    text = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def _head_common(title: str) -> list[Line]:
    return [
        (2, '<meta charset="utf-8">'),
        (2, f"<title>{_e(title)}</title>"),
        (2, '<meta name="viewport" content="width=device-width, initial-scale=1">'),
    ]


def _site_header() -> list[Line]:
    lines: list[Line] = [
        (2, '<header class="site-header">'),
        (3, f'<a class="logo" href="/">{SITE_NAME}</a>'),
        (3, '<nav class="sections" aria-label="Sections">'),
        (4, "<ul>"),
    ]
    lines += [(5, f'<li><a href="/section/{s}">{s.title()}</a></li>') for s in SECTIONS]
    lines += [
        (4, "</ul>"),
        (3, "</nav>"),
        (3, '<a class="button subscribe" href="/subscribe">Subscribe</a>'),
        (3, '<a class="login" href="/account/login">Sign in</a>'),
        (2, "</header>"),
    ]
    return lines


def _cookie_banner(style: PageStyle) -> list[Line]:
    return [
        (2, '<div id="cookie-consent" class="cookie-banner" role="dialog" aria-live="polite">'),
        (3, f'<p>{_e(style.cookie_text)} <a href="/privacy">Privacy policy</a></p>'),
        (3, '<button type="button" class="accept">Accept all</button>'),
        (3, '<button type="button" class="manage">Manage preferences</button>'),
        (2, "</div>"),
    ]


def _footer() -> list[Line]:
    return [
        (2, '<footer class="site-footer">'),
        (3, "<ul>"),
        (4, '<li><a href="/about">About us</a></li>'),
        (4, '<li><a href="/contact">Contact the newsroom</a></li>'),
        (4, '<li><a href="/privacy">Privacy policy</a></li>'),
        (4, '<li><a href="/cookies">Cookie settings</a></li>'),
        (4, '<li><a href="/terms">Terms of use</a></li>'),
        (3, "</ul>"),
        (3, f"<p>© 2026 {SITE_NAME}, 14 Quay Road, Harwick. All rights reserved.</p>"),
        (2, "</footer>"),
    ]


def _tracking() -> list[Line]:
    # The kind of snippet every news page carries; it references nothing on this site.
    return [
        (2, "<script>"),
        (3, "/* Quantcast Choice. Consent Manager Tag v2.0 */"),
        (3, "window._qevents = window._qevents || [];"),
        (3, 'window._qevents.push({qacct: "p-hArW1ckL3dg3r", labels: "news"});'),
        (3, "window.dataLayer = window.dataLayer || [];"),
        (3, "function gtag(){dataLayer.push(arguments);}"),
        (3, "gtag('js', new Date()); gtag('config', 'G-LEDGER2026');"),
        (2, "</script>"),
        (
            2,
            '<noscript><img src="/pixel.gif?qacct=p-hArW1ckL3dg3r" alt="" width="1" height="1"></noscript>',
        ),
    ]


def _related_list(items: list[tuple[str, str]]) -> list[Line]:
    lines: list[Line] = [
        (3, '<aside class="related">'),
        (4, "<h2>Related articles</h2>"),
        (4, "<ul>"),
    ]
    lines += [(5, f'<li><a href="{_e(path)}">{_e(title)}</a></li>') for path, title in items]
    lines += [(4, "</ul>"), (3, "</aside>")]
    return lines


@dataclass(frozen=True)
class _Neighbours:
    """Links other articles show, with the titles they had when first published."""

    previous: tuple[str, str] | None
    next: tuple[str, str] | None
    related: list[tuple[str, str]]


def render_article(
    article: DemoArticle, base_url: str, links: _Neighbours, style: PageStyle | None = None
) -> str:
    """The full article page with all its boilerplate."""
    style = style or PageStyle()
    url = base_url + article.path
    lines: list[Line] = [
        (0, "<!DOCTYPE html>"),
        (0, f'<html lang="{article.language}">'),
        (1, "<head>"),
        *_head_common(f"{article.title} | {SITE_NAME}"),
        (2, f'<meta name="description" content="{_e(article.summary)}">'),
        (2, f'<meta name="author" content="{_e(article.byline)}">'),
        (2, f'<link rel="canonical" href="{_e(url)}">'),
        (2, f'<link rel="amphtml" href="{_e(base_url + article.amp_path)}">'),
        (2, '<meta property="og:type" content="article">'),
        (2, f'<meta property="og:site_name" content="{SITE_NAME}">'),
        (2, f'<meta property="og:title" content="{_e(article.title)}">'),
        (2, f'<meta property="og:description" content="{_e(article.summary)}">'),
        (2, f'<meta property="og:url" content="{_e(url)}">'),
        (2, f'<meta property="og:image" content="{_e(base_url + article.image)}">'),
        (2, f'<meta property="og:locale" content="{LANGUAGES[article.language]}">'),
        (2, f'<meta property="article:published_time" content="{_iso(article.published)}">'),
        (2, f'<meta property="article:modified_time" content="{_iso(article.date_modified)}">'),
        (2, f'<meta property="article:section" content="{article.section.title()}">'),
        *[(2, f'<meta property="article:author" content="{_e(a)}">') for a in article.authors],
        (2, '<meta name="twitter:card" content="summary_large_image">'),
        (2, '<link rel="stylesheet" href="/static/site.css">'),
        (2, '<link rel="alternate" type="application/rss+xml" title="Latest" href="/feed.xml">'),
        (2, _json_script(json_ld(article, base_url)).replace("\n", "\n" + style.indent * 2)),
        (1, "</head>"),
        (1, f'<body class="article section-{article.section}">'),
        *_cookie_banner(style),
        *_site_header(),
        (2, '<main id="content">'),
        (3, '<article class="story">'),
        (4, "<header>"),
        (
            5,
            f'<p class="kicker"><a href="/section/{article.section}">{article.section.title()}</a></p>',
        ),
        (5, f'<h1 class="headline">{_e(article.title)}</h1>'),
        (5, f'<p class="byline">By <span class="author">{_e(article.byline)}</span></p>'),
        (
            5,
            f'<p class="dateline"><time class="published" datetime="{_iso(article.published)}">'
            f"{_display_date(article.published, article.language)}</time>"
            + (
                f' · Updated <time class="modified" datetime="{_iso(article.date_modified)}">'
                f"{_display_date(article.date_modified, article.language)}</time>"
                if article.modified
                else ""
            )
            + "</p>",
        ),
        (4, "</header>"),
        (4, '<figure class="lead-image">'),
        (5, f'<img src="{_e(article.image)}" alt="{_e(article.title)}" width="1200" height="675">'),
        (5, f"<figcaption>{_e(article.title)}. Photograph: Ledger staff</figcaption>"),
        (4, "</figure>"),
        (4, '<div class="share" aria-label="Share this article">'),
        (5, '<button type="button" data-network="facebook">Share on Facebook</button>'),
        (5, '<button type="button" data-network="x">Share on X</button>'),
        (5, '<button type="button" data-network="email">Email</button>'),
        (5, '<button type="button" data-network="copy">Copy link</button>'),
        (4, "</div>"),
        (4, '<div class="article-body">'),
        *[(5, f"<p>{_paragraph(p, style)}</p>") for p in article.paragraphs],
        (4, "</div>"),
        (4, '<aside class="newsletter">'),
        (5, "<h2>Subscribe to our newsletter</h2>"),
        (5, "<p>The day's news from the Wend valley, in your inbox every morning at 7.</p>"),
        (5, '<form action="/newsletter" method="post">'),
        (6, '<input type="email" name="email" placeholder="Your email address">'),
        (6, '<button type="submit">Sign up</button>'),
        (5, "</form>"),
        (4, "</aside>"),
        (3, "</article>"),
        (3, '<nav class="article-nav">'),
    ]
    if links.previous:
        path, title = links.previous
        lines.append((4, f'<a rel="prev" href="{_e(path)}">Previous article: {_e(title)}</a>'))
    if links.next:
        path, title = links.next
        lines.append((4, f'<a rel="next" href="{_e(path)}">Next article: {_e(title)}</a>'))
    lines.append((3, "</nav>"))
    extra = [(path, title) for path, title in links.related if path in style.extra_related]
    lines += _related_list(links.related[:3] + extra)
    lines += [(2, "</main>"), *_footer(), *_tracking(), (1, "</body>"), (0, "</html>")]
    return _lines_to_html(lines, style)


def render_amp(article: DemoArticle, base_url: str) -> str:
    """The AMP copy: lighter markup, canonical link back to the plain page."""
    lines: list[Line] = [
        (0, "<!doctype html>"),
        (0, f'<html ⚡ lang="{article.language}">'),
        (0, "<head>"),
        *[(1, text) for _, text in _head_common(f"{article.title} | {SITE_NAME}")],
        (1, '<script async src="https://cdn.ampproject.org/v0.js"></script>'),
        (1, f'<link rel="canonical" href="{_e(base_url + article.path)}">'),
        (1, _json_script(json_ld(article, base_url))),
        (1, "<style amp-boilerplate>body{visibility:hidden}</style>"),
        (1, "<style amp-custom>body{font-family:Georgia,serif;margin:0 1rem}</style>"),
        (0, "</head>"),
        (0, "<body>"),
        (1, f'<header><a href="/">{SITE_NAME}</a></header>'),
        (1, "<article>"),
        (2, f"<h1>{_e(article.title)}</h1>"),
        (2, f'<p class="byline">By {_e(article.byline)}</p>'),
        (
            2,
            f'<time datetime="{_iso(article.published)}">'
            f"{_display_date(article.published, article.language)}</time>",
        ),
        (
            2,
            f'<amp-img src="{_e(article.image)}" width="1200" height="675" layout="responsive" '
            f'alt="{_e(article.title)}"></amp-img>',
        ),
        *[(2, f"<p>{_e(p)}</p>") for p in article.paragraphs],
        (1, "</article>"),
        (1, f"<footer>© 2026 {SITE_NAME}</footer>"),
        (0, "</body>"),
        (0, "</html>"),
    ]
    return _lines_to_html(lines, PageStyle(indent="  "))


def render_feed(articles: list[DemoArticle], base_url: str) -> str:
    """RSS 2.0, newest first; item links carry the tracking parameters real feeds add."""
    newest = max(a.published for a in articles)
    items = []
    for a in sorted(articles, key=lambda a: a.published, reverse=True):
        link = base_url + a.path + "?utm_source=rss&utm_medium=feed"
        items.append(
            "    <item>\n"
            f"      <title>{xml_escape(a.title)}</title>\n"
            f"      <link>{xml_escape(link)}</link>\n"
            f'      <guid isPermaLink="false">harwick-ledger-{a.slug}</guid>\n'
            f"      <description>{xml_escape(a.summary)}</description>\n"
            f"      <dc:creator>{xml_escape(a.byline)}</dc:creator>\n"
            f"      <category>{a.section.title()}</category>\n"
            f"      <pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>\n"
            "    </item>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n'
        "  <channel>\n"
        f"    <title>{SITE_NAME}</title>\n"
        f"    <link>{base_url}/</link>\n"
        f'    <atom:link href="{base_url}/feed.xml" rel="self" type="application/rss+xml"/>\n'
        "    <description>News from Harwick and the Wend valley</description>\n"
        "    <language>en-gb</language>\n"
        f"    <lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>\n"
        + "".join(items)
        + "  </channel>\n</rss>\n"
    )


def render_sitemap(articles: list[DemoArticle], base_url: str) -> str:
    """A Google News sitemap with plain article URLs."""
    urls = []
    for a in sorted(articles, key=lambda a: a.published, reverse=True):
        urls.append(
            "  <url>\n"
            f"    <loc>{xml_escape(base_url + a.path)}</loc>\n"
            f"    <lastmod>{_iso(a.date_modified)}</lastmod>\n"
            "    <news:news>\n"
            "      <news:publication>\n"
            f"        <news:name>{SITE_NAME}</news:name>\n"
            f"        <news:language>{a.language}</news:language>\n"
            "      </news:publication>\n"
            f"      <news:publication_date>{_iso(a.published)}</news:publication_date>\n"
            f"      <news:title>{xml_escape(a.title)}</news:title>\n"
            "    </news:news>\n"
            "    <image:image>\n"
            f"      <image:loc>{xml_escape(base_url + a.image)}</image:loc>\n"
            "    </image:image>\n"
            "  </url>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" '
        'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">\n'
        + "".join(urls)
        + "</urlset>\n"
    )


def _front_page_link(index: int, article: DemoArticle) -> str:
    # Real front pages link the same article many ways; the archive must see one article.
    kind = index % 4
    if kind == 1:
        return article.path + "?ref=homepage"
    if kind == 2:
        return article.amp_path
    if kind == 3:
        return article.path + f"?fbclid=IwAR{index:02d}xLedgerDemo{article.slug[:6]}"
    return article.path


def render_front_page(articles: list[DemoArticle]) -> str:
    newest = sorted(articles, key=lambda a: a.published, reverse=True)
    lead, rest = newest[0], newest[1:]
    lines: list[Line] = [
        (0, "<!DOCTYPE html>"),
        (0, '<html lang="en">'),
        (1, "<head>"),
        *_head_common(f"{SITE_NAME} — News from Harwick and the Wend valley"),
        (2, '<link rel="alternate" type="application/rss+xml" title="Latest" href="/feed.xml">'),
        (1, "</head>"),
        (1, '<body class="front">'),
        *_cookie_banner(PageStyle()),
        *_site_header(),
        (2, '<main id="content">'),
        (3, '<section class="lead-story">'),
        (4, f'<h2><a href="{_e(_front_page_link(0, lead))}">{_e(lead.title)}</a></h2>'),
        (4, f"<p>{_e(lead.summary)}</p>"),
        (3, "</section>"),
        (3, '<section class="latest">'),
        (4, "<h2>Latest</h2>"),
        (4, "<ul>"),
    ]
    for index, a in enumerate(rest, start=1):
        href = _e(_front_page_link(index, a))
        lines.append(
            (5, f'<li><a href="{href}">{_e(a.title)}</a> <span>{a.section.title()}</span></li>')
        )
    lines += [
        (4, "</ul>"),
        (3, "</section>"),
        (2, "</main>"),
        *_footer(),
        *_tracking(),
        (1, "</body>"),
        (0, "</html>"),
    ]
    return _lines_to_html(lines, PageStyle())


def render_section_page(section: str, articles: list[DemoArticle]) -> str:
    lines: list[Line] = [
        (0, "<!DOCTYPE html>"),
        (0, '<html lang="en">'),
        (1, "<head>"),
        *_head_common(f"{section.title()} | {SITE_NAME}"),
        (1, "</head>"),
        (1, "<body>"),
        *_site_header(),
        (2, f"<main><h1>{section.title()}</h1><ul>"),
        *[(3, f'<li><a href="{a.path}">{_e(a.title)}</a></li>') for a in articles],
        (2, "</ul></main>"),
        *_footer(),
        (1, "</body>"),
        (0, "</html>"),
    ]
    return _lines_to_html(lines, PageStyle())


ROBOTS = "User-agent: *\nAllow: /\nDisallow: /private/\n"
STYLESHEET = "body{font-family:Georgia,serif;max-width:44rem;margin:auto}.cookie-banner{position:fixed;bottom:0}\n"
PRIVATE_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>DRAFT budget analysis</title></head>'
    "<body><h1>DRAFT: not for publication</h1><p>Embargoed staff notes.</p></body></html>\n"
)


# --- the newsroom -----------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One change made by ``apply_edits``: which pages it touched and whether it is real."""

    kind: str
    slug: str
    description: str
    paths: tuple[str, ...]
    new_version: bool


class Newsroom:
    """Publishes the demo articles on a LocalSite, and edits them later."""

    def __init__(self, site: LocalSite, articles: list[DemoArticle] | None = None) -> None:
        self.site = site
        self.articles: dict[str, DemoArticle] = {
            a.slug: a for a in (articles if articles is not None else load_articles())
        }
        self.styles: dict[str, PageStyle] = {}
        self.edits: list[Edit] = []
        self._neighbours: dict[str, _Neighbours] = {}
        self._published = False

    # --- URLs -------------------------------------------------------------------------
    def article(self, slug: str) -> DemoArticle:
        try:
            return self.articles[slug]
        except KeyError:
            raise KeyError(f"no demo article {slug!r}; known: {', '.join(self.articles)}") from None

    def article_url(self, slug: str) -> str:
        return self.site.url(self.article(slug).path)

    def amp_url(self, slug: str) -> str:
        return self.site.url(self.article(slug).amp_path)

    def sources(self) -> list[dict[str, Any]]:
        """Sources for this site, as plain dicts (``schedules.sources.Source.from_dict``)."""
        return [
            {
                "name": "demo-feed",
                "url": self.site.url("/feed.xml"),
                "kind": "feed",
                "every": "10m",
            },
            {
                "name": "demo-sitemap",
                "url": self.site.url("/sitemap.xml"),
                "kind": "sitemap",
                "every": "1h",
            },
            {
                "name": "demo-front-page",
                "url": self.site.url("/"),
                "kind": "page",
                "every": "15m",
                "allow": ARTICLE_URL_PATTERN,
            },
        ]

    def paths(self) -> list[str]:
        """Every path this newsroom serves."""
        articles = list(self.articles.values())
        return [
            *(a.path for a in articles),
            *(a.amp_path for a in articles),
            *(f"/section/{s}" for s in SECTIONS),
            "/",
            "/feed.xml",
            "/sitemap.xml",
            "/robots.txt",
            "/static/site.css",
            PRIVATE_PATH,
        ]

    # --- publishing -------------------------------------------------------------------
    def _ordered(self) -> list[DemoArticle]:
        return sorted(self.articles.values(), key=lambda a: (a.published, a.slug))

    def _plan_links(self) -> None:
        # Titles are taken once, at first publication: like the cached widgets of real
        # sites, the links on other pages do not change when a headline is edited.
        ordered = self._ordered()
        for index, a in enumerate(ordered):
            previous = ordered[index - 1] if index > 0 else None
            following = ordered[index + 1] if index + 1 < len(ordered) else None
            others = sorted(
                (o for o in ordered if o.slug != a.slug),
                key=lambda o: (o.section != a.section, abs(o.published - a.published)),
            )
            self._neighbours[a.slug] = _Neighbours(
                previous=(previous.path, previous.title) if previous else None,
                next=(following.path, following.title) if following else None,
                related=[(o.path, o.title) for o in others],
            )

    def _put_article(self, slug: str, *, amp: bool = True) -> None:
        a = self.articles[slug]
        style = self.styles.get(slug, PageStyle())
        base = self.site.base_url
        self.site.add(a.path, render_article(a, base, self._neighbours[slug], style), gzip=True)
        if amp:
            self.site.add(a.amp_path, render_amp(a, base), gzip=True)

    def _put_listings(self) -> None:
        articles = self._ordered()
        base = self.site.base_url
        self.site.add("/", render_front_page(articles), gzip=True)
        self.site.add(
            "/feed.xml",
            render_feed(articles, base),
            content_type="application/rss+xml; charset=utf-8",
        )
        self.site.add(
            "/sitemap.xml",
            render_sitemap(articles, base),
            content_type="application/xml; charset=utf-8",
        )

    def publish(self) -> None:
        """Put every page, AMP copy, the feed, sitemap, front page and robots.txt on the site."""
        self._plan_links()
        for slug in self.articles:
            self._put_article(slug)
        for section in SECTIONS:
            in_section = [a for a in self._ordered() if a.section == section]
            self.site.add(f"/section/{section}", render_section_page(section, in_section))
        self._put_listings()
        self.site.add("/robots.txt", ROBOTS, content_type="text/plain; charset=utf-8")
        self.site.add("/static/site.css", STYLESHEET, content_type="text/css; charset=utf-8")
        self.site.add(PRIVATE_PATH, PRIVATE_PAGE)
        self._published = True
        log.info("published %d demo articles on %s", len(self.articles), self.site.base_url)

    # --- editing ----------------------------------------------------------------------
    def _bump(self, article: DemoArticle) -> datetime:
        now = datetime.now(UTC).replace(microsecond=0)
        return max(now, article.date_modified + timedelta(minutes=1))

    def apply_edits(self) -> list[str]:
        """Edit four articles on the site; return what was done, one line per edit.

        Two edits are real (a headline, a correction) and bump dateModified; two are
        noise that must not make a new version (whitespace, boilerplate).
        """
        if not self._published:
            raise NewsroomError("publish() the site before applying edits")
        if self.edits:
            raise NewsroomError("the demo edits have already been applied")
        for slug in (HEADLINE_SLUG, CORRECTION_SLUG, WHITESPACE_SLUG, BOILERPLATE_SLUG):
            self.article(slug)  # fail clearly if a content file was renamed
        self.edits = [
            self._edit_headline(),
            self._add_correction(),
            self._reformat_whitespace(),
            self._change_boilerplate(),
        ]
        self._put_listings()
        for edit in self.edits:
            log.info("demo edit: %s", edit.description)
        return [edit.description for edit in self.edits]

    def _edit_headline(self) -> Edit:
        a = self.articles[HEADLINE_SLUG]
        old_title = a.title
        self.articles[HEADLINE_SLUG] = replace(a, title=NEW_HEADLINE, modified=self._bump(a))
        self._put_article(HEADLINE_SLUG)
        return Edit(
            "headline",
            HEADLINE_SLUG,
            f"headline changed on {a.path}: {old_title!r} -> {NEW_HEADLINE!r} "
            "(page, AMP copy, feed, sitemap and front page updated; new version expected)",
            (a.path, a.amp_path, "/feed.xml", "/sitemap.xml", "/"),
            True,
        )

    def _add_correction(self) -> Edit:
        a = self.articles[CORRECTION_SLUG]
        paragraphs = [p.replace("$11.4 million", "$11.9 million") for p in a.paragraphs]
        paragraphs.append(CORRECTION)
        self.articles[CORRECTION_SLUG] = replace(a, paragraphs=paragraphs, modified=self._bump(a))
        self._put_article(CORRECTION_SLUG)
        return Edit(
            "correction",
            CORRECTION_SLUG,
            f"correction added to {a.path}: repair cost fixed to $11.9 million and a "
            "'Correction: ...' paragraph appended (page, AMP copy and sitemap updated; "
            "new version expected)",
            (a.path, a.amp_path, "/sitemap.xml"),
            True,
        )

    def _reformat_whitespace(self) -> Edit:
        a = self.articles[WHITESPACE_SLUG]
        self.styles[WHITESPACE_SLUG] = PageStyle(indent="\t", loose=True)
        self._put_article(WHITESPACE_SLUG, amp=False)
        return Edit(
            "whitespace",
            WHITESPACE_SLUG,
            f"whitespace-only change on {a.path}: HTML re-indented with tabs, doubled spaces "
            "and line breaks inside paragraphs, extra blank lines (no new version expected)",
            (a.path,),
            False,
        )

    def _change_boilerplate(self) -> Edit:
        a = self.articles[BOILERPLATE_SLUG]
        shown = {path for path, _ in self._neighbours[BOILERPLATE_SLUG].related[:3]}
        extra = next(p for p, _ in self._neighbours[BOILERPLATE_SLUG].related if p not in shown)
        self.styles[BOILERPLATE_SLUG] = PageStyle(
            cookie_text=NEW_COOKIE_TEXT, extra_related=(extra,)
        )
        self._put_article(BOILERPLATE_SLUG, amp=False)
        return Edit(
            "boilerplate",
            BOILERPLATE_SLUG,
            f"boilerplate-only change on {a.path}: a new 'Related articles' link ({extra}) "
            "and new cookie-banner text (no new version expected)",
            (a.path,),
            False,
        )
