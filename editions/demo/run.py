"""``editions demo``: archive a local news site, edit it, archive again, show the edits.

Everything happens on 127.0.0.1 with a fresh archive, so a newcomer with no
internet sees the whole idea in well under a minute.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from editions.api import Editions
from editions.demo.newsroom import Newsroom
from editions.demo.site import LocalSite
from editions.settings import Settings
from schedules.sources import Source, parse_duration


def demo_sources(newsroom: Newsroom) -> list[Source]:
    return [
        Source(
            name=spec["name"],
            url=spec["url"],
            kind=spec["kind"],
            every=parse_duration(spec["every"]),
            allow=spec.get("allow"),
            deny=spec.get("deny"),
        )
        for spec in newsroom.sources()
    ]


def run_demo(
    *,
    database_url: str | None = None,
    keep_serving: bool = False,
    serve: bool = False,
    echo: Callable[..., None] = click.echo,
    color: bool | None = None,
) -> dict[str, object]:
    """Run the demo and return its figures (the tests check them)."""
    color = sys.stdout.isatty() if color is None else color
    started = time.monotonic()
    # The demo site lives on 127.0.0.1, which the fetcher refuses unless told otherwise.
    settings = Settings(allow_private_addresses=True, host_delay=0.0)
    tmp = None
    if database_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="editions-demo-")
        database_url = f"sqlite:///{Path(tmp.name) / 'demo.db'}"

    def heading(text: str) -> None:
        echo()
        echo(click.style(f"== {text}", bold=True), color=color)

    figures: dict[str, object] = {}
    with LocalSite() as site, Editions(database_url, settings=settings) as editions:
        newsroom = Newsroom(site)
        newsroom.publish()
        sources = demo_sources(newsroom)
        heading(f"A demo news site is up at {site.base_url}")
        for source in sources:
            echo(f"  {source.kind:<8} {source.url}")
        echo(f"  archive: {database_url}")

        heading(
            "First pass: poll the feed, the news sitemap and the front page; fetch every article"
        )
        first = editions.run_once(sources=sources)
        for poll in first.polls:
            echo(f"  {poll.source}: {len(poll.links)} links, {len(poll.new_urls)} new")
        status = editions.status()
        echo(f"  archived {status['articles']} articles, {status['versions']} versions")
        aliases = sum(
            len(editions.history(a["canonical_url"])["aliases"]) for a in editions.export()
        )
        echo(
            f"  {aliases} other URLs (AMP copies, tracking-parameter links) were recognised "
            "as the same articles"
        )
        figures["first"] = first.counts()
        figures["articles_after_first"] = status["articles"]

        heading("The newsroom edits its site")
        for description in newsroom.apply_edits():
            echo(f"  - {description}")

        heading("Second pass: revisit every article")
        results = editions.revisit(all_articles=True)
        counts: dict[str, int] = {}
        for result in results:
            counts[result.action] = counts.get(result.action, 0) + 1
        echo("  " + ", ".join(f"{n} {action}" for action, n in sorted(counts.items())))
        echo("  (whitespace-only and boilerplate-only edits make no new version)")
        figures["second"] = counts

        changed = [r for r in results if r.action == "changed"]
        for result in changed:
            url = result.canonical_url or result.url
            heading(f"History of {url}")
            for version in editions.history(url)["versions"]:
                echo(f"  v{version['version']}  {version['title']}  [{version['change']}]")
            diff = editions.diff(url, color=color)
            echo()
            echo(diff["rendered"], color=color)

        heading('Search: correction OR "city council"')
        for hit in editions.search('correction OR "city council"', limit=5):
            echo(f"  {hit['title']}  (v{hit['versions']})")
            echo(f"    {hit['snippet']}")

        final = editions.status()
        figures["articles"] = final["articles"]
        figures["versions"] = final["versions"]
        figures["changed"] = [r.canonical_url for r in changed]
        heading(
            f"Done in {time.monotonic() - started:.1f}s: {final['articles']} articles, "
            f"{final['versions']} versions"
        )
        if tmp is None:
            echo(f"Try: editions --database {database_url} search council")
        if serve:
            _serve_archive(editions, echo)
        elif keep_serving:
            echo(f"Serving {site.base_url} until Ctrl-C")
            _wait_for_ctrl_c()
    if tmp is not None:
        echo("(the demo archive was temporary; pass --database sqlite:///demo.db to keep it)")
        tmp.cleanup()
    return figures


def _wait_for_ctrl_c() -> None:
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass


def _serve_archive(editions: Editions, echo: Callable[..., None]) -> None:
    """Leave the demo archive open in the web app until Ctrl-C."""
    from editions.web.server import BackgroundServer

    with BackgroundServer(editions) as server:
        echo()
        echo(f"The demo archive is open in the web app at {server.url} (Ctrl-C to stop)")
        echo(f"  recent edits: {server.url}changes   search: {server.url}?q=council")
        _wait_for_ctrl_c()
