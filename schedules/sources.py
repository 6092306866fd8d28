"""The sources file: which feeds, sitemaps and front pages to watch, and how often.

A TOML file of ``[[source]]`` tables::

    [[source]]
    name = "bbc-world"
    url = "https://feeds.bbci.co.uk/news/world/rss.xml"
    kind = "feed"            # feed | sitemap | page
    every = "10m"            # 30s, 10m, 2h, 1d, 1h30m; at least 1m
    allow = "/news/"         # optional regex, searched in each discovered URL
    deny = "/live/"          # optional regex
    ignore = ['Updated [0-9]+ minutes? ago', '^Advertisement$']
                             # optional regexes: text that never makes a new version

Every mistake is reported with the file, the line and the field, so a typo in a
big file is found at once. ``every`` has a floor of one minute: polling a site
more often is impolite and news feeds do not change that fast.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

from editions.errors import InvalidURLError, SourcesError
from editions.records import MIN_EVERY, Kind, Source, build_source, parse_duration
from editions.settings import Settings
from worker.canonical import canonicalize

log = logging.getLogger(__name__)

__all__ = [
    "MIN_EVERY",
    "Kind",
    "Source",
    "SourcesError",
    "default_sources_path",
    "load_sources",
    "parse_duration",
    "parse_sources",
]

ROOT = Path(__file__).resolve().parent.parent


# --- locating errors in the text ----------------------------------------------------

_SOURCE_HEADER = re.compile(r"^\s*\[\[\s*(?:source|\"source\"|'source')\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[")


def _table_lines(text: str) -> list[tuple[int, int]]:
    """(first, last) line numbers (1-based, inclusive) of each ``[[source]]`` table."""
    lines = text.splitlines()
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        if _ANY_HEADER.match(line):
            if start is not None:
                spans.append((start, number - 1))
                start = None
            if _SOURCE_HEADER.match(line):
                start = number
    if start is not None:
        spans.append((start, len(lines)))
    return spans


def _key_line(text: str, span: tuple[int, int], key: str) -> int:
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    lines = text.splitlines()
    for number in range(span[0], span[1] + 1):
        if pattern.match(lines[number - 1]):
            return number
    return span[0]


def parse_sources(text: str, path: str = "<string>") -> list[Source]:
    """The sources of a sources file's text; SourcesError naming ``path``, line and field."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise SourcesError(
            f"not valid TOML: {exc}", path=path, line=int(found[1]) if found else None
        ) from None
    for key in document:
        if key != "source":
            raise SourcesError(
                f"unknown top-level key {key!r}: the file holds only [[source]] tables",
                path=path,
                line=_top_level_line(text, key),
            )
    tables = document.get("source", [])
    if not isinstance(tables, list):
        raise SourcesError(
            "'source' must be an array of tables: write [[source]], not [source]",
            path=path,
            line=_top_level_line(text, "source"),
        )
    spans = _table_lines(text)
    sources: list[Source] = []
    first_line: dict[str, int] = {}
    for index, table in enumerate(tables):
        span = spans[index] if index < len(spans) else (1, 1)
        if not isinstance(table, dict):
            raise SourcesError("each source must be a [[source]] table", path=path, line=span[0])
        name = table.get("name") if isinstance(table, dict) else None
        label = name if isinstance(name, str) else f"#{index + 1}"
        try:
            source = build_source(table)
            _check_url(source.url)
        except SourcesError as exc:
            raise SourcesError(
                exc.reason,
                path=path,
                line=_key_line(text, span, exc.field),
                source=label,
                field=exc.field,
            ) from None
        if source.name in first_line:
            raise SourcesError(
                f"duplicate name: already used by the source at line {first_line[source.name]}",
                path=path,
                line=_key_line(text, span, "name"),
                source=source.name,
                field="name",
            )
        first_line[source.name] = span[0]
        sources.append(source)
    log.debug("read %d sources from %s", len(sources), path)
    return sources


def _check_url(url: str) -> None:
    try:
        canonicalize(url)
    except InvalidURLError as exc:
        raise SourcesError(f"not an absolute http(s) URL: {exc}", field="url") from None


def _top_level_line(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*\[*\s*[\"']?{re.escape(key)}[\"']?\s*(?:\]|=|\.)")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def load_sources(path: str | Path) -> list[Source]:
    """The sources in the TOML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourcesError("no such sources file", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise SourcesError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    except OSError as exc:
        raise SourcesError(f"cannot read: {exc.strerror}", path=str(path)) from None
    return parse_sources(text, str(path))


def default_sources_path(settings: Settings) -> Path:
    """Where the sources file is: the ``sources`` setting (``EDITIONS_SOURCES``).

    A relative path is taken from the working directory, else from the project root,
    so the shipped ``schedules/sources.toml`` is found from anywhere.
    """
    path = Path(settings.sources).expanduser()
    if path.is_absolute() or path.exists():
        return path
    shipped = ROOT / path
    return shipped if shipped.exists() else path


class SourcesWatcher:
    """Notices edits to the sources file, so schedulers can reload it without a restart."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def changed(self) -> bool:
        """True once after each change of the file (or its disappearance)."""
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True
