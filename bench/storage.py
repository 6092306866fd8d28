"""Figure 6: bytes on disk per article, and per extra version after a small edit.

Measured on the embedded SQLite archive (the database holds the raw captures
too): ingest the site, measure the file; change two words of every page,
revisit, measure again. Sizes are the database's used pages after a WAL
checkpoint, so free pages and the WAL do not count.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from bench.ingest import bench_settings, bench_sources
from bench.site import load_templates, plan, populate, render
from editions.demo.site import LocalSite

log = logging.getLogger(__name__)


def database_bytes(path: Path) -> int:
    """Bytes of the SQLite database's used pages (after folding the WAL in)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        connection.close()
    return (pages - free) * page_size


def _captures(path: Path) -> tuple[int, int]:
    connection = sqlite3.connect(path)
    try:
        stored, plain = connection.execute(
            "select coalesce(sum(stored_size), 0), coalesce(sum(size), 0) from capture"
        ).fetchone()
    finally:
        connection.close()
    return int(stored), int(plain)


def measure(articles: int, workdir: Path) -> dict[str, Any]:
    """Ingest ``articles`` pages, edit each slightly, revisit; sizes per article and version."""
    from editions.api import Editions

    templates = load_templates()
    refs = plan(templates, articles)
    path = workdir / "storage.db"
    with LocalSite() as site:
        populate(site, articles, templates)
        plain = sum(len(site.pages[r.path].body) for r in refs)
        sources = bench_sources(site.url("/feed.xml"), site.url("/sitemap.xml"))
        with Editions(f"sqlite:///{path}", settings=bench_settings(articles)) as editions:
            empty = database_bytes(path)
            first = editions.run_once(sources=sources).counts()
        after_first = database_bytes(path)
        captures_first, _ = _captures(path)
        for ref in refs:
            site.add(ref.path, render(templates[ref.template], ref.copy, edit=1))
        with Editions(f"sqlite:///{path}", settings=bench_settings(articles)) as editions:
            results = editions.revisit(all_articles=True)
        changed = sum(r.action == "changed" for r in results)
        after_edit = database_bytes(path)
        captures_all, _ = _captures(path)
    stored = first.get("new", 0)
    return {
        "articles": stored,
        "versions_added": changed,
        "plain_page_bytes": plain / articles,
        "bytes_per_article": (after_first - empty) / max(stored, 1),
        "bytes_per_extra_version": (after_edit - after_first) / max(changed, 1),
        "capture_bytes_per_article": captures_first / max(stored, 1),
        "capture_bytes_per_extra_version": (captures_all - captures_first) / max(changed, 1),
    }
