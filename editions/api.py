"""The Python API: everything the CLI does, as plain functions on one object.

    from editions.api import Editions
    with Editions("sqlite:///news.db", sources_path="sources.toml") as ed:
        report = ed.run_once()
        for hit in ed.search('"city council" budget'):
            print(hit["url"], hit["snippet"])

The CLI (``editions.cli``) is a thin layer over this module.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from editions.errors import (
    ArticleNotFoundError,
    CaptureNotFoundError,
    InvalidURLError,
    SearchQueryError,
    UnknownSourceError,
    VersionNotFoundError,
)
from editions.records import RevisitPolicy
from editions.settings import Settings
from schedules.scheduler import Scheduler
from schedules.sources import (
    Source,
    SourcesWatcher,
    add_source,
    default_sources_path,
    load_sources,
    parse_sources,
    read_sources_text,
    remove_source,
    write_sources_text,
)
from storage.archive import Archive
from storage.articles import state_of
from storage.models import VersionContent
from worker.canonical import canonicalize
from worker.extract import extract_article
from worker.fetch import Fetcher
from worker.pipeline import (
    ArticleResult,
    Pipeline,
    PollResult,
    ingest_article,
    ingest_urls,
    poll_source,
    revisit_due,
)
from worker.response import Fetches
from worker.version import render_diff, render_field_change, summarize_change, word_diff

log = logging.getLogger(__name__)

# A saved search (feeds, webhooks) follows the edits of at most this many best matches.
SAVED_SEARCH_LIMIT = 1000
# What `import_warc` ingests: pages, not their images or scripts.
IMPORT_TYPES = frozenset({"text/html", "application/xhtml+xml"})

__all__ = [
    "ArticleNotFoundError",
    "Editions",
    "RunReport",
    "SearchQueryError",
    "VersionNotFoundError",
    "extract_file",
]




@dataclass
class RunReport:
    """What one pass over the sources did."""

    polls: list[PollResult] = field(default_factory=list)
    articles: list[ArticleResult] = field(default_factory=list)

    def failures(self) -> int:
        """Sources whose poll failed plus articles whose fetch failed."""
        failed_polls = sum(1 for poll in self.polls if poll.error is not None)
        return failed_polls + sum(1 for a in self.articles if a.action == "failed")

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.articles:
            counts[result.action] = counts.get(result.action, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": [p.as_dict() for p in self.polls],
            "articles": [a.as_dict() for a in self.articles],
            "counts": self.counts(),
        }


@dataclass
class _Totals:
    """What a long-running mode has done since it started, for its summary lines."""

    started: datetime
    polls: int = 0
    failed_polls: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    last_summary: datetime | None = None

    def add(self, report: RunReport) -> None:
        self.polls += len(report.polls)
        self.failed_polls += sum(1 for p in report.polls if p.error is not None)
        for action, n in report.counts().items():
            self.actions[action] = self.actions.get(action, 0) + n

    def describe(self) -> str:
        articles = ", ".join(f"{n} {a}" for a, n in sorted(self.actions.items())) or "none"
        failed = f" ({self.failed_polls} failed)" if self.failed_polls else ""
        return f"{self.polls} polls{failed}; articles: {articles}"

    def maybe_summarise(self, now: datetime, every: float) -> None:
        last = self.last_summary or self.started
        if every and (now - last).total_seconds() >= every:
            self.last_summary = now
            log.info("so far: %s", self.describe())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Editions:
    """One archive plus its sources: the object every command works through."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        sources_path: str | os.PathLike[str] | None = None,
        settings: Settings | None = None,
        clock: Callable[[], datetime] | None = None,
        fetcher: Fetches | None = None,
        create: bool = True,
    ) -> None:
        """Open the archive at ``database_url`` lazily.

        ``settings`` default to the ``EDITIONS_*`` environment. ``clock`` (returning an
        aware UTC datetime) and ``fetcher`` (anything with ``Fetcher.fetch``'s signature
        and result) let simulations and tests drive the real pipeline. ``create=False``
        refuses to make a new archive where there is none (ArchiveNotFoundError).
        """
        self.settings = settings or Settings.from_env()
        self.clock = clock or _utc_now
        self._fetcher = fetcher
        self.create = create
        self._totals = _Totals(started=self.clock())
        self.database_url = database_url or self.settings.database_url
        self.sources_path = Path(sources_path) if sources_path else None
        self._archive: Archive | None = None
        self._pipeline: Pipeline | None = None

    # --- lifecycle -------------------------------------------------------------
    @property
    def archive(self) -> Archive:
        if self._archive is None:
            self._archive = Archive(self.database_url, settings=self.settings, create=self.create)
        return self._archive

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = Pipeline(
                archive=self.archive,
                fetcher=self._fetcher or Fetcher(self.settings),
                settings=self.settings,
                revisits=RevisitPolicy.from_settings(self.settings),
                clock=self.clock,
            )
        return self._pipeline

    def close(self) -> None:
        # A fetcher handed in is its owner's to close; the one made here is ours.
        if self._pipeline is not None and self._fetcher is None:
            self._pipeline.fetcher.close()  # type: ignore[attr-defined]  # ours, a Fetcher
        if self._archive is not None:
            self._archive.close()
        self._pipeline = self._archive = None

    def __enter__(self) -> Editions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sources and runs ------------------------------------------------------
    def sources(self) -> list[Source]:
        return load_sources(self.sources_file())

    def sources_file(self) -> Path:
        """The sources file this instance reads and edits."""
        return self.sources_path or default_sources_path(self.settings)

    def add_source(
        self,
        name: str,
        url: str,
        *,
        kind: str = "feed",
        every: str = "10m",
        allow: str | None = None,
        deny: str | None = None,
    ) -> Source:
        """Append a source to the sources file (created if missing), keeping its comments.

        SourcesError listing every bad value, or a duplicate name; the file is then untouched.
        """
        values = {"name": name, "url": url, "kind": kind, "every": every}
        values |= {key: value for key, value in (("allow", allow), ("deny", deny)) if value}
        source = Source.from_dict(values)
        path = self.sources_file()
        text = read_sources_text(path, missing_ok=True)
        write_sources_text(path, add_source(text, source, str(path)))
        log.info("added source %s to %s", source.name, path)
        return source

    def remove_source(self, name: str) -> Source:
        """Take the source ``name`` out of the sources file; SourcesError if there is none."""
        path = self.sources_file()
        text = read_sources_text(path)
        updated = remove_source(text, name, str(path))  # SourcesError for an unknown name
        removed = next(s for s in parse_sources(text, str(path)) if s.name == name)
        write_sources_text(path, updated)
        log.info("removed source %s from %s", name, path)
        return removed

    def run_once(
        self,
        *,
        sources: Sequence[Source] | None = None,
        progress: Callable[[str, int | None], None] | None = None,
    ) -> RunReport:
        """Poll every source once, fetch the new articles, then revisit the due ones.

        ``progress(label, total)`` is called before each phase and
        ``progress("", None)`` after each item: enough for a progress bar.
        """
        sources = list(self.sources() if sources is None else sources)
        self.archive.sync_sources(sources)
        report = RunReport()
        for source in sources:
            report.polls.append(poll_source(self.pipeline, source))
        # Due articles come in batches, so a backlog of any size is never all in
        # memory at once; `now` is fixed so each article is taken once per run.
        now = self.pipeline.clock()
        if progress:
            progress("articles", self.archive.count_due(now))
        seen: set[int] = set()
        limit = self.settings.revisit_batch
        while True:
            rows = self.archive.due_articles(now, limit=limit)
            batch = [a for a in rows if a.id not in seen]
            if not batch:
                if len(rows) < limit:
                    break
                # Only articles handled already (and somehow still due) up front: look further.
                limit += self.settings.revisit_batch
                continue
            for article in batch:
                seen.add(article.id)
                report.articles.append(
                    ingest_article(self.pipeline, article.canonical_url, source=article.source)
                )
                if progress:
                    progress("", None)
        self.notify(report.articles)
        return report

    def poll_and_ingest(self, source: Source) -> RunReport:
        """One scheduled tick of a source in the embedded mode: poll, then fetch what is new."""
        poll = poll_source(self.pipeline, source)
        articles = ingest_urls(self.pipeline, poll.new_urls, source=source.name)
        self.notify(articles)
        report = RunReport(polls=[poll], articles=articles)
        self._totals.add(report)
        return report

    def revisit_due(self) -> list[ArticleResult]:
        """Re-fetch the articles due now (one batch): the embedded scheduler's revisit job."""
        results = self.notify(revisit_due(self.pipeline))
        self._totals.add(RunReport(articles=results))
        self._totals.maybe_summarise(self.clock(), self.settings.summary_every)
        return results

    def revisit(
        self, urls: Sequence[str] = (), *, all_articles: bool = False
    ) -> list[ArticleResult]:
        """Re-fetch tracked articles now, due or not."""
        if all_articles:
            targets = [(a["canonical_url"], a["source"]) for a in self.archive.iter_articles()]
        else:
            targets = []
            for url in urls:
                article = self._article(url)
                targets.append((article.canonical_url, article.source))
        return self.notify(
            [ingest_article(self.pipeline, url, source=source) for url, source in targets]
        )

    def run_forever(self, *, revisit_every: float | None = None) -> None:
        """The embedded scheduler: APScheduler in this process until Ctrl-C/SIGTERM."""
        sources = self.sources()
        self.archive.sync_sources(sources)
        watcher = SourcesWatcher(self.sources_file())

        def reload() -> list[Source]:
            fresh = self.sources()
            self.archive.sync_sources(fresh)
            return fresh

        scheduler = Scheduler(
            sources,
            poll=self.poll_and_ingest,
            revisit=self.revisit_due,
            revisit_every=_seconds(revisit_every or self.settings.revisit_tick),
            first_poll_at=self._next_poll_at,
        )
        self._totals = _Totals(started=self.clock())
        log.info(
            "started: %d sources from %s, archive %s; Ctrl-C to stop",
            len(sources),
            self.sources_file(),
            _redact(self.database_url),
        )
        try:
            scheduler.run_forever(on_reload=reload, changed=watcher.changed)
        finally:
            log.info("stopped: %s", self._totals.describe())

    def _next_poll_at(self, source: Source) -> datetime | None:
        state = self.archive.get_source(source.name)
        return state.next_poll_at if state else None

    # --- reading the archive ---------------------------------------------------
    def _article(self, url: str) -> Any:
        try:
            key = canonicalize(url)
        except InvalidURLError as exc:
            raise ArticleNotFoundError(f"not a valid article URL: {url!r} ({exc})") from None
        article = self.archive.find_article(key)
        if article is None:
            raise ArticleNotFoundError(f"no archived article at {url}")
        return article

    def search(
        self,
        query: str,
        *,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        language: str | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """The best matches for a web-search-style query (see the README for the syntax)."""
        if source is not None and self.archive.get_source(source) is None:
            known = ", ".join(sorted(s.name for s in self.archive.sources())) or "none yet"
            raise UnknownSourceError(f"unknown source {source!r} (known: {known})")
        hits = self.archive.search(
            query, source=source, since=since, until=until, language=language, limit=limit
        )
        return [
            {
                "url": h.url,
                "title": h.title,
                "snippet": " ".join(h.snippet.split()),
                "score": round(h.score, 6),
                "published": _iso(h.published),
                "source": h.source,
                "versions": h.versions,
                "language": h.language,
            }
            for h in hits
        ]

    def show(self, url: str, version: int | None = None) -> dict[str, Any]:
        article = self._article(url)
        found = self.archive.get_version(article.id, version)
        if found is None:
            raise VersionNotFoundError(
                f"{article.canonical_url} has versions 1..{article.latest_version}, not {version}"
                if article.latest_version
                else f"{article.canonical_url} has not been fetched successfully yet"
                f" ({_not_archived(article)})"
            )
        shown: dict[str, Any] = {
            "url": url,
            "canonical_url": article.canonical_url,
            "version": found.number,
            "versions": article.latest_version,
            "state": state_of(article),
            "last_error": article.last_error,
        }
        for name in ("fetched_at", *VersionContent.model_fields, "change"):
            # setdefault: the article's canonical URL wins over the one the page declared.
            value = getattr(found, name)
            shown.setdefault(name, _iso(value) if isinstance(value, datetime) else value)
        return shown

    def history(self, url: str) -> dict[str, Any]:
        """An article's versions and events (removed, moved, restored), its state and
        last error; ``timeline`` has both in time order."""
        article = self._article(url)
        versions = [
            {
                "version": v.number,
                "fetched_at": _iso(v.fetched_at),
                "title": v.title,
                "byline": v.byline,
                "text_sha256": v.text_sha256,
                "words_added": v.words_added,
                "words_removed": v.words_removed,
                "change": v.change,
            }
            for v in self.archive.versions(article.id)
        ]
        events = [
            {"at": _iso(e.at), "event": e.kind, "detail": e.detail}
            for e in self.archive.events(article.id)
        ]
        timeline = [{"at": v["fetched_at"], "event": "version", **v} for v in versions]
        timeline += events
        # A version sorts before an event of the same instant.
        timeline.sort(
            key=lambda item: (datetime.fromisoformat(item["at"]), item["event"] != "version")
        )
        return {
            "url": url,
            "canonical_url": article.canonical_url,
            "aliases": self.archive.aliases(article.id),
            "source": article.source,
            "status": article.status,
            "state": state_of(article),
            "last_error": article.last_error,
            "first_seen_at": _iso(article.first_seen_at),
            "last_checked_at": _iso(article.last_checked_at),
            "next_check_at": _iso(article.next_check_at),
            "versions": versions,
            "events": events,
            "timeline": timeline,
        }

    def articles(
        self,
        *,
        state: str | None = None,
        source: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Tracked articles, newest first, with state, last fetch time, outcome and error.

        ``state`` is pending (no version yet), active (archived), failed (given up after
        repeated failures) or removed (answered 404/410, or moved to another article).
        """
        if source is not None and self.archive.get_source(source) is None:
            known = ", ".join(sorted(s.name for s in self.archive.sources())) or "none yet"
            raise UnknownSourceError(f"unknown source {source!r} (known: {known})")
        return self.archive.articles(state=state, source=source, limit=limit)

    def diff(
        self,
        url: str,
        *,
        from_version: int | None = None,
        to_version: int | None = None,
        color: bool = False,
        context: int | None = 12,
    ) -> dict[str, Any]:
        """The word-level diff between two versions (default: the last two)."""
        article = self._article(url)
        latest = article.latest_version
        if latest < 1:
            raise VersionNotFoundError(f"{article.canonical_url} has no versions yet")
        if latest == 1 and from_version is None and to_version in (None, 1):
            raise VersionNotFoundError(
                f"{article.canonical_url} has only one version: nothing to compare yet"
            )
        for number in (from_version, to_version):
            if number is not None and not 1 <= number <= latest:
                raise VersionNotFoundError(
                    f"{article.canonical_url} has versions 1..{latest}, not {number}"
                )
        to_version = to_version or latest
        from_version = from_version if from_version is not None else max(1, to_version - 1)
        old = self.archive.get_version(article.id, from_version)
        new = self.archive.get_version(article.id, to_version)
        for number, found in ((from_version, old), (to_version, new)):
            if found is None:
                raise VersionNotFoundError(
                    f"{article.canonical_url} has versions 1..{latest}, not {number}"
                )
        assert old is not None and new is not None
        parts = [
            render_field_change("title", old.title, new.title, color=color),
            render_field_change("byline", old.byline, new.byline, color=color),
        ]
        body = render_diff(old.text, new.text, color=color, context=context)
        ops = word_diff(old.text, new.text)
        summary = summarize_change(
            (old.title, old.byline, old.text), (new.title, new.byline, new.text)
        )
        return {
            "url": url,
            "canonical_url": article.canonical_url,
            "from": from_version,
            "to": to_version,
            "title": [old.title, new.title],
            "byline": [old.byline, new.byline],
            "words_added": summary.words_added,
            "words_removed": summary.words_removed,
            "change": summary.describe(),
            "rendered": "\n".join([p for p in parts if p] + [body]),
            "ops": [list(op) for op in ops if op[0] != "equal"],
        }

    def status(self) -> dict[str, Any]:
        status = self.archive.status(now=self.clock())
        status["database"] = _redact(self.database_url)
        if self.settings.broker_url:
            status["distributed"] = self.broker_status()
        return status

    # --- distributed mode (Celery) -----------------------------------------------
    def broker_status(self) -> dict[str, Any]:
        """Queue lengths and active workers of the Celery broker (EDITIONS_BROKER_URL)."""
        from worker.celery_app import broker_status

        return broker_status(self.settings)

    def run_scheduler(self) -> None:
        """The distributed scheduler: send due work to Celery while leader, until SIGTERM."""
        from schedules.distributed import run_scheduler

        run_scheduler(
            database_url=self.database_url, sources_path=self.sources_path, settings=self.settings
        )

    def export(self) -> Iterator[dict[str, Any]]:
        yield from self.archive.iter_articles()

    # --- reading for the web app, feeds and scripts ------------------------------
    def changes(
        self,
        *,
        since: datetime | None = None,
        source: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
        with_diff: bool = False,
    ) -> list[dict[str, Any]]:
        """Edits (versions after the first), newest first; ``query`` keeps matching articles."""
        from storage.reading import recent_changes

        article_ids = None
        if query:
            hits = self.archive.search(query, source=source, limit=SAVED_SEARCH_LIMIT)
            article_ids = [h.article_id for h in hits]
        rows = recent_changes(
            self.archive,
            since=since,
            source=source,
            article_ids=article_ids,
            limit=limit,
            offset=offset,
        )
        changes = []
        for row in rows:
            change: dict[str, Any] = {
                "url": row.canonical_url,
                "title": row.title,
                "source": row.source,
                "version": row.number,
                "fetched_at": _iso(row.fetched_at),
                "words_added": row.words_added,
                "words_removed": row.words_removed,
                "change": row.change,
            }
            if with_diff:
                diff = self.diff(row.canonical_url, to_version=row.number, from_version=row.number - 1)
                change["diff"] = diff["rendered"]
            changes.append(change)
        return changes

    def compare(
        self, url: str, *, from_version: int | None = None, to_version: int | None = None
    ) -> dict[str, Any]:
        """Two versions side by side: their fields and every word op, equal ones included.

        The same choice of versions and the same summary as :meth:`diff`, without the
        rendered text (the web app draws the ops itself), so one word diff is computed.
        """
        article = self._article(url)
        latest = article.latest_version
        if latest < 1:
            raise VersionNotFoundError(f"{article.canonical_url} has no versions yet")
        to_version = to_version or latest
        from_version = from_version or max(1, to_version - 1)
        old = self.archive.get_version(article.id, from_version)
        new = self.archive.get_version(article.id, to_version)
        for number, found in ((from_version, old), (to_version, new)):
            if found is None:
                raise VersionNotFoundError(
                    f"{article.canonical_url} has versions 1..{latest}, not {number}"
                )
        assert old is not None and new is not None
        if from_version + 1 == to_version or from_version == to_version:
            # Consecutive versions: the summary stored with the newer one is this diff's.
            words = (new.words_added, new.words_removed) if from_version != to_version else (0, 0)
            change = new.change if from_version != to_version else ""
        else:
            summary = summarize_change(
                (old.title, old.byline, old.text), (new.title, new.byline, new.text)
            )
            words, change = (summary.words_added, summary.words_removed), summary.describe()
        return {
            "url": url,
            "canonical_url": article.canonical_url,
            "from": from_version,
            "to": to_version,
            "versions": latest,
            "title": [old.title, new.title],
            "byline": [old.byline, new.byline],
            "fetched_at": [_iso(old.fetched_at), _iso(new.fetched_at)],
            "words_added": words[0],
            "words_removed": words[1],
            "change": change,
            "ops": [list(op) for op in word_diff(old.text, new.text)],
        }

    def capture(self, url: str, version: int | None = None) -> tuple[bytes, str | None]:
        """The raw page a version was extracted from, and its content type."""
        article = self._article(url)
        found = self.archive.get_version(article.id, version)
        if found is None or not found.capture_sha256:
            raise CaptureNotFoundError(f"no raw capture kept for {article.canonical_url} v{version}")
        row = self.archive.get_capture(found.capture_sha256)
        body = self.archive.load_capture(found.capture_sha256)
        return body, row.content_type if row else None

    def source_names(self) -> list[str]:
        """The names of the sources the archive knows, sorted (cheap: no counting)."""
        return sorted(s.name for s in self.archive.sources())

    def fetch_errors(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest failed fetches, newest first."""
        from storage.reading import recent_fetch_errors

        return recent_fetch_errors(self.archive, limit=limit)

    def export_warc(
        self,
        stream: BinaryIO,
        *,
        source: str | None = None,
        since: datetime | None = None,
        pages: list[dict[str, Any]] | None = None,
    ) -> dict[str, int]:
        """Write every kept capture as WARC/1.1 request, response and metadata records.

        ``pages``, if given, receives a WACZ page entry for each capture that made a version.
        """
        from editions import __version__
        from storage.reading import captured_fetches
        from worker.warc import WarcExporter

        exporter = WarcExporter(
            stream, user_agent=self.settings.user_agent, software=f"editions/{__version__}"
        )
        responses = 0
        for row in captured_fetches(self.archive, source=source, since=since):
            try:
                headers = json.loads(row.headers) if row.headers else {}
            except ValueError:
                headers = {}
            exporter.add(
                url=row.url,
                fetched_at=row.started_at,
                status=row.status,
                headers=headers,
                body=self.archive.load_capture(row.capture_sha256),
                metadata={
                    "article": row.canonical_url,
                    "version": row.version,
                    "source": row.source,
                    "fetch_id": row.fetch_id,
                },
            )
            responses += 1
            if pages is not None and row.version is not None and row.article_id is not None:
                version = self.archive.get_version(row.article_id, row.version)
                pages.append(
                    {
                        "url": row.url,
                        "ts": row.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "title": version.title if version else None,
                    }
                )
        return {"responses": responses, "records": exporter.records}

    def export_wacz(
        self,
        path: str | os.PathLike[str],
        *,
        source: str | None = None,
        since: datetime | None = None,
    ) -> dict[str, int]:
        """The WARC export packaged as WACZ, with a pages list of each archived version."""
        import tempfile

        from editions import __version__
        from worker.warc import write_wacz

        with tempfile.TemporaryDirectory(prefix="editions-wacz-") as tmp:
            warc = Path(tmp) / "data.warc.gz"
            pages: list[dict[str, Any]] = []
            with open(warc, "wb") as stream:
                written = self.export_warc(stream, source=source, since=since, pages=pages)
            write_wacz(path, warc, pages, software=f"editions/{__version__}")
        return {**written, "pages": len(pages)}

    def import_warc(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        source: str | None = None,
        progress: Callable[[str, int | None], None] | None = None,
    ) -> dict[str, Any]:
        """Ingest WARC files through the real pipeline, in capture-time order.

        Each HTML response is fetched from a replay of the files as of its capture
        time, so a page captured three times becomes up to three versions.
        ``source`` names the source of articles whose WARC metadata names none.
        """
        from worker.warc import WarcReplay

        replay = WarcReplay(paths)
        pipeline = Pipeline(
            archive=self.archive,
            fetcher=replay,
            settings=self.settings,
            revisits=RevisitPolicy.from_settings(self.settings),
            clock=lambda: replay.now,
        )
        responses = [
            r
            for r in replay.responses()
            if 200 <= r.status < 300 and (r.content_type or "text/html") in IMPORT_TYPES
        ]
        if progress:
            progress("responses", len(responses))
        counts: dict[str, int] = {}
        for response in responses:
            replay.now = response.fetched_at
            if self._archived_since(response.url, response.fetched_at):
                # Older than what the archive holds: replaying it would turn the clock back.
                counts["older"] = counts.get("older", 0) + 1
                continue
            meta = replay.metadata.get(response.record_id, {})
            result = ingest_article(pipeline, response.url, source=meta.get("source") or source)
            counts[result.action] = counts.get(result.action, 0) + 1
            if progress:
                progress("", None)
        return {"responses": len(responses), "counts": counts}

    def notify(self, results: list[ArticleResult]) -> list[ArticleResult]:
        """POST each edit among ``results`` to the webhook (if configured); returns ``results``."""
        settings = self.settings
        edits = [r for r in results if r.action == "changed" and r.article_id and r.version]
        if not settings.webhook_url or not edits:
            return results
        from worker.webhook import WebhookSender

        wanted = None
        if settings.webhook_query:
            hits = self.archive.search(settings.webhook_query, limit=SAVED_SEARCH_LIMIT)
            wanted = {h.article_id for h in hits}
        sender = WebhookSender(settings)
        try:
            for result in edits:
                if wanted is not None and result.article_id not in wanted:
                    continue
                url = result.canonical_url or result.url
                diff = self.diff(url, to_version=result.version)
                sender.post(
                    {
                        "event": "edit",
                        "url": diff["canonical_url"],
                        "version": diff["to"],
                        "title": diff["title"][1],
                        "fetched_at": self.show(url, diff["to"])["fetched_at"],
                        "change": diff["change"],
                        "words_added": diff["words_added"],
                        "words_removed": diff["words_removed"],
                        "diff": diff["rendered"],
                    }
                )
        finally:
            sender.close()
        return results

    def _archived_since(self, url: str, when: datetime) -> bool:
        """Whether the article at ``url`` has a version fetched at or after ``when``."""
        try:
            article = self.archive.find_article(canonicalize(url))
        except InvalidURLError:
            return False
        if article is None or not article.latest_version:
            return False
        latest = self.archive.get_version(article.id)
        return latest is not None and latest.fetched_at >= when

    # --- extraction without an archive -----------------------------------------
    def extract_file(self, path: str | os.PathLike[str], url: str | None = None) -> dict[str, Any]:
        return extract_file(path, url)


def extract_file(path: str | os.PathLike[str], url: str | None = None) -> dict[str, Any]:
    """Extract a saved page; ``url`` is where it came from (default: a file: URL)."""
    path = Path(path)
    body = path.read_bytes()
    url = url or path.resolve().as_uri()
    extracted = extract_article(body, url)
    return {"path": str(path), **extracted.as_dict()}


def _not_archived(article: Any) -> str:
    """Why an article has no version: its state and last error."""
    error = f", last error: {article.last_error}" if article.last_error else ""
    return f"{state_of(article)}{error}"


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=float(value))


def _redact(url: str) -> str:
    """A database URL without its password, for status output."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url
