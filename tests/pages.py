"""Pages the tests build: news-like HTML with the boilerplate real sites have."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

BOILERPLATE = [
    "We use cookies to improve your experience",
    "Previous article",
    "Next article",
    "Subscribe to our newsletter",
    "Quantcast",
]


def article_html(
    *,
    title: str,
    paragraphs: list[str],
    byline: str = "Dana Whitfield",
    canonical: str | None = None,
    amphtml: str | None = None,
    published: datetime = datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
    lang: str = "en",
    related: list[str] | None = None,
) -> str:
    """A full article page; only the title, byline and paragraphs are the article."""
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "author": [{"@type": "Person", "name": byline}],
        "datePublished": published.isoformat(),
        "inLanguage": lang,
    }
    links = "".join(
        f'<li><a href="{u}">Related story {i}</a></li>' for i, u in enumerate(related or [])
    )
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    head_links = ""
    if canonical:
        head_links += f'<link rel="canonical" href="{canonical}">'
    if amphtml:
        head_links += f'<link rel="amphtml" href="{amphtml}">'
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(title)} | The Harbour Gazette</title>
<meta property="og:title" content="{html.escape(title)}">
<meta name="author" content="{html.escape(byline)}">
{head_links}
<script type="application/ld+json">{json.dumps(ld)}</script>
<script>/* Quantcast */ var _qevents = _qevents || [];</script>
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>
<header><nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/sport/">Sport</a></nav></header>
<main><article>
<h1>{html.escape(title)}</h1>
<p class="byline">By {html.escape(byline)}</p>
<time datetime="{published.isoformat()}">{published:%d %B %Y}</time>
{body}
</article>
<aside><h3>Related articles</h3><ul>{links}</ul>
<div class="newsletter">Subscribe to our newsletter for the morning briefing.</div></aside>
<nav class="prev-next"><a href="/news/a">Previous article</a> <a href="/news/b">Next article</a></nav>
</main>
<footer>© 2026 The Harbour Gazette. All rights reserved.</footer>
<noscript>Quantcast</noscript>
</body></html>"""


def rss(items: list[tuple[str, str]], title: str = "Gazette") -> str:
    """An RSS 2.0 feed of (title, link) items."""
    entries = "".join(
        f"<item><title>{html.escape(t)}</title><link>{html.escape(link)}</link>"
        f"<pubDate>Sat, 14 Mar 2026 09:30:00 GMT</pubDate></item>"
        for t, link in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>"
        f"<description>test</description>{entries}</channel></rss>"
    )


def sitemap(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{html.escape(u)}</loc></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    )


def paragraphs(topic: str, n: int = 6) -> list[str]:
    """Distinct, article-length filler paragraphs about a topic (written for the tests)."""
    return [
        f"Paragraph {i + 1} about {topic}: the harbour committee met on Tuesday evening to weigh "
        f"the proposal, and residents who filled the hall asked detailed questions about costs, "
        f"timing and the effect on the fishing fleet that still lands its catch at the old quay. "
        f"Officials promised a written answer within {i + 2} weeks."
        for i in range(n)
    ]
