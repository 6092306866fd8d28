"""The benchmark site: N distinct article pages made from the real corpus pages.

Each copy keeps its page's HTML structure; only the visible text changes: a few
words per paragraph are swapped for other words of the same page, and one unique
sentence is inserted into the longest paragraph, so no two pages extract alike.
The site also serves an RSS feed, a sitemap and an allow-all robots.txt.

The site can run in a child process (``SiteProcess``) so that its threads never
compete for the benchmark process's GIL, and the server's own request rate is
measured with a keep-alive client (``measure_server_rate``).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import multiprocessing
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from editions.demo.site import LocalSite, Page

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"

_TAG = re.compile(r"(<!--.*?-->|<[^>]*>)", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]{4,}")
_SKIP_OPEN = re.compile(r"<(script|style|noscript|template|textarea)\b", re.IGNORECASE)
_SKIP_CLOSE = re.compile(r"</(script|style|noscript|template|textarea)\s*>", re.IGNORECASE)


class CorpusMissing(RuntimeError):
    """The shared corpus the benchmark site is made from is not where it should be."""


@dataclass
class Template:
    """One corpus page split into markup and text segments, ready to vary."""

    name: str
    segments: list[str]
    editable: list[int]  # text segments with words, outside script/style
    longest: int  # the segment that receives the unique sentence
    vocabulary: list[str]


def load_templates(corpus: Path = CORPUS) -> list[Template]:
    """Every page of ``corpus/articles`` as a Template (in name order)."""
    folder = corpus / "articles"
    if not folder.is_dir():
        raise CorpusMissing(f"no corpus pages at {folder}")
    templates = []
    for page in sorted(p for p in folder.iterdir() if (p / "source.html").is_file()):
        html = (page / "source.html").read_bytes().decode("utf-8", errors="replace")
        template = _template(page.name, html)
        if template is not None:
            templates.append(template)
    if not templates:
        raise CorpusMissing(f"no usable pages in {folder}")
    return templates


def _template(name: str, html: str) -> Template | None:
    segments = _TAG.split(html)
    editable: list[int] = []
    skipping = False
    for index, segment in enumerate(segments):
        if index % 2:  # odd indices are tags and comments
            if _SKIP_OPEN.match(segment):
                skipping = True
            elif _SKIP_CLOSE.match(segment):
                skipping = False
            continue
        if not skipping and len(_WORD.findall(segment)) >= 3:
            editable.append(index)
    if not editable:
        return None
    longest = max(editable, key=lambda i: len(segments[i]))
    vocabulary = sorted({w for i in editable for w in _WORD.findall(segments[i])})
    return Template(name, segments, editable, longest, vocabulary)


def render(template: Template, copy: int, *, edit: int = 0) -> bytes:
    """Copy number ``copy`` of a template; ``edit`` > 0 makes a small edit of that copy."""
    rng = random.Random(f"{template.name}/{copy}")
    segments = list(template.segments)
    vocabulary = template.vocabulary
    draw = rng.random

    def swap(match: re.Match[str]) -> str:
        # About one word in ten becomes another word of the same page.
        return vocabulary[int(draw() * len(vocabulary))] if draw() < 0.1 else match[0]

    for index in template.editable:
        if draw() < 0.5:
            continue
        segments[index] = _WORD.sub(swap, segments[index])
    words = [vocabulary[rng.randrange(len(vocabulary))] for _ in range(8)]
    if edit:
        # A correction: two words of the unique sentence change, nothing else.
        words[2], words[5] = f"corrected{edit}", f"revised{edit}"
    sentence = f" Bench copy {copy}: {' '.join(words)}."
    segments[template.longest] = segments[template.longest].rstrip() + sentence + " "
    return "".join(segments).encode("utf-8")


@dataclass
class ArticleRef:
    path: str
    template: int
    copy: int
    title: str
    published: datetime


def plan(templates: list[Template], count: int) -> list[ArticleRef]:
    """Which template and copy number each of ``count`` article paths uses."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    refs = []
    for i in range(count):
        t = i % len(templates)
        copy = i // len(templates)
        refs.append(
            ArticleRef(
                path=f"/news/{i:06d}/{templates[t].name}-{copy}.html",
                template=t,
                copy=copy,
                title=f"Bench article {i} ({templates[t].name})",
                published=start + timedelta(minutes=7 * i),
            )
        )
    return refs


def feed_xml(base_url: str, refs: list[ArticleRef]) -> bytes:
    items = "".join(
        f"<item><title>{escape(r.title)}</title><link>{base_url}{r.path}</link>"
        f"<guid>{base_url}{r.path}</guid><pubDate>{format_datetime(r.published)}</pubDate></item>"
        for r in refs
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench news</title><link>{base_url}/</link><description>benchmark feed"
        f"</description>{items}</channel></rss>"
    ).encode()


def sitemap_xml(base_url: str, refs: list[ArticleRef]) -> bytes:
    urls = "".join(
        f"<url><loc>{base_url}{r.path}</loc><lastmod>{r.published.date().isoformat()}</lastmod></url>"
        for r in refs
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def populate(
    site: LocalSite, count: int, templates: list[Template] | None = None, *, lazy: bool = False
) -> list[str]:
    """Fill ``site`` with ``count`` articles, /feed.xml, /sitemap.xml and /robots.txt.

    Pages are pre-rendered bytes; with ``lazy`` (the 10,000-page memory run)
    each page is rendered when asked for instead, to keep the server small.
    Returns the article paths.
    """
    templates = templates or load_templates()
    refs = plan(templates, count)
    for ref in refs:
        if lazy:
            site.handlers[ref.path] = _lazy_page(templates[ref.template], ref.copy)
        else:
            site.add(ref.path, render(templates[ref.template], ref.copy))
    site.add("/feed.xml", feed_xml(site.base_url, refs), content_type="application/rss+xml")
    site.add("/sitemap.xml", sitemap_xml(site.base_url, refs), content_type="application/xml")
    site.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    return [r.path for r in refs]


def _lazy_page(template: Template, copy: int) -> Callable[[Any], Page]:
    def answer(_handler: Any) -> Page:
        return Page(body=render(template, copy), last_modified=0.0)

    return answer


# --- the site in its own process -------------------------------------------------------


def _serve(count: int, lazy: bool, pipe: Any) -> None:
    logging.basicConfig(level=logging.WARNING)
    site = LocalSite().start()
    paths = populate(site, count, lazy=lazy)
    site.requests.clear()
    pipe.send((site.base_url, paths))
    pipe.recv()  # any message (or the parent's end closing) means: stop
    site.stop()


class SiteProcess:
    """The benchmark site served from a child process; a context manager."""

    def __init__(self, count: int, *, lazy: bool = False) -> None:
        self.count = count
        self.lazy = lazy
        self.base_url = ""
        self.paths: list[str] = []
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe: Any = None

    def __enter__(self) -> SiteProcess:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(self.count, self.lazy, child))
        self._process.start()
        if not parent.poll(600):
            self._process.kill()
            raise RuntimeError("the benchmark site did not start within 10 minutes")
        self.base_url, self.paths = parent.recv()
        self._pipe = parent
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send("stop")
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()

    @property
    def urls(self) -> list[str]:
        return [self.base_url + p for p in self.paths]

    @property
    def feed_url(self) -> str:
        return self.base_url + "/feed.xml"

    @property
    def sitemap_url(self) -> str:
        return self.base_url + "/sitemap.xml"


def fetch_all(urls: list[str]) -> Iterator[tuple[str, bytes]]:
    """GET every URL over one keep-alive connection per host (raw http.client)."""
    connection: http.client.HTTPConnection | None = None
    host = None
    for url in urls:
        parts = urlsplit(url)
        if connection is None or parts.netloc != host:
            if connection is not None:
                connection.close()
            host = parts.netloc
            connection = http.client.HTTPConnection(host, timeout=30)
        connection.request("GET", parts.path)
        response = connection.getresponse()
        yield url, response.read()
    if connection is not None:
        connection.close()


def measure_server_rate(urls: list[str], seconds: float = 3.0) -> tuple[float, int]:
    """Requests per second the site answers alone, on one keep-alive connection."""
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in fetch_all(urls[: max(1, min(len(urls), 500))]):
            done += 1
        if done >= 20 * len(urls):
            break
    elapsed = time.perf_counter() - started
    return done / elapsed, done
