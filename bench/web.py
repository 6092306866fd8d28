"""Figure 8: web app page latency (p50/p95 ms) over real HTTP on a large SQLite archive.

The archive is the search figure's (cached), copied so the edits added here
(a few hundred second versions, for the recent-changes page and the feed)
never change what the search figure measures.
"""

from __future__ import annotations

import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.search import build_archive, percentile, sqlite_archive

EDITS = 300


def _add_edits(url: str, count: int) -> list[str]:
    """Give ``count`` articles a second version; returns their URLs."""
    engine = sa.create_engine(url)
    later = datetime.now(UTC) + timedelta(minutes=1)
    with engine.begin() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.id, a.canonical_url, v.title, v.text, v.text_sha256 FROM article a"
                " JOIN version v ON v.article_id = a.id AND v.number = 1"
                " ORDER BY a.id DESC LIMIT :n"
            ),
            {"n": count},
        ).all()
        for i, (article_id, _url, title, text, digest) in enumerate(rows):
            conn.execute(
                sa.text(
                    "INSERT INTO version (article_id, number, fetched_at, title, text,"
                    " text_sha256, fingerprint, words_added, words_removed, change)"
                    " VALUES (:a, 2, :at, :t, :x, :d, :f, 3, 1, 'text: +3/-1 words')"
                ),
                {
                    "a": article_id,
                    "at": (later + timedelta(seconds=i)).replace(tzinfo=None),
                    "t": title,
                    "x": text + " Correction: an earlier version misstated a figure.",
                    "d": digest + "2",
                    "f": digest + "2",
                },
            )
            conn.execute(
                sa.text("UPDATE article SET latest_version = 2 WHERE id = :a"), {"a": article_id}
            )
    engine.dispose()
    return [r[1] for r in rows]


def measure(size: int, *, cache: bool, workdir: Path, repeats: int = 5) -> dict[str, Any]:
    from editions.api import Editions
    from editions.settings import Settings
    from editions.web.server import BackgroundServer

    copy = workdir / f"web-{size}.db"
    url = f"sqlite:///{copy}"
    if cache:
        # The cached archive is checkpointed (no WAL left), so one file is all of it.
        shutil.copyfile(sqlite_archive(size, cache=True, workdir=workdir).removeprefix("sqlite:///"), copy)
    else:
        build_archive(url, size)
    with Editions(url, settings=Settings.defaults()) as ed:
        ed.archive  # noqa: B018  (migrate the copy before any edits are added)
    edited = _add_edits(url, EDITS)
    pages = [
        ("/", {}),
        ("/", {"q": "minister"}),
        ("/", {"q": '"city council" budget'}),
        ("/article", {"url": edited[0]}),
        ("/version", {"url": edited[1], "v": 1}),
        ("/diff", {"url": edited[2]}),
        ("/diff", {"url": edited[3], "mode": "side"}),
        ("/changes", {}),
        ("/changes", {"page": 5}),
        ("/status", {}),
        ("/feeds/changes.atom", {}),
        ("/api/search", {"q": "election"}),
        ("/api/changes", {}),
    ]
    timings: list[float] = []
    per_page: dict[str, float] = {}
    slowest = ("", 0.0)
    with (
        Editions(url, settings=Settings.defaults()) as ed,
        BackgroundServer(ed) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for path, params in pages:
            client.get(path, params=params).raise_for_status()  # warm
            mine: list[float] = []
            for _ in range(repeats):
                started = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                elapsed = (time.perf_counter() - started) * 1000
                timings.append(elapsed)
                mine.append(elapsed)
                if elapsed > slowest[1]:
                    slowest = (f"{path} {params}", elapsed)
            per_page[f"{path} {params}"] = round(statistics.median(mine), 1)
        articles = ed.archive.count_articles()
    return {
        "articles": articles,
        "pages": len(pages),
        "p50_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "slowest": slowest[0],
        "slowest_ms": slowest[1],
        "median_ms_by_page": per_page,
    }
