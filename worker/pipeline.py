"""The work itself: poll a source, ingest an article, revisit what is due.

These functions are the whole pipeline, free of any executor: the embedded
scheduler calls them in-process and the Celery tasks call the very same ones.
An article flows through a visible chain of steps::

    fetch -> (byte-identical? stop) -> capture -> extract -> canonical key
          -> dedupe (aliases) -> version (if the fingerprint changed) -> store + index

Nothing here raises for bad input from the web: every failure is recorded in
the fetch log and in the result, so one failing URL never stops a run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from editions.errors import DiscoveryError, ExtractionError, InvalidURLError
from editions.records import RevisitPolicy, Source
from editions.settings import Settings
from storage.archive import Archive, NewVersion
from storage.templates import HostTemplates
from worker.canonical import canonicalize, same_site
from worker.discover import (
    Link,
    filter_links,
    find_page_links,
    parse_feed,
    parse_sitemap,
)
from worker.extract import Extracted, extract_article
from worker.extract.templates import apply_host_template
from worker.memory import trim_heap
from worker.response import Fetches, FetchResult, Outcome
from worker.version import fingerprint, summarize_change, text_sha256

log = logging.getLogger(__name__)
# One line per poll: shown by the long-running modes at their default level.
poll_log = logging.getLogger(__name__ + ".polls")

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, text/plain;q=0.5, */*;q=0.3"


@dataclass
class Pipeline:
    """What a step needs: the archive, a fetcher, settings and the revisit plan.

    The caller (the embedded runner or a Celery worker process) builds one and
    keeps it: the fetcher holds connection pools and the robots cache.
    """

    archive: Archive
    fetcher: Fetches
    settings: Settings = field(default_factory=Settings.defaults)
    revisits: RevisitPolicy | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ingested: int = field(default=0, init=False)

    def close(self) -> None:
        close = getattr(self.fetcher, "close", None)  # a simulated fetcher may hold nothing
        if close is not None:
            close()
        self.archive.close()


@dataclass
class PollResult:
    """What polling one source found."""

    source: str
    url: str
    outcome: str
    links: list[Link] = field(default_factory=list)
    new_urls: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "url": self.url,
            "outcome": self.outcome,
            "links": len(self.links),
            "new": len(self.new_urls),
            "error": self.error,
        }


@dataclass
class ArticleResult:
    """What happened to one article URL.

    ``action`` is one of: ``new`` (first version), ``changed`` (a new version),
    ``unchanged`` (fetched and extracted, same content), ``identical`` (raw body
    byte-identical, extraction skipped), ``not_modified`` (HTTP 304), ``alias``
    (the URL belongs to an article already archived), ``failed``.
    """

    url: str
    action: str
    canonical_url: str | None = None
    article_id: int | None = None
    version: int | None = None
    outcome: str | None = None
    error: str | None = None
    change: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- sources -------------------------------------------------------------------


def poll_source(pipe: Pipeline, source: Source) -> PollResult:
    """Fetch a source, list its article links, and register the new ones.

    New links become tracked articles due now, so a crash or a failed fetch
    after this point never loses them: the due queue still holds them.
    """
    now = pipe.clock()
    state = pipe.archive.get_source(source.name)
    etag = state.etag if state else None
    last_modified = state.last_modified if state else None
    accept = FEED_ACCEPT if source.kind == "feed" else SITEMAP_ACCEPT
    if source.kind == "page":
        accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
    result = pipe.fetcher.fetch(source.url, etag=etag, last_modified=last_modified, accept=accept)
    outcome, error, links = result.outcome.value, result.error, []
    if result.ok:
        try:
            links = _links_of(pipe, source, result, depth=0)
        except DiscoveryError as exc:
            outcome, error = Outcome.PARSE_ERROR.value, str(exc)
    _record(pipe, result, source=source.name, kind=source.kind, outcome=outcome, error=error)
    links = filter_links(
        (link for link in links if source.matches(link.url)),
        allow=None,
        deny=None,
        limit=pipe.settings.max_links_per_source,
    )
    new_urls = pipe.archive.track_articles(
        [link.url for link in links], source=source.name, seen_at=now, next_check_at=now
    )
    keep_validators = outcome == Outcome.OK.value
    pipe.archive.mark_source_polled(
        source.name,
        at=now,
        etag=result.etag if keep_validators else etag,
        last_modified=result.last_modified if keep_validators else last_modified,
        next_poll_at=now + source.every,
        outcome=outcome,
    )
    took = (pipe.clock() - now).total_seconds()
    if error:
        log.warning("source %s (%s): %s: %s", source.name, source.url, outcome, error)
    else:
        poll_log.info(
            "polled %s: %s, %d links, %d new (%.1fs)",
            source.name,
            outcome,
            len(links),
            len(new_urls),
            took,
        )
    return PollResult(source.name, source.url, outcome, links, new_urls, error)


def _links_of(pipe: Pipeline, source: Source, result: FetchResult, depth: int) -> list[Link]:
    if source.kind == "feed":
        return parse_feed(result.body, result.final_url, content_type=result.content_type)
    if source.kind == "page":
        return find_page_links(result.text, result.final_url, allow=source.allow, deny=source.deny)
    page = parse_sitemap(
        result.body, result.final_url, max_bytes=pipe.settings.max_sitemap_bytes
    )
    links = list(page.links)
    if depth >= pipe.settings.max_sitemap_depth:
        if page.sitemaps:
            log.warning("sitemap %s: index nested deeper than %d levels", source.url, depth)
        return links
    for child_url in page.sitemaps:
        if len(links) >= pipe.settings.max_links_per_source:
            break
        child = pipe.fetcher.fetch(child_url, accept=SITEMAP_ACCEPT)
        outcome, error = child.outcome.value, child.error
        if child.ok:
            try:
                links.extend(_links_of(pipe, source, child, depth + 1))
            except DiscoveryError as exc:
                outcome, error = Outcome.PARSE_ERROR.value, str(exc)
        _record(pipe, child, source=source.name, kind="sitemap", outcome=outcome, error=error)
    return links


# --- articles ------------------------------------------------------------------


def ingest_article(
    pipe: Pipeline, url: str, *, source: str | None = None, follow_canonical: bool = True
) -> ArticleResult:
    """Fetch one article URL and archive a new version if its content changed."""
    result = _ingest_article(pipe, url, source=source, follow_canonical=follow_canonical)
    _log_outcome(result)
    pipe.ingested += 1
    every = pipe.settings.trim_heap_every
    if every and pipe.ingested % every == 0:
        trim_heap()
    return result


def _ingest_article(
    pipe: Pipeline, url: str, *, source: str | None, follow_canonical: bool
) -> ArticleResult:
    now = pipe.clock()
    try:
        requested = canonicalize(url)
    except InvalidURLError as exc:
        return ArticleResult(url, "failed", outcome=Outcome.BLOCKED.value, error=str(exc))
    asked = requested
    article = pipe.archive.find_article(requested)
    if article is not None and article.canonical_url != requested:
        # A known alias: fetch the article's own URL, not the copy.
        requested = article.canonical_url
    result = pipe.fetcher.fetch(
        requested,
        etag=article.etag if article else None,
        last_modified=article.last_modified if article else None,
        allowed_types=HTML_TYPES,
    )
    article_id = article.id if article else None

    if result.outcome is Outcome.NOT_MODIFIED and article is not None:
        _record(pipe, result, source=source, kind="article", article_id=article_id)
        _checked(pipe, article, now, ok=True)
        return ArticleResult(
            url, "not_modified", requested, article_id, article.latest_version, result.outcome.value
        )
    if not result.ok:
        _record(pipe, result, source=source, kind="article", article_id=article_id)
        if article is not None:
            _failed(pipe, article, now, result.error)
        return ArticleResult(
            url, "failed", requested, article_id, None, result.outcome.value, result.error
        )

    body_sha = hashlib.sha256(result.body).hexdigest()
    if article is not None and article.body_sha256 == body_sha and article.latest_version:
        # Byte-identical to what we archived last time: no need to extract again.
        _record(
            pipe,
            result,
            source=source,
            kind="article",
            article_id=article_id,
            capture_sha256=body_sha,
        )
        _checked(pipe, article, now, ok=True, result=result)
        return ArticleResult(url, "identical", requested, article_id, article.latest_version, "ok")

    try:
        extracted = extract_article(result.text, result.final_url)
    except ExtractionError as exc:
        _record(
            pipe,
            result,
            source=source,
            kind="article",
            article_id=article_id,
            outcome=Outcome.PARSE_ERROR.value,
            error=str(exc),
        )
        if article is not None:
            _failed(pipe, article, now, str(exc))
        return ArticleResult(
            url, "failed", requested, article_id, None, Outcome.PARSE_ERROR.value, str(exc)
        )

    # An article that already has versions keeps its key; a new one takes the
    # URL the page itself declares (rel=canonical) or the one we landed on.
    if article is not None and article.latest_version:
        key = requested
    else:
        key = _article_key(requested, result.final_url, extracted)
    if key != requested:
        existing = pipe.archive.find_article(key)
        if existing is not None:
            # A copy (AMP, tracking link, redirect) of an article we already track:
            # remember the URL, but a copy never makes a version of its own.
            _record(pipe, result, source=source, kind="article", article_id=existing.id)
            _absorb(pipe, article, existing.id, [url, requested, result.final_url])
            return ArticleResult(url, "alias", key, existing.id, existing.latest_version, "ok")
        if follow_canonical:
            _record(pipe, result, source=source, kind="article", article_id=article_id)
            followed = _ingest_article(pipe, key, source=source, follow_canonical=False)
            if followed.article_id is not None:
                _absorb(pipe, article, followed.article_id, [url, requested, result.final_url])
                return followed
            log.info("canonical %s of %s failed (%s); archiving the copy", key, url, followed.error)
            key = requested

    # The host's learned template (issue 10); an article's first version teaches it.
    first_version = article is None or not article.latest_version
    extracted.text = apply_host_template(
        HostTemplates(pipe.archive.engine), key, extracted.text, learn=first_version
    )
    capture_sha = pipe.archive.store_capture(
        result.body, content_type=result.content_type, base_sha256=_base(article)
    )
    fetch_id = _record(
        pipe,
        result,
        source=source,
        kind="article",
        article_id=article_id,
        capture_sha256=capture_sha,
    )
    if article is not None and article.canonical_url == key:
        target = article
    else:
        target, _ = pipe.archive.get_or_create_article(
            key, source=source, seen_at=now, next_check_at=None
        )
        if article is not None and article.id != target.id:
            _absorb(pipe, article, target.id, [])
    other_urls = {asked, requested, _canonical_or(result.final_url, key)} - {key}
    if other_urls:
        pipe.archive.add_aliases(target.id, other_urls)

    text_hash = text_sha256(extracted.text)
    twin = _same_story(pipe, target, key, extracted.text, text_hash)
    if twin is not None:
        # The same text under another URL of the same site, with no rel=canonical
        # to say so (a story filed under two sections): one article, two URLs.
        _absorb(pipe, target, twin.id, [url, requested, result.final_url, key])
        _checked(pipe, twin, now, ok=True)
        return ArticleResult(url, "alias", twin.canonical_url, twin.id, twin.latest_version, "ok")

    previous = pipe.archive.get_version(target.id) if target.latest_version else None
    new_fields = (extracted.title, extracted.byline, extracted.text)
    old_fields = (previous.title, previous.byline, previous.text) if previous else None
    summary = summarize_change(old_fields, new_fields)
    stored = pipe.archive.add_version(
        target.id,
        NewVersion(
            fetched_at=result.started_at,
            title=extracted.title,
            byline=extracted.byline,
            published=extracted.published,
            modified=extracted.modified,
            language=extracted.language,
            section=extracted.section,
            image_url=extracted.image_url,
            canonical_url=extracted.canonical_url,
            description=extracted.description,
            text=extracted.text,
            text_sha256=text_hash,
            fingerprint=fingerprint(*new_fields),
            capture_sha256=capture_sha,
            fetch_id=fetch_id,
            words_added=summary.words_added,
            words_removed=summary.words_removed,
            change=summary.describe(),
        ),
    )
    _checked(pipe, target, now, ok=True, result=result, body_sha=body_sha)
    if stored is None:
        latest = previous.number if previous else target.latest_version
        return ArticleResult(url, "unchanged", key, target.id, latest, "ok")
    action = "new" if stored.number == 1 else "changed"
    return ArticleResult(url, action, key, target.id, stored.number, "ok", None, stored.change)


def _log_outcome(result: ArticleResult) -> None:
    """One line per article: failures once as a warning, the rest at -v."""
    if result.action == "failed":
        log.warning("failed %s: %s: %s", result.url, result.outcome, result.error)
        return
    url = result.canonical_url or result.url
    version = f" v{result.version}" if result.version else ""
    change = f" ({result.change})" if result.action == "changed" and result.change else ""
    log.info("%s%s %s%s", result.action, version, url, change)


def revisit_due(pipe: Pipeline, *, limit: int | None = None) -> list[ArticleResult]:
    """Re-fetch every tracked article whose next check is due now."""
    due = pipe.archive.due_articles(pipe.clock(), limit or pipe.settings.revisit_batch)
    return [ingest_article(pipe, a.canonical_url, source=a.source) for a in due]


def ingest_urls(
    pipe: Pipeline,
    urls: Iterable[str],
    *,
    source: str | None = None,
    progress: Callable[[ArticleResult], None] | None = None,
) -> list[ArticleResult]:
    """Ingest several URLs one after another (the embedded mode's fan-out)."""
    results = []
    for url in urls:
        result = ingest_article(pipe, url, source=source)
        results.append(result)
        if progress:
            progress(result)
    return results


# --- helpers -------------------------------------------------------------------


def _article_key(requested: str, final_url: str, extracted: Extracted) -> str:
    """The URL that names this article: rel=canonical when trustworthy, else where we landed."""
    landed = _canonical_or(final_url, requested)
    if extracted.canonical_url:
        try:
            declared = canonicalize(extracted.canonical_url, base=final_url)
        except InvalidURLError:
            return landed
        # A page may only claim a canonical on its own site: anyone can write any
        # rel=canonical, and trusting a foreign one would let a page hijack another.
        if same_site(declared, landed):
            return declared
    return landed


def _canonical_or(url: str, fallback: str) -> str:
    try:
        return canonicalize(url)
    except InvalidURLError:
        return fallback


def _same_story(pipe: Pipeline, target: Any, key: str, text: str, text_hash: str) -> Any | None:
    """An archived article of the same site whose latest text is exactly this one."""
    # Only for a first version, and only for real article text: short pages
    # ("Page not found", a paywall stub) are alike without being the same story.
    if target.latest_version or len(text.split()) < pipe.settings.duplicate_min_words:
        return None
    for twin in pipe.archive.articles_with_text(text_hash, exclude=target.id):
        if same_site(twin.canonical_url, key):
            return twin
    return None


def _absorb(pipe: Pipeline, placeholder: Any, target_id: int, urls: Iterable[str]) -> None:
    """Fold a URL we tracked on its own into the article it turned out to be."""
    urls = {u for u in urls if u}
    if placeholder is not None and placeholder.id != target_id:
        pipe.archive.merge_article(placeholder.id, into=target_id)
    pipe.archive.add_aliases(target_id, urls)


def _base(article: Any) -> str | None:
    return article.body_sha256 if article is not None else None


def _record(
    pipe: Pipeline,
    result: FetchResult,
    *,
    source: str | None,
    kind: str,
    article_id: int | None = None,
    outcome: str | None = None,
    error: str | None = None,
    capture_sha256: str | None = None,
) -> int:
    return pipe.archive.record_fetch(
        url=result.url,
        source=source,
        kind=kind,
        started_at=result.started_at,
        duration=result.duration,
        status=result.status,
        size=result.size,
        outcome=outcome or result.outcome.value,
        error=error if error is not None else result.error,
        article_id=article_id,
        capture_sha256=capture_sha256,
        headers=result.headers,
    )


def _checked(
    pipe: Pipeline,
    article: Any,
    now: datetime,
    *,
    ok: bool,
    result: FetchResult | None = None,
    body_sha: str | None = None,
) -> None:
    pipe.archive.mark_checked(
        article.id,
        checked_at=now,
        ok=ok,
        next_check_at=(
            pipe.revisits.next_check_at(article.first_seen_at, now) if pipe.revisits else None
        ),
        etag=result.etag if result else None,
        last_modified=result.last_modified if result else None,
        body_sha256=body_sha,
    )


def _failed(pipe: Pipeline, article: Any, now: datetime, error: str | None) -> None:
    # Back off exponentially from a failing URL; the article is marked failed
    # by the archive after MAX_ARTICLE_FAILURES attempts in a row.
    delay = pipe.settings.failed_fetch_retry * (2 ** min(article.failures, 10))
    pipe.archive.mark_checked(
        article.id,
        checked_at=now,
        ok=False,
        next_check_at=now + timedelta(seconds=min(delay, pipe.settings.failed_fetch_max_retry)),
        error=error,
    )
