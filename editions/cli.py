"""The ``editions`` command: a thin layer over :mod:`editions.api`.

Every listing takes ``--json`` (and, where rows are flat, ``--csv``); long work
shows a progress bar on a terminal and stays quiet when piped.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import exc as sa_exc

from editions import __version__, logs
from editions.api import Editions, extract_file
from editions.errors import (
    ConfigurationError,
    DatabaseUnavailableError,
    EditionsError,
    ExtractionError,
    SearchQueryError,
    SettingsError,
)
from editions.output import echo_csv, echo_json, echo_jsonl, is_terminal, progress_bar, say
from editions.settings import Settings

log = logging.getLogger("editions")

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("T", " ")[:19]


# --- exit codes ------------------------------------------------------------------

EXIT_OK = 0  # everything worked
EXIT_ERROR = 1  # the command failed: no such article or version, a page with no article
EXIT_USAGE = 2  # bad usage or configuration: options, settings, sources file, database URL, query
EXIT_PARTIAL = 3  # the run finished, but some sources or articles failed (see stderr)
EXIT_UNAVAILABLE = 4  # the archive cannot be opened: no archive there, server down, not a database


# --- the command group ---------------------------------------------------------


class Context:
    """What the global options set; the archive opens on first use."""

    def __init__(self) -> None:
        self.database: str | None = None
        self.sources: str | None = None
        self.verbose = 0
        self.log_level: str | None = None
        self.log_format = "text"
        self.lifecycle = False
        self.read_only = False
        self._editions: Editions | None = None

    def configure_logging(self) -> None:
        logs.configure(
            verbose=self.verbose, level=self.log_level, fmt=self.log_format, lifecycle=self.lifecycle
        )

    def settings(self) -> Settings:
        return Settings.from_env()

    @property
    def editions(self) -> Editions:
        if self._editions is None:
            self._editions = Editions(
                self.database, sources_path=self.sources, create=not self.read_only
            )
        return self._editions

    @property
    def reader(self) -> Editions:
        """The archive for a command that only reads: never creates an empty one."""
        self.read_only = True
        return self.editions

    def close(self) -> None:
        if self._editions is not None:
            self._editions.close()


pass_context = click.make_pass_decorator(Context, ensure=True)


def _set(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or (param.count and not value):  # type: ignore[attr-defined]
            return  # not given here: keep what the group (or the environment) set
        obj = ctx.ensure_object(Context)
        setattr(obj, attribute, value)
        if attribute in {"verbose", "log_level", "log_format"}:
            obj.configure_logging()

    return callback


def global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--database, --sources, -v, --log-level and --log-format, before or after the subcommand."""
    options = [
        click.option(
            "--database",
            "-d",
            metavar="URL",
            expose_value=False,
            callback=_set("database"),
            help="Archive database (default: EDITIONS_DATABASE_URL, else sqlite:///editions.db).",
        ),
        click.option(
            "--sources",
            "-s",
            metavar="PATH",
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=_set("sources"),
            help="Sources file (default: EDITIONS_SOURCES, else schedules/sources.toml).",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=_set("verbose"),
            help="More logging: -v one line per article, -vv debug and library internals.",
        ),
        click.option(
            "--log-level",
            type=click.Choice(LOG_LEVELS, case_sensitive=False),
            expose_value=False,
            callback=_set("log_level"),
            help="Logging level (overrides -v).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(logs.FORMATS),
            expose_value=False,
            callback=_set("log_format"),
            help="text (default) or json: one JSON object per log line, for log shippers.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class Group(click.Group):
    """Every subcommand accepts the global options too."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        global_options(cmd)
        super().add_command(cmd, name)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Group)
        return super().group(*args, **kwargs)


class Command(click.Command):
    """Global options are added when the command joins a group (see ``Group``)."""


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="editions")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """editions: archive news articles and every edit made to them.

    Global options (--database, --sources, -v, --log-level, --log-format) go before
    or after the subcommand. Exit codes: 0 all fine; 1 the command failed; 2 bad
    usage or configuration; 3 the run finished but some sources or articles failed;
    4 the archive cannot be opened.
    """
    obj = ctx.ensure_object(Context)
    obj.configure_logging()
    try:
        Settings.from_env()
    except SettingsError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    ctx.call_on_close(obj.close)


def main() -> None:
    """Console-script entry point: turns known errors into messages, not tracebacks."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)


def _fail(message: str, code: int = EXIT_ERROR) -> click.ClickException:
    error = click.ClickException(message)
    error.exit_code = code
    return error


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Every error editions raises on purpose becomes one line and an exit code."""
    try:
        yield
    except SearchQueryError as exc:
        raise _fail(f"bad search query: {exc}", EXIT_USAGE) from None
    except ConfigurationError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except DatabaseUnavailableError as exc:
        raise _fail(str(exc), EXIT_UNAVAILABLE) from None
    except ExtractionError as exc:
        raise _fail(f"cannot extract: {exc}") from None
    except EditionsError as exc:
        raise _fail(str(exc)) from None
    except sa_exc.OperationalError as exc:  # the database went away mid-command
        reason = " ".join(str(getattr(exc, "orig", exc)).split())
        raise _fail(f"the archive stopped answering: {reason}", EXIT_UNAVAILABLE) from None


# --- running -------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Poll every source once, fetch, revisit due, exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the report as JSON.")
@pass_context
def run(obj: Context, once: bool, as_json: bool) -> None:
    """Run the scheduler in this process (until Ctrl-C), or one pass with --once.

    Exits 3 when the pass finished but some sources or articles failed; each
    failure is reported once, on stderr.
    """
    if as_json and not once:
        raise click.UsageError("--json needs --once: the long-running mode logs instead")
    with friendly_errors():
        obj.editions.archive  # noqa: B018 - a bad database is the first thing to say
        if not obj.editions.sources():
            path = obj.sources or obj.settings().sources
            say(
                f"editions: no sources in {path}: add [[source]] tables (see "
                "schedules/sources.toml, or `editions sources add`) or try `editions demo`",
                err=True,
            )
        if not once:
            obj.lifecycle = True
            obj.configure_logging()
            obj.editions.run_forever()
            return
        with progress_bar(not as_json) as progress:
            report = obj.editions.run_once(progress=progress)
    if as_json:
        echo_json(report.as_dict())
    else:
        for poll in report.polls:
            if poll.error is None:  # failures were logged once, on stderr
                say(
                    f"{poll.source}: {poll.outcome}, {len(poll.links)} links, "
                    f"{len(poll.new_urls)} new"
                )
        counts = ", ".join(f"{n} {action}" for action, n in sorted(report.counts().items()))
        say(f"articles: {counts or 'nothing due'}")
    if report.failures():
        sys.exit(EXIT_PARTIAL)


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--all", "all_articles", is_flag=True, help="Every tracked article.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_context
def revisit(obj: Context, urls: tuple[str, ...], all_articles: bool, as_json: bool) -> None:
    """Re-fetch tracked articles now: the URLs given, or --all."""
    if not urls and not all_articles:
        raise click.UsageError("give article URLs or --all")
    with friendly_errors():
        results = obj.editions.revisit(urls, all_articles=all_articles)
    if as_json:
        echo_json([r.as_dict() for r in results])
        if any(r.action == "failed" for r in results):
            sys.exit(EXIT_PARTIAL)
        return
    for r in results:
        if r.action == "failed":
            continue  # logged once, on stderr
        extra = f" v{r.version}" if r.version else ""
        say(f"{r.action}{extra}: {r.canonical_url or r.url}")
    if any(r.action == "failed" for r in results):
        sys.exit(EXIT_PARTIAL)


# --- reading -------------------------------------------------------------------

SEARCH_COLUMNS = ["url", "title", "snippet", "score", "published", "source", "versions", "language"]


@cli.command()
@click.argument("query")
@click.option("--source", help="Only articles from this source.")
@click.option("--since", type=click.DateTime(), help="Published on or after (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(), help="Published before (YYYY-MM-DD).")
@click.option("--language", help="ISO 639-1 code, e.g. en.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of text.")
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
    A query that starts with a dash goes after `--`: editions search -- -ferry.
    """
    with friendly_errors():
        hits = obj.reader.search(
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
        say("no matches", err=True)
    else:
        for hit in hits:
            say(hit["title"] or hit["url"], bold=True)
            say(f"  {hit['url']}  ({_when(hit['published'])[:10]}, v{hit['versions']})")
            say(f"  {hit['snippet']}")


@cli.command()
@click.argument("url")
@click.option("--version", "number", type=int, help="Version number (default: latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_context
def show(obj: Context, url: str, number: int | None, as_json: bool) -> None:
    """Print an archived article (latest version, or --version N)."""
    with friendly_errors():
        data = obj.reader.show(url, number)
    if as_json:
        echo_json(data)
        return
    say(data["title"] or "(untitled)", bold=True)
    meta = [data["byline"], _when(data["published"]), data["language"]]
    say(" · ".join(m for m in meta if m and m != "-"))
    say(
        f"{data['canonical_url']} — version {data['version']} of {data['versions']}, "
        f"fetched {_when(data['fetched_at'])}"
    )
    say(_state_line(data))
    say()
    say(data["text"])


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of text.")
@pass_context
def history(obj: Context, url: str, as_json: bool, as_csv: bool) -> None:
    """List an article's versions with time, title and what changed."""
    with friendly_errors():
        data = obj.reader.history(url)
    if as_json:
        echo_json(data)
        return
    if as_csv:
        echo_csv(data["versions"], HISTORY_COLUMNS)
        return
    say(data["canonical_url"], bold=True)
    for alias in data["aliases"]:
        say(f"  also at {alias}")
    say(f"  {_state_line(data)}")
    if not data["versions"]:
        say(
            f"  never fetched successfully; last checked {_when(data['last_checked_at'])}, "
            f"next check {_when(data['next_check_at'])}"
        )
    for item in data["timeline"]:
        if item["event"] == "version":
            say(
                f"  v{item['version']}  {_when(item['at'])}  {item['title'] or ''}  "
                f"[{item['change']}]"
            )
        else:
            say(f"  {_when(item['at'])}  {_describe_event(item)}")


def _state_line(data: dict[str, Any]) -> str:
    """An article's state and last error, for people."""
    error = f"  last error: {data['last_error']}" if data.get("last_error") else ""
    return f"state: {data['state']}{error}"


def _describe_event(event: dict[str, Any]) -> str:
    if event["event"] == "moved":
        return f"moved to {event['detail']}"
    detail = f" ({event['detail']})" if event.get("detail") else ""
    return f"{event['event']}{detail}"


@cli.command()
@click.argument("url")
@click.option(
    "--from",
    "from_version",
    type=click.IntRange(min=1),
    help="Older version (default: the one before --to).",
)
@click.option(
    "--to", "to_version", type=click.IntRange(min=1), help="Newer version (default: latest)."
)
@click.option("--color/--no-color", default=None, help="Colour (default: on a terminal).")
@click.option("--full", is_flag=True, help="Show the whole text, not just the changes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
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
    color = is_terminal(sys.stdout) if color is None else color
    with friendly_errors():
        data = obj.reader.diff(
            url,
            from_version=from_version,
            to_version=to_version,
            color=color and not as_json,
            context=None if full else 12,
        )
    if as_json:
        echo_json(data)
        return
    say(
        f"{data['canonical_url']}: version {data['from']} -> {data['to']} "
        f"(+{data['words_added']}/-{data['words_removed']} words)"
    )
    say(data["rendered"], colour=color)


@cli.command()
@pass_context
def scheduler(obj: Context) -> None:
    """Distributed mode: send due polls and fetches to Celery (one leader among schedulers)."""
    obj.lifecycle = True
    obj.configure_logging()
    with friendly_errors():
        obj.editions.run_scheduler()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Sources, articles, versions, recent fetch outcomes by host, what is due next."""
    with friendly_errors():
        data = obj.reader.status()
    if as_json:
        echo_json(data)
        return
    say(f"archive: {data['database']}")
    say(
        f"articles: {data['archived']} archived, {data['pending']} pending, "
        f"{data['failed']} failed, {data['removed']} removed ({data['tracked']} tracked)"
    )
    say(
        f"versions: {data['versions']}  due now: {data['due']}  "
        f"next due: {_when(data['next_due'])}"
    )
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(data["fetches_by_outcome"].items()))
    say(f"fetches: {outcomes or 'none yet'}")
    if data["sources"]:
        say("sources:")
        for s in data["sources"]:
            say(
                f"  {s['name']:<20} {s['kind']:<8} last {_when(s.get('last_polled_at'))}"
                f"  next {_when(s.get('next_poll_at'))}  {s.get('last_outcome') or ''}"
            )
    if data.get("recent_by_host"):
        say("recent fetches by host:")
        for host, outcomes in sorted(data["recent_by_host"].items()):
            summary = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
            say(f"  {host:<30} {summary}")
    if "distributed" in data:
        _echo_broker_status(data["distributed"])


def _echo_broker_status(broker: dict[str, Any]) -> None:
    say(f"broker: {broker['broker']}")
    if broker.get("error"):
        say(f"  {broker['error']}")
        return
    queues = ", ".join(f"{name} {length}" for name, length in broker["queues"].items())
    say(f"  queued: {queues}  unacknowledged: {broker.get('unacked', 0)}")
    say(f"  workers: {', '.join(broker['workers']) or 'none answering'}")


@cli.command()
@click.option(
    "--jsonl", is_flag=True, default=True, help="One JSON object per article per line (default)."
)
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
    """Export every article with its aliases and versions as JSON lines, or the captures (--warc)."""
    if warc or wacz:
        _export_captures(obj, warc=warc, wacz=wacz, source=source, since=since)
        return
    with friendly_errors():
        echo_jsonl(obj.reader.export())


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
                say(f"{path}: cannot extract: {exc}", err=True)
            continue
        if as_json:
            echo_jsonl([data])
        else:
            say(data["title"] or "(untitled)", bold=True)
            say(
                " · ".join(str(data[k]) for k in ("byline", "published", "language") if data[k])
            )
            say()
            say(data["text"])
    if failed:
        sys.exit(1)


@cli.group("sources", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the sources as a JSON list.")
@click.pass_context
def sources_command(ctx: click.Context, as_json: bool) -> None:
    """Check and list the sources file; `sources add` and `sources remove` edit it."""
    if ctx.invoked_subcommand is not None:
        return
    obj = ctx.find_object(Context)
    with friendly_errors():
        sources = obj.editions.sources()
    if as_json:
        echo_json([s.as_dict() for s in sources])
        return
    if not sources:
        say(
            f"editions: no sources in {obj.editions.sources_file()}: add one with "
            "`editions sources add NAME URL`",
            err=True,
        )
    for s in sources:
        say(f"{s.name:<20} {s.kind:<8} every {s.every}  {s.url}")


@sources_command.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--kind", default="feed", show_default=True, help="feed, sitemap or page.")
@click.option(
    "--every", default="10m", show_default=True, help="How often to poll: 10m, 2h, 1h30m, 1d."
)
@click.option("--allow", metavar="RE", help="Keep only discovered URLs matching this regex.")
@click.option("--deny", metavar="RE", help="Drop discovered URLs matching this regex.")
@pass_context
def sources_add(
    obj: Context,
    name: str,
    url: str,
    kind: str,
    every: str,
    allow: str | None,
    deny: str | None,
) -> None:
    """Add a source to the sources file.

    The new file is checked before it is written; comments and layout are kept.
    """
    with friendly_errors():
        source = obj.editions.add_source(name, url, kind=kind, every=every, allow=allow, deny=deny)
        path = obj.editions.sources_file()
    say(f"added {source.name!r} to {path}: {source.kind} every {every}, {source.url}")


@sources_command.command("remove")
@click.argument("name")
@pass_context
def sources_remove(obj: Context, name: str) -> None:
    """Remove a source from the sources file.

    Its archived articles stay in the archive; comments and layout are kept.
    """
    with friendly_errors():
        source = obj.editions.remove_source(name)
        path = obj.editions.sources_file()
    say(f"removed {source.name!r} from {path}")


ARTICLE_COLUMNS = [
    "url",
    "source",
    "state",
    "versions",
    "last_fetch_at",
    "last_outcome",
    "last_http_status",
    "last_error",
    "next_check_at",
    "title",
]


@cli.command()
@click.option(
    "--state",
    type=click.Choice(["pending", "failed", "active", "removed"]),
    help="pending: no version yet; active: archived; failed: given up; removed: 404/410 or moved.",
)
@click.option("--source", help="Only articles from this source.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of text.")
@pass_context
def articles(
    obj: Context, state: str | None, source: str | None, limit: int, as_json: bool, as_csv: bool
) -> None:
    """List tracked articles, newest first, with their state, last fetch, outcome and error."""
    with friendly_errors():
        rows = obj.reader.articles(state=state, source=source, limit=limit)
    if as_json:
        echo_json(rows)
    elif as_csv:
        echo_csv(rows, ARTICLE_COLUMNS)
    elif not rows:
        say("no articles" + (f" in state {state}" if state else ""), err=True)
    else:
        for row in rows:
            outcome = row["last_outcome"] or "never fetched"
            error = f"  {row['last_error']}" if row["last_error"] else ""
            say(
                f"{row['state']:<8} v{row['versions']:<3} {_when(row['last_fetch_at'])}  "
                f"{outcome}{error}  {row['url']}"
            )
    if len(rows) == limit and not (as_json or as_csv):
        say(f"(the first {limit}; --limit N shows more)", err=True)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: Context) -> None:
    """Apply the Alembic migrations up to the newest."""
    from storage.archive import upgrade
    from storage.engine import redact

    url = obj.database or obj.settings().database_url
    with friendly_errors():
        upgrade(url)
    say(f"database is up to date: {redact(url)}", err=True)


@cli.command()
@click.option("--keep-serving", is_flag=True, help="Keep the demo site up until Ctrl-C.")
@click.option("--serve", is_flag=True, help="Then open the demo archive in the web app.")
@pass_context
def demo(obj: Context, keep_serving: bool, serve: bool) -> None:
    """Archive a local demo news site, edit it, archive it again, show the diffs.

    The archive is a fresh SQLite file in a temporary folder unless --database is given.
    """
    from editions.demo.run import run_demo

    with friendly_errors():
        run_demo(database_url=obj.database, keep_serving=keep_serving, serve=serve)


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
                written = obj.reader.export_warc(stream, source=source, since=since_utc)
            click.echo(f"wrote {written['responses']} captures to {warc}", err=True)
        if wacz:
            written = obj.reader.export_wacz(wacz, source=source, since=since_utc)
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
        rows = obj.reader.changes(
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
        say("no edits", err=True)
    for row in rows:
        # say(), not click.echo: archived titles and diffs are untrusted terminal text.
        say(f"{_when(row['fetched_at'])}  v{row['version']}  {row['title'] or ''}  [{row['change']}]")
        say(f"  {row['url']}")
        if with_diff:
            say(row["diff"])


@cli.command()
@click.option("--host", help="Address to bind (default EDITIONS_WEB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default EDITIONS_WEB_PORT).")
@pass_context
def serve(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the archive read-only in a web app, with a JSON API and Atom feeds."""
    from editions.web.server import serve_forever

    with friendly_errors():
        editions = obj.reader
        settings = editions.settings
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
            editions,
            host=host,
            port=port,
            ready=lambda url: click.echo(f"editions: serving {url} ; Ctrl-C to stop", err=True),
        )


if __name__ == "__main__":  # pragma: no cover
    main()
