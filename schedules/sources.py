"""The sources file: which feeds, sitemaps and front pages to watch, and how often.

A TOML file of ``[[source]]`` tables::

    [[source]]
    name = "bbc-world"
    url = "https://feeds.bbci.co.uk/news/world/rss.xml"
    kind = "feed"            # feed | sitemap | page
    every = "10m"            # 90s, 10m, 2h, 1d, 1h30m; at least 1m
    allow = "/news/"         # optional regex, searched in each discovered URL
    deny = "/live/"          # optional regex
    ignore = ['Updated [0-9]+ minutes? ago', '^Advertisement$']
                             # optional regexes: text that never makes a new version

Every mistake is reported with the file, the line and the field, all of them at
once, so a big file is fixed in one go. ``every`` has a floor of one minute: polling a site
more often is impolite and news feeds do not change that fast.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tomllib
from pathlib import Path

import tomlkit

from editions.errors import InvalidURLError, SourcesError
from editions.records import (
    MIN_EVERY,
    Kind,
    Source,
    build_source,
    format_duration,
    parse_duration,
)
from editions.settings import Settings
from worker.canonical import canonicalize

log = logging.getLogger(__name__)

__all__ = [
    "MIN_EVERY",
    "Kind",
    "Source",
    "SourcesError",
    "add_source",
    "default_sources_path",
    "load_sources",
    "parse_duration",
    "parse_sources",
    "read_sources_text",
    "remove_source",
    "write_sources_text",
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
    # Every problem in the file is collected and reported at once, in line order.
    problems: list[SourcesError] = []
    for key in document:
        if key != "source":
            problems.append(
                SourcesError(
                    f"unknown top-level key {key!r}: the file holds only [[source]] tables",
                    path=path,
                    line=_top_level_line(text, key),
                )
            )
    tables = document.get("source", [])
    if not isinstance(tables, list):
        problems.append(
            SourcesError(
                "'source' must be an array of tables: write [[source]], not [source]",
                path=path,
                line=_top_level_line(text, "source"),
            )
        )
        tables = []
    spans = _table_lines(text)
    sources: list[Source] = []
    first_line: dict[str, int] = {}
    for index, table in enumerate(tables):
        span = spans[index] if index < len(spans) else (1, 1)
        if not isinstance(table, dict):
            problems.append(
                SourcesError("each source must be a [[source]] table", path=path, line=span[0])
            )
            continue
        name = table.get("name")
        label = name if isinstance(name, str) else f"#{index + 1}"
        found = _table_problems(table)
        problems += [
            SourcesError(
                p.reason,
                path=path,
                line=_key_line(text, span, p.field) if p.field else span[0],
                source=label,
                field=p.field,
            )
            for p in found
        ]
        if isinstance(name, str) and name in first_line:
            problems.append(
                SourcesError(
                    f"duplicate name: already used by the source at line {first_line[name]}",
                    path=path,
                    line=_key_line(text, span, "name"),
                    source=name,
                    field="name",
                )
            )
        elif isinstance(name, str):
            first_line[name] = span[0]
        if not found:
            sources.append(build_source(table))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise SourcesError.collect(problems)
    log.debug("read %d sources from %s", len(sources), path)
    return sources


def _table_problems(table: dict[str, object]) -> list[SourcesError]:
    """Every problem with one ``[[source]]`` table (unlocated: fields only)."""
    try:
        build_source(table)
        problems: list[SourcesError] = []
    except SourcesError as exc:
        problems = list(exc.problems)
    url = table.get("url")
    if isinstance(url, str) and not any(p.field == "url" for p in problems):
        try:
            _check_url(url.strip())
        except SourcesError as exc:
            problems.append(exc)
    return problems


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
    return parse_sources(read_sources_text(path), str(path))


def read_sources_text(path: str | Path, *, missing_ok: bool = False) -> str:
    """The text of the sources file at ``path`` ("" if missing and ``missing_ok``)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return ""
        raise SourcesError("no such sources file", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise SourcesError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    except OSError as exc:
        raise SourcesError(f"cannot read: {exc.strerror}", path=str(path)) from None


# --- editing the file ---------------------------------------------------------------
#
# Edits are made on the text, not by re-serialising a parsed document, so every other
# byte of the file (comments, blank lines, key order, quoting) stays as its owner wrote
# it; tomlkit renders the new table, so values are quoted the TOML way. Each edit is
# checked by parsing the result before anyone writes it.


def add_source(text: str, source: Source, path: str = "<string>") -> str:
    """``text`` with ``source`` appended as a new ``[[source]]`` table.

    SourcesError if ``text`` is not a valid sources file (it is not edited then) or
    already has a source of that name.
    """
    try:
        _check_url(source.url)
    except SourcesError as exc:
        raise SourcesError(exc.reason, source=source.name, field="url") from None
    existing = parse_sources(text, path)
    spans = _table_lines(text)
    for index, other in enumerate(existing):
        if other.name == source.name:
            raise SourcesError(
                f"a source named {source.name!r} already exists (remove it first)",
                path=path,
                line=_key_line(text, spans[index], "name"),
                source=source.name,
                field="name",
            )
    table = tomlkit.table()
    table["name"] = source.name
    table["url"] = source.url
    table["kind"] = source.kind
    table["every"] = format_duration(source.every)
    for key in ("allow", "deny"):
        pattern = getattr(source, key)
        if pattern is not None:
            table[key] = _toml_string(pattern)
    tables = tomlkit.aot()
    tables.append(table)
    document = tomlkit.document()
    document["source"] = tables
    rendered = tomlkit.dumps(document)
    head = text.rstrip()
    updated = f"{head}\n\n{rendered}" if head else rendered
    _check_edit(updated, path, [*existing, source])
    return updated


def remove_source(text: str, name: str, path: str = "<string>") -> str:
    """``text`` without the ``[[source]]`` table named ``name``.

    The table goes with the comment block right above its header (no blank line
    between them), which is how a comment describing a source is written; other
    comments and blank lines stay.
    """
    existing = parse_sources(text, path)
    names = [s.name for s in existing]
    if name not in names:
        known = ", ".join(names) if names else "none"
        raise SourcesError(f"no source named {name!r} (sources in the file: {known})", path=path)
    index = names.index(name)
    first, last = _table_lines(text)[index]
    lines = text.splitlines(keepends=True)
    start = first - 1  # 0-based index of the [[source]] header
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    # The table's last key line; comments after it may belong to the next table.
    end = last - 1
    while end > first - 1 and (not lines[end].strip() or lines[end].lstrip().startswith("#")):
        end -= 1
    end += 1
    while end < len(lines) and not lines[end].strip():
        end += 1
    kept = lines[:start] + lines[end:]
    updated = "".join(kept).rstrip() + "\n" if "".join(kept).strip() else ""
    _check_edit(updated, path, [s for s in existing if s.name != name])
    return updated


def _toml_string(value: str) -> tomlkit.items.String:
    # A regex reads best as a literal string (no doubled backslashes) when it can be one.
    literal = "'" not in value and not any(c in value for c in "\n\r")
    return tomlkit.string(value, literal=literal)


def _check_edit(text: str, path: str, expected: list[Source]) -> None:
    """Refuse an edit whose result does not parse back to exactly ``expected``."""
    try:
        parsed = parse_sources(text, path)
    except SourcesError as exc:
        raise SourcesError(f"the edit would break the file, so it was not made: {exc}") from None
    if parsed != expected:
        raise SourcesError(
            "the edit would not give the expected sources, so it was not made", path=path
        )


def write_sources_text(path: str | Path, text: str) -> None:
    """Replace the file at ``path`` with ``text`` atomically (temp file, then rename).

    Readers (a running scheduler's watcher) see the old file or the new one, never half
    of one. The file keeps its permissions; a symlink keeps pointing at the edited file.
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    try:
        mode: int | None = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL: never write through someone else's file; 0o666 lets the umask decide
        # a new file's mode, as any editor creating it would.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise SourcesError(f"cannot write: {exc.strerror}", path=str(path)) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise SourcesError(f"cannot write: {exc.strerror}", path=str(path)) from None
    log.info("wrote sources file %s", target)


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
