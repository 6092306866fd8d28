"""The ``editions`` command: a thin layer over :mod:`editions.api`.

Every listing takes ``--json`` (and, where rows are flat, ``--csv``); long work
shows a progress bar on a terminal and stays quiet when piped.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from editions import __version__
from editions.api import Editions, extract_file
from editions.errors import (
    ConfigurationError,
    EditionsError,
    ExtractionError,
    SearchQueryError,
    SettingsError,
)
from editions.settings import Settings

log = logging.getLogger("editions")

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


# --- output helpers ------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def echo_jsonl(rows: Iterable[Any]) -> None:
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False, default=_json_default))


def echo_csv(rows: list[dict[str, Any]], columns: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: _json_default(v) if isinstance(v, datetime) else v for k, v in row.items()}
        )
    click.echo(buffer.getvalue(), nl=False)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int | None], None]]:
    """A ``progress(label, total)`` callback drawing on stderr when it is a terminal."""
    if not enabled or not _is_terminal(sys.stderr):
        yield lambda label, total: None
        return
    state: dict[str, Any] = {"bar": None}

    def progress(label: str, total: int | None) -> None:
        if label:
            if state["bar"] is not None:
                state["bar"].render_finish()
            state["bar"] = click.progressbar(length=total or 0, label=label, file=sys.stderr)
            state["bar"].render_progress()
        elif state["bar"] is not None:
            state["bar"].update(1)

    try:
        yield progress
    finally:
        if state["bar"] is not None:
            state["bar"].render_finish()


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("T", " ")[:19]


# --- the command group ---------------------------------------------------------


class Context:
    def __init__(self, database: str | None, sources: str | None) -> None:
        self.database = database
        self.sources = sources
        self._editions: Editions | None = None

    @property
    def editions(self) -> Editions:
        if self._editions is None:
            self._editions = Editions(self.database, sources_path=self.sources)
        return self._editions

    def close(self) -> None:
        if self._editions is not None:
            self._editions.close()


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="editions")
@click.option(
    "--database",
    "-d",
    envvar="EDITIONS_DATABASE_URL",
    metavar="URL",
    help="Archive database (default sqlite:///editions.db).",
)
@click.option(
    "--sources",
    "-s",
    envvar="EDITIONS_SOURCES",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Sources file (default schedules/sources.toml).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="Logging level (overrides -v).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    database: str | None,
    sources: str | None,
    verbose: int,
    log_level: str | None,
) -> None:
    """editions: archive news articles and every edit made to them."""
    level = log_level.upper() if log_level else ["WARNING", "INFO", "DEBUG"][min(verbose, 2)]
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    ctx.obj = Context(database, sources)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Console-script entry point: turns known errors into messages, not tracebacks."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)


def _fail(message: str, code: int = 1) -> click.ClickException:
    error = click.ClickException(message)
    error.exit_code = code
    return error


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Every error editions raises on purpose becomes one line and an exit code."""
    try:
        yield
    except SearchQueryError as exc:
        raise _fail(f"bad search query: {exc}", 2) from None
    except ConfigurationError as exc:
        raise _fail(str(exc), 2) from None
    except ExtractionError as exc:
        raise _fail(f"cannot extract: {exc}") from None
    except EditionsError as exc:
        raise _fail(str(exc)) from None


# --- running -------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Poll every source once, fetch, revisit due, exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the report as JSON.")
@pass_context
def run(obj: Context, once: bool, as_json: bool) -> None:
    """Run the scheduler in this process (until Ctrl-C), or one pass with --once."""
    with friendly_errors():
        if not obj.editions.sources():
            path = obj.sources or Settings.from_env().sources
            click.echo(
                f"editions: no sources in {path}: add [[source]] tables (see "
                "schedules/sources.toml) or try `editions demo`",
                err=True,
            )
        if not once:
            click.echo("editions: running; Ctrl-C to stop", err=True)
            obj.editions.run_forever()
            return
        with progress_bar(not as_json) as progress:
            report = obj.editions.run_once(progress=progress)
    if as_json:
        echo_json(report.as_dict())
        return
    for poll in report.polls:
        line = f"{poll.source}: {poll.outcome}, {len(poll.links)} links, {len(poll.new_urls)} new"
        click.echo(line + (f" ({poll.error})" if poll.error else ""))
    counts = ", ".join(f"{n} {action}" for action, n in sorted(report.counts().items()))
    click.echo(f"articles: {counts or 'nothing due'}")


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--all", "all_articles", is_flag=True, help="Every tracked article.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def revisit(obj: Context, urls: tuple[str, ...], all_articles: bool, as_json: bool) -> None:
    """Re-fetch tracked articles now: the URLs given, or --all."""
    if not urls and not all_articles:
        raise click.UsageError("give article URLs or --all")
    with friendly_errors():
        results = obj.editions.revisit(urls, all_articles=all_articles)
    if as_json:
        echo_json([r.as_dict() for r in results])
        return
    for r in results:
        extra = f" v{r.version}" if r.version else ""
        click.echo(
            f"{r.action}{extra}: {r.canonical_url or r.url}" + (f" ({r.error})" if r.error else "")
        )


# --- reading -------------------------------------------------------------------

SEARCH_COLUMNS = ["url", "title", "snippet", "score", "published", "source", "versions", "language"]


@cli.command()
@click.argument("query")
@click.option("--source", help="Only articles from this source.")
@click.option("--since", type=click.DateTime(), help="Published on or after (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(), help="Published before (YYYY-MM-DD).")
@click.option("--language", help="ISO 639-1 code, e.g. en.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
@pass_context
def search(
    obj: Context,
    query: str,
    source: str | None,
    since: datetime | None,
    until: datetime | None,
    language: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Full-text search over the latest version of every article.

    Words, "exact phrases", prefix*, -excluded and OR work as in web search.
    """
    with friendly_errors():
        hits = obj.editions.search(
            query,
            source=source,
            since=since.replace(tzinfo=UTC) if since else None,
            until=until.replace(tzinfo=UTC) if until else None,
            language=language,
            limit=limit,
        )
    if as_json:
        echo_json(hits)
    elif as_csv:
        echo_csv(hits, SEARCH_COLUMNS)
    elif not hits:
        click.echo("no matches", err=True)
    else:
        for hit in hits:
            click.secho(hit["title"] or hit["url"], bold=True)
            click.echo(f"  {hit['url']}  ({_when(hit['published'])[:10]}, v{hit['versions']})")
            click.echo(f"  {hit['snippet']}")


@cli.command()
@click.argument("url")
@click.option("--version", "number", type=int, help="Version number (default: latest).")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def show(obj: Context, url: str, number: int | None, as_json: bool) -> None:
    """Print an archived article (latest version, or --version N)."""
    with friendly_errors():
        data = obj.editions.show(url, number)
    if as_json:
        echo_json(data)
        return
    click.secho(data["title"] or "(untitled)", bold=True)
    meta = [data["byline"], _when(data["published"]), data["language"]]
    click.echo(" · ".join(m for m in meta if m and m != "-"))
    click.echo(
        f"{data['canonical_url']} — version {data['version']} of {data['versions']}, "
        f"fetched {_when(data['fetched_at'])}"
    )
    click.echo()
    click.echo(data["text"])


HISTORY_COLUMNS = [
    "version",
    "fetched_at",
    "title",
    "words_added",
    "words_removed",
    "change",
    "text_sha256",
]


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
@pass_context
def history(obj: Context, url: str, as_json: bool, as_csv: bool) -> None:
    """List an article's versions with time, title and what changed."""
    with friendly_errors():
        data = obj.editions.history(url)
    if as_json:
        echo_json(data)
        return
    if as_csv:
        echo_csv(data["versions"], HISTORY_COLUMNS)
        return
    click.secho(data["canonical_url"], bold=True)
    for alias in data["aliases"]:
        click.echo(f"  also at {alias}")
    for v in data["versions"]:
        click.echo(
            f"  v{v['version']}  {_when(v['fetched_at'])}  {v['title'] or ''}  [{v['change']}]"
        )


@cli.command()
@click.argument("url")
@click.option(
    "--from", "from_version", type=int, help="Older version (default: the one before --to)."
)
@click.option("--to", "to_version", type=int, help="Newer version (default: latest).")
@click.option("--color/--no-color", default=None, help="Colour (default: on a terminal).")
@click.option("--full", is_flag=True, help="Show the whole text, not just the changes.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def diff(
    obj: Context,
    url: str,
    from_version: int | None,
    to_version: int | None,
    color: bool | None,
    full: bool,
    as_json: bool,
) -> None:
    """Word-level diff between two versions of an article."""
    color = _is_terminal(sys.stdout) if color is None else color
    with friendly_errors():
        data = obj.editions.diff(
            url,
            from_version=from_version,
            to_version=to_version,
            color=color and not as_json,
            context=None if full else 12,
        )
    if as_json:
        echo_json(data)
        return
    click.echo(
        f"{data['canonical_url']}: version {data['from']} -> {data['to']} "
        f"(+{data['words_added']}/-{data['words_removed']} words)"
    )
    click.echo(data["rendered"], color=color)


@cli.command()
@pass_context
def scheduler(obj: Context) -> None:
    """Distributed mode: send due polls and fetches to Celery (one leader among schedulers)."""
    with friendly_errors():
        click.echo("editions: scheduler running; Ctrl-C to stop", err=True)
        obj.editions.run_scheduler()


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Sources, articles, versions, recent fetch outcomes by host, what is due next."""
    with friendly_errors():
        data = obj.editions.status()
    if as_json:
        echo_json(data)
        return
    click.echo(f"archive: {data['database']}")
    click.echo(
        f"articles: {data['articles']}  versions: {data['versions']}  "
        f"due now: {data['due']}  next due: {_when(data['next_due'])}"
    )
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(data["fetches_by_outcome"].items()))
    click.echo(f"fetches: {outcomes or 'none yet'}")
    if data["sources"]:
        click.echo("sources:")
        for s in data["sources"]:
            click.echo(
                f"  {s['name']:<20} {s['kind']:<8} last {_when(s.get('last_polled_at'))}"
                f"  next {_when(s.get('next_poll_at'))}  {s.get('last_outcome') or ''}"
            )
    if data.get("recent_by_host"):
        click.echo("recent fetches by host:")
        for host, outcomes in sorted(data["recent_by_host"].items()):
            summary = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
            click.echo(f"  {host:<30} {summary}")
    if "distributed" in data:
        _echo_broker_status(data["distributed"])


def _echo_broker_status(broker: dict[str, Any]) -> None:
    click.echo(f"broker: {broker['broker']}")
    if broker.get("error"):
        click.echo(f"  {broker['error']}")
        return
    queues = ", ".join(f"{name} {length}" for name, length in broker["queues"].items())
    click.echo(f"  queued: {queues}  unacknowledged: {broker.get('unacked', 0)}")
    click.echo(f"  workers: {', '.join(broker['workers']) or 'none answering'}")


@cli.command()
@click.option("--jsonl", is_flag=True, help="One JSON object per article per line.")
@click.option("--warc", "warc", metavar="FILE", help="Raw captures as WARC/1.1 (FILE.warc.gz).")
@click.option("--wacz", "wacz", metavar="FILE", help="Raw captures as a WACZ package.")
@click.option("--source", help="With --warc/--wacz: only this source's captures.")
@click.option("--since", type=click.DateTime(), help="With --warc/--wacz: fetched on or after.")
@pass_context
def export(
    obj: Context,
    jsonl: bool,
    warc: str | None,
    wacz: str | None,
    source: str | None,
    since: datetime | None,
) -> None:
    """Export every article with its aliases and versions (--jsonl), or the captures (--warc)."""
    if warc or wacz:
        _export_captures(obj, warc=warc, wacz=wacz, source=source, since=since)
        return
    if not jsonl:
        raise click.UsageError("choose --jsonl, --warc FILE or --wacz FILE")
    with friendly_errors():
        echo_jsonl(obj.editions.export())


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", help="The URL the page was saved from.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, per file.")
def extract(paths: tuple[str, ...], url: str | None, as_json: bool) -> None:
    """Extract the article from saved HTML pages (no archive needed)."""
    failed = 0
    for path in paths:
        try:
            data = extract_file(path, url)
        except ExtractionError as exc:
            failed += 1
            if as_json:
                echo_jsonl([{"path": path, "url": url, "error": str(exc)}])
            else:
                click.echo(f"{path}: cannot extract: {exc}", err=True)
            continue
        if as_json:
            echo_jsonl([data])
        else:
            click.secho(data["title"] or "(untitled)", bold=True)
            click.echo(
                " · ".join(str(data[k]) for k in ("byline", "published", "language") if data[k])
            )
            click.echo()
            click.echo(data["text"])
    if failed:
        sys.exit(1)


@cli.command("sources")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def sources_command(obj: Context, as_json: bool) -> None:
    """Check and list the sources file."""
    with friendly_errors():
        sources = obj.editions.sources()
    if as_json:
        echo_json([s.as_dict() for s in sources])
        return
    for s in sources:
        click.echo(f"{s.name:<20} {s.kind:<8} every {s.every}  {s.url}")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: Context) -> None:
    """Apply the Alembic migrations up to the newest."""
    from storage.archive import upgrade

    url = obj.database or Settings.from_env().database_url
    upgrade(url)
    click.echo(f"database is up to date: {url}", err=True)


@cli.command()
@click.option(
    "--database",
    "database",
    metavar="URL",
    help="Archive to write (default: a fresh SQLite file in a temporary folder).",
)
@click.option("--keep-serving", is_flag=True, help="Keep the demo site up until Ctrl-C.")
@click.option("--serve", is_flag=True, help="Then open the demo archive in the web app.")
def demo(database: str | None, keep_serving: bool, serve: bool) -> None:
    """Archive a local demo news site, edit it, archive it again, show the diffs."""
    from editions.demo.run import run_demo

    run_demo(database_url=database, keep_serving=keep_serving, serve=serve)


# --- reading and sharing: web app, edits, WARC (issue 11) -------------------------


def _export_captures(
    obj: Context,
    *,
    warc: str | None,
    wacz: str | None,
    source: str | None,
    since: datetime | None,
) -> None:
    since_utc = since.replace(tzinfo=UTC) if since else None
    with friendly_errors():
        if warc:
            with open(warc, "wb") as stream:
                written = obj.editions.export_warc(stream, source=source, since=since_utc)
            click.echo(f"wrote {written['responses']} captures to {warc}", err=True)
        if wacz:
            written = obj.editions.export_wacz(wacz, source=source, since=since_utc)
            click.echo(f"wrote {written['responses']} captures to {wacz}", err=True)


@cli.command("import")
@click.option(
    "--warc",
    "warcs",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A WARC file (.warc or .warc.gz); repeat for several.",
)
@click.option("--source", help="Source name for articles the WARC does not attribute.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def import_command(obj: Context, warcs: tuple[str, ...], source: str | None, as_json: bool) -> None:
    """Ingest WARC captures through the pipeline, oldest first: each edit becomes a version."""
    with friendly_errors(), progress_bar(not as_json) as progress:
        report = obj.editions.import_warc(list(warcs), source=source, progress=progress)
    if as_json:
        echo_json(report)
        return
    counts = ", ".join(f"{n} {action}" for action, n in sorted(report["counts"].items()))
    click.echo(f"{report['responses']} pages: {counts or 'nothing to import'}")


@cli.command()
@click.option("--since", type=click.DateTime(), help="Edits fetched on or after (YYYY-MM-DD[THH:MM:SS]).")
@click.option("--source", help="Only this source's articles.")
@click.option("--query", "-q", help="Only articles matching this search.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--diff", "with_diff", is_flag=True, help="Include each edit's word diff.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def changes(
    obj: Context,
    since: datetime | None,
    source: str | None,
    query: str | None,
    limit: int,
    with_diff: bool,
    as_json: bool,
) -> None:
    """The latest edits of archived articles, newest first."""
    with friendly_errors():
        rows = obj.editions.changes(
            since=since.replace(tzinfo=UTC) if since else None,
            source=source,
            query=query,
            limit=limit,
            with_diff=with_diff,
        )
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no edits", err=True)
    for row in rows:
        click.echo(f"{_when(row['fetched_at'])}  v{row['version']}  {row['title'] or ''}  [{row['change']}]")
        click.echo(f"  {row['url']}")
        if with_diff:
            click.echo(row["diff"])


@cli.command()
@click.option("--host", help="Address to bind (default EDITIONS_WEB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default EDITIONS_WEB_PORT).")
@pass_context
def serve(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the archive read-only in a web app, with a JSON API and Atom feeds."""
    from editions.web.server import serve_forever

    with friendly_errors():
        settings = obj.editions.settings
        host = host or settings.web_host
        port = settings.web_port if port is None else port
        if host not in {"127.0.0.1", "localhost", "::1"} and not (
            settings.web_token or settings.web_basic_auth
        ):
            click.echo(
                f"editions: warning: serving on {host} without EDITIONS_WEB_TOKEN or "
                "EDITIONS_WEB_BASIC_AUTH: anyone who can reach it reads the archive",
                err=True,
            )
        serve_forever(
            obj.editions,
            host=host,
            port=port,
            ready=lambda url: click.echo(f"editions: serving {url} ; Ctrl-C to stop", err=True),
        )


if __name__ == "__main__":  # pragma: no cover
    main()
