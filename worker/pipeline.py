"""The work itself: poll a source, ingest an article, revisit what is due.

These functions are the whole pipeline, free of any executor: the embedded
scheduler calls them in-process and the Celery tasks call the very same ones.
An article flows through a visible chain of steps, one function each, read
top to bottom in ``_ingest_article``; a step that settles the article early
(a 304, a failure, an alias) raises ``_Settled`` with its result::

    find -> fetch -> (gone: 404/410? stop) -> (304, failed or byte-identical? stop)
         -> extract -> (redirected to another article? stop)
         -> resolve the key (alias of a known article? stop) -> target article
         -> dedupe (same story elsewhere? stop) -> version + store

Everything one fetch stores (capture, fetch log, aliases, version, next check)
is written in one transaction under the article's lock (``Archive.record_ingest``).

Nothing here raises for bad input from the web: every failure is recorded in
the fetch log and in the result, so one failing URL never stops a run.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from editions.errors import DiscoveryError, ExtractionError, InvalidURLError
from editions.records import RevisitPolicy, Source
from editions.settings import Settings
from storage.archive import Archive, Check, FetchEntry, Ingest, NewVersion
from storage.captures import PreparedCapture
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
from worker.extract.templates import strip_host_template
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
# An archived page answering these has been taken down.
GONE_STATUSES = frozenset({404, 410})
# A redirect landing on a page sharing this much of the article's words is the same story.
SAME_STORY_SHARE = 0.6


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
    # Exceptions the executor handles itself (Celery's soft time limit, a broker error):
    # they pass through ingest_article instead of counting against the article.
    passthrough: tuple[type[BaseException], ...] = ()
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
    (the URL belongs to an article already archived), ``removed`` (an archived
    page now answers 404/410), ``moved`` (it now redirects to another article),
    ``failed``.
    """

    url: str
    action: str
    canonical_url: str | None = None
    article_id: int | None = None
    version: int | None = None
    outcome: str | None = None
    error: str | None = None
    change: str | None = None
    http_status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> dict[str, Any]:
        """The small record a Celery task returns (Flower shows it)."""
        return {
            "url": self.url,
            "action": self.action,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "version": self.version,
            "change": self.change,
        }


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
    """Fetch one article URL and archive a new version if its content changed.

    An unexpected exception in this article's ingest is recorded as its failure (see
    ``_unexpected``) and never stops the caller's run; a database that cannot be
    reached still raises, as it is no fault of the article.
    """
    try:
        result = _ingest_article(pipe, url, source=source, follow_canonical=follow_canonical)
    except Exception as exc:
        if isinstance(exc, pipe.passthrough) or _unreachable(exc):
            raise
        result = _unexpected(pipe, url, source, exc)
    _log_outcome(result)
    pipe.ingested += 1
    every = pipe.settings.trim_heap_every
    if every and pipe.ingested % every == 0:
        trim_heap()
    return result


# What an unexpected failure is logged as, in the fetch log and the result.
UNEXPECTED = "error"


def _unreachable(exc: Exception) -> bool:
    """The database is down or busy (a connection lost, SQLite locked): the task or run
    should fail and be retried, not count against the article."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        # Postgres names each statement error with an SQLSTATE; a lost connection has none.
        # SQLite's OperationalError is 'database is locked' or a disk error, never the row's.
        return isinstance(exc, sa.exc.OperationalError) and not getattr(exc.orig, "sqlstate", None)
    return False


def _unexpected(pipe: Pipeline, url: str, source: str | None, exc: Exception) -> ArticleResult:
    """Record an exception that escaped the steps: the fetch log gets a row and the
    article a failure (with backoff; failed after MAX_ARTICLE_FAILURES in a row)."""
    error = f"{type(exc).__name__}: {exc}"[:1000]
    # The failure's one line comes from _log_outcome; the traceback is for -vv.
    log.debug("ingest of %s raised", url, exc_info=exc)
    now = pipe.clock()
    try:
        key = canonicalize(url)
    except InvalidURLError:
        key = url
    article = pipe.archive.find_article(key)
    if article is None:
        article, _ = pipe.archive.get_or_create_article(
            key, source=source, seen_at=now, next_check_at=None
        )
    pipe.archive.record_fetch(
        url=url,
        source=source,
        kind="article",
        started_at=now,
        duration=0.0,
        status=None,
        size=0,
        outcome=UNEXPECTED,
        error=error,
        article_id=article.id,
    )
    pipe.archive.mark_checked(article.id, **vars(_failed(pipe, article, now, error)))
    return ArticleResult(url, "failed", key, article.id, None, UNEXPECTED, error)


class _Settled(Exception):
    """Raised by a step of ``_ingest_article`` that settles the article early."""

    def __init__(self, result: ArticleResult) -> None:
        super().__init__(result.action)
        self.result = result


@dataclass
class _Job:
    """One article URL on its way through the steps, and what they learned about it."""

    pipe: Pipeline
    url: str  # as given
    source: str | None
    now: datetime
    http_status: int | None = None  # of the page's answer, once fetched
    template: tuple[str, set[str]] | None = None  # what this article teaches its host's template
    asked: str = ""  # canonicalised
    requested: str = ""  # what is fetched: the article's own URL when `asked` is an alias
    article: Any = None  # the archived article, if known

    @property
    def article_id(self) -> int | None:
        return self.article.id if self.article is not None else None

    def settle(self, action: str, *args: Any) -> _Settled:
        return _Settled(ArticleResult(self.url, action, *args))


def _ingest_article(
    pipe: Pipeline, url: str, *, source: str | None, follow_canonical: bool
) -> ArticleResult:
    job = _Job(pipe, url, source, pipe.clock())
    try:
        _find(job)
        result = _fetch(job)
        job.http_status = result.status
        _stop_if_removed(job, result)
        _stop_unless_new_content(job, result)
        extracted = _extract(job, result)
        _stop_if_moved(job, result, extracted)
        key = _resolve_key(job, result, extracted, follow_canonical)
        # The host's learned template (issue 10); an article's first version teaches it,
        # in the same write as the version.
        extracted.text, lesson = strip_host_template(
            HostTemplates(pipe.archive.engine), key, extracted.text
        )
        if job.article is None or not job.article.latest_version:
            job.template = lesson
        target = _target(job, key)
        aliases = {job.asked, job.requested, _canonical_or(result.final_url, key)} - {key}
        capture = pipe.archive.prepare_capture(
            result.body, content_type=result.content_type, base_sha256=_base(job.article)
        )
        text_hash = text_sha256(extracted.text)
        _stop_if_same_story(job, result, extracted.text, text_hash, key, target, capture, aliases)
        outcome = _store_version(job, result, extracted, text_hash, key, target, capture, aliases)
    except _Settled as settled:
        outcome = settled.result
    if outcome.http_status is None:
        outcome.http_status = job.http_status
    return outcome


def _find(job: _Job) -> None:
    """Canonicalise the URL and look it up; a known alias fetches its article's own URL."""
    try:
        job.asked = canonicalize(job.url)
    except InvalidURLError as exc:
        raise job.settle("failed", None, None, None, Outcome.BLOCKED.value, str(exc)) from None
    job.article = job.pipe.archive.find_article(job.asked)
    job.requested = job.article.canonical_url if job.article is not None else job.asked


def _fetch(job: _Job) -> FetchResult:
    article = job.article
    return job.pipe.fetcher.fetch(
        job.requested,
        etag=article.etag if article else None,
        last_modified=article.last_modified if article else None,
        allowed_types=HTML_TYPES,
    )


def _stop_if_removed(job: _Job, result: FetchResult) -> None:
    """An archived page that answers 404 or 410 is removed: an event, not a failure.

    A URL never archived that answers 404 is an ordinary failure (it may be a
    feed's typo, or not published yet), counted toward giving up on it.
    """
    article = job.article
    if article is None or not article.latest_version or result.status not in GONE_STATUSES:
        return
    reason = f"HTTP {result.status}"
    _record_removal(job, result, "removed", reason, result.error or reason)
    raise job.settle(
        "removed", job.requested, article.id, article.latest_version, result.outcome.value,
        result.error,
    )


def _stop_if_moved(job: _Job, result: FetchResult, extracted: Extracted) -> None:
    """An archived page that now redirects to another article has moved: an event, and
    the other page's text never becomes a version of this article.

    A redirect that lands on the same story stays this article (its new URL an alias):
    the landing page names this article (rel=canonical, a known alias), or, as after
    a headline edit that changed the slug, its text is mostly this article's text.
    """
    article, pipe = job.article, job.pipe
    if article is None or not article.latest_version or not result.redirects:
        return
    landed = _canonical_or(result.final_url, job.requested)
    key = _article_key(job.requested, result.final_url, extracted)
    if landed == job.requested or key == job.requested:
        return
    own = {article.canonical_url, *pipe.archive.aliases(article.id)}
    if landed in own or key in own:
        return
    other = pipe.archive.find_article(key) or pipe.archive.find_article(landed)
    if other is None:
        previous = pipe.archive.get_version(article.id)
        if previous is not None and _mostly_same_text(previous.text, extracted.text):
            return
    elif other.id == article.id:
        return
    _record_removal(job, result, "moved", key, f"moved to {key}")
    raise job.settle(
        "moved", job.requested, article.id, article.latest_version, "ok", None, f"moved to {key}"
    )


def _stop_unless_new_content(job: _Job, result: FetchResult) -> None:
    """Settle without extracting: not modified (304), a failed fetch, or a byte-identical body."""
    article, pipe = job.article, job.pipe
    if result.outcome is Outcome.NOT_MODIFIED and article is not None:
        _record_check(job, result, _check(pipe, article, job.now))
        raise job.settle(
            "not_modified", job.requested, article.id, article.latest_version, result.outcome.value
        )
    if not result.ok:
        _record_failure(job, result, result.outcome.value, result.error)
        raise job.settle(
            "failed", job.requested, job.article_id, None, result.outcome.value, result.error
        )
    body_sha = hashlib.sha256(result.body).hexdigest()
    if article is not None and article.body_sha256 == body_sha and article.latest_version:
        # Byte-identical to what we archived last time: no need to extract again.
        _record_check(
            job, result, _check(pipe, article, job.now, result=result), capture_sha256=body_sha
        )
        raise job.settle("identical", job.requested, article.id, article.latest_version, "ok")


def _extract(job: _Job, result: FetchResult) -> Extracted:
    try:
        return extract_article(result.text, result.final_url)
    except ExtractionError as exc:
        _record_failure(job, result, Outcome.PARSE_ERROR.value, str(exc))
        raise job.settle(
            "failed", job.requested, job.article_id, None, Outcome.PARSE_ERROR.value, str(exc)
        ) from None


def _resolve_key(job: _Job, result: FetchResult, extracted: Extracted, follow: bool) -> str:
    """The URL that names the article.

    An article that already has versions keeps its key; a new one takes the URL
    the page itself declares (rel=canonical) or the one we landed on. When that
    key is an article we already track, this URL is settled as its alias; an
    unknown key is ingested on its own first (once: ``follow``).
    """
    pipe, article = job.pipe, job.article
    if article is not None and article.latest_version:
        return job.requested
    key = _article_key(job.requested, result.final_url, extracted)
    if key == job.requested:
        return key
    copies = [job.url, job.requested, result.final_url]
    existing = pipe.archive.find_article(key)
    if existing is not None:
        # A copy (AMP, tracking link, redirect) of an article we already track:
        # remember the URL, but a copy never makes a version of its own.
        _record(pipe, result, source=job.source, kind="article", article_id=existing.id)
        _absorb(pipe, article, existing.id, copies)
        raise job.settle("alias", key, existing.id, existing.latest_version, "ok")
    if not follow:
        return key
    _record(pipe, result, source=job.source, kind="article", article_id=job.article_id)
    followed = _ingest_article(pipe, key, source=job.source, follow_canonical=False)
    if followed.article_id is not None:
        _absorb(pipe, article, followed.article_id, copies)
        raise _Settled(followed)
    log.info("canonical %s of %s failed (%s); archiving the copy", key, job.url, followed.error)
    return job.requested


def _target(job: _Job, key: str) -> Any:
    """The article the version goes to: the one found, else the one ``key`` names."""
    article = job.article
    if article is not None and article.canonical_url == key:
        return article
    target, _ = job.pipe.archive.get_or_create_article(
        key, source=job.source, seen_at=job.now, next_check_at=None
    )
    if article is not None and article.id != target.id:
        _absorb(job.pipe, article, target.id, [])
    return target


def _stop_if_same_story(
    job: _Job,
    result: FetchResult,
    text: str,
    text_hash: str,
    key: str,
    target: Any,
    capture: PreparedCapture,
    aliases: set[str],
) -> None:
    """Settle as an alias when an archived article of the same site has exactly this text:
    a story filed under two sections, with no rel=canonical to say so."""
    pipe = job.pipe
    twin = _same_story(pipe, target, key, text, text_hash)
    if twin is None:
        return
    pipe.archive.record_ingest(
        Ingest(
            target.id,
            _fetch_entry(job, result, target, capture_sha256=capture.sha256),
            capture=capture,
            aliases=aliases,
        )
    )
    _absorb(pipe, target, twin.id, [job.url, job.requested, result.final_url, key])
    pipe.archive.mark_checked(twin.id, **vars(_check(pipe, twin, job.now)))
    raise job.settle("alias", twin.canonical_url, twin.id, twin.latest_version, "ok")


def _store_version(
    job: _Job,
    result: FetchResult,
    extracted: Extracted,
    text_hash: str,
    key: str,
    target: Any,
    capture: PreparedCapture,
    aliases: set[str],
) -> ArticleResult:
    """Capture, fetch log, aliases, the version (unless unchanged) and the next check,
    in one write."""
    pipe = job.pipe
    previous = pipe.archive.get_version(target.id) if target.latest_version else None
    new_fields = (extracted.title, extracted.byline, extracted.text)
    old_fields = (previous.title, previous.byline, previous.text) if previous else None
    summary = summarize_change(old_fields, new_fields)
    version = NewVersion.from_content(
        extracted,
        fetched_at=result.started_at,
        text_sha256=text_hash,
        fingerprint=fingerprint(*new_fields),
        capture_sha256=capture.sha256,
        words_added=summary.words_added,
        words_removed=summary.words_removed,
        change=summary.describe(),
    )
    stored = pipe.archive.record_ingest(
        Ingest(
            target.id,
            _fetch_entry(job, result, target, capture_sha256=capture.sha256),
            check=_check(
                pipe,
                target,
                job.now,
                result=result,
                body_sha=capture.sha256,
                changed=previous is None or previous.fingerprint != version.fingerprint,
            ),
            capture=capture,
            version=version,
            aliases=aliases,
            template=job.template,
        )
    ).version
    if stored is None:
        latest = previous.number if previous else target.latest_version
        return ArticleResult(job.url, "unchanged", key, target.id, latest, "ok")
    action = "new" if stored.number == 1 else "changed"
    return ArticleResult(job.url, action, key, target.id, stored.number, "ok", None, stored.change)


def _log_outcome(result: ArticleResult) -> None:
    """One line per article: failures once as a warning, the rest at -v."""
    if result.action == "failed":
        log.warning("failed %s: %s: %s", result.url, result.outcome, result.error)
        return
    url = result.canonical_url or result.url
    version = f" v{result.version}" if result.version else ""
    change = f" ({result.change})" if result.action in ("changed", "moved") and result.change else ""
    if result.action == "removed":
        change = f" ({result.error})"
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


def _mostly_same_text(old: str, new: str) -> bool:
    """Whether two texts share most of their words: the same story, lightly edited."""
    old_words, new_words = Counter(old.split()), Counter(new.split())
    longer = max(sum(old_words.values()), sum(new_words.values()))
    return longer > 0 and sum((old_words & new_words).values()) / longer >= SAME_STORY_SHARE


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


def _fetch_entry(
    job: _Job,
    result: FetchResult,
    target: Any,
    *,
    outcome: str | None = None,
    error: str | None = None,
    capture_sha256: str | None = None,
) -> FetchEntry:
    """The fetch log row of an article fetch. Its article is the one found (when
    that was folded into ``target`` by now, ``target``, where a merge moves it)."""
    return FetchEntry(
        url=result.url,
        source=job.source,
        kind="article",
        started_at=result.started_at,
        duration=result.duration,
        status=result.status,
        size=result.size,
        outcome=outcome or result.outcome.value,
        error=error if error is not None else result.error,
        article_id=target.id if job.article is not None and target is not None else None,
        capture_sha256=capture_sha256,
        headers=result.headers,
    )


def _record_check(
    job: _Job, result: FetchResult, check: Check, *, capture_sha256: str | None = None
) -> None:
    """Log the fetch and the found article's next check, in one write."""
    entry = _fetch_entry(job, result, job.article, capture_sha256=capture_sha256)
    job.pipe.archive.record_ingest(Ingest(job.article.id, entry, check=check))


def _record_removal(job: _Job, result: FetchResult, kind: str, detail: str, error: str) -> None:
    """Log the fetch and mark the found article gone ("removed" or "moved" to ``detail``),
    in one write; it is checked again, sparsely, for a while: the page may come back."""
    pipe, article, now = job.pipe, job.article, job.now
    since = pipe.archive.removed_since(article.id) if article.status == "removed" else None
    watch_until = (since or now) + timedelta(seconds=pipe.settings.removed_revisit_for)
    next_at = now + timedelta(seconds=pipe.settings.removed_revisit_every)
    check = Check(
        checked_at=now,
        ok=False,
        next_check_at=next_at if next_at <= watch_until else None,
        error=error,
        removed=kind,
        detail=detail,
    )
    entry = _fetch_entry(job, result, article)
    pipe.archive.record_ingest(Ingest(article.id, entry, check=check))


def _record_failure(job: _Job, result: FetchResult, outcome: str, error: str | None) -> None:
    """Log a failed fetch or extraction; a known article backs off before its next try."""
    if job.article is None:
        _record(job.pipe, result, source=job.source, kind="article", outcome=outcome, error=error)
        return
    entry = _fetch_entry(job, result, job.article, outcome=outcome, error=error)
    check = _failed(job.pipe, job.article, job.now, error)
    job.pipe.archive.record_ingest(Ingest(job.article.id, entry, check=check))


def _check(
    pipe: Pipeline,
    article: Any,
    now: datetime,
    *,
    result: FetchResult | None = None,
    body_sha: str | None = None,
    changed: bool = False,
) -> Check:
    """A successful check of ``article``: plan the next one by the revisit policy.

    The policy's tiers count from the last real change: now when this check found one
    (``changed``), else the article's stored ``last_changed_at``."""
    last_changed = now if changed else getattr(article, "last_changed_at", None)
    return Check(
        checked_at=now,
        ok=True,
        next_check_at=(
            pipe.revisits.next_check_at(article.first_seen_at, now, last_changed=last_changed)
            if pipe.revisits
            else None
        ),
        etag=result.etag if result else None,
        last_modified=result.last_modified if result else None,
        body_sha256=body_sha,
    )


def _failed(pipe: Pipeline, article: Any, now: datetime, error: str | None) -> Check:
    # Back off exponentially from a failing URL; the article is marked failed
    # by the archive after MAX_ARTICLE_FAILURES attempts in a row.
    delay = pipe.settings.failed_fetch_retry * (2 ** min(article.failures, 10))
    return Check(
        checked_at=now,
        ok=False,
        next_check_at=now + timedelta(seconds=min(delay, pipe.settings.failed_fetch_max_retry)),
        error=error,
    )
