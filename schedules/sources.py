"""The sources file: which feeds, sitemaps and front pages to watch, and how often.

A TOML file of ``[[source]]`` tables::

    [[source]]
    name = "bbc-world"
    url = "https://feeds.bbci.co.uk/news/world/rss.xml"
    kind = "feed"            # feed | sitemap | page
    every = "10m"            # 30s, 10m, 2h, 1d, 1h30m; at least 1m
    allow = "/news/"         # optional regex, searched in each discovered URL
    deny = "/live/"          # optional regex

Every mistake is reported with the file, the line and the field, so a typo in a
big file is found at once. ``every`` has a floor of one minute: polling a site
more often is impolite and news feeds do not change that fast.
"""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from editions.settings import Settings, get_settings
from worker.canonical import InvalidURL, canonicalize

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

Kind = Literal["feed", "sitemap", "page"]
KINDS: tuple[str, ...] = get_args(Kind)
MIN_EVERY = timedelta(minutes=1)
REQUIRED_FIELDS = ("name", "url", "kind", "every")
OPTIONAL_FIELDS = ("allow", "deny")
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS

ROOT = Path(__file__).resolve().parent.parent


class SourcesError(ValueError):
    """A sources file (or source dict) that is wrong; the message names file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        source: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path, self.line, self.source, self.field = path, line, source, field
        self.reason = message
        prefix = ""
        if path is not None:
            prefix = f"{path}:{line}: " if line is not None else f"{path}: "
        if source is not None:
            prefix += f"source {source!r}: "
        if field is not None:
            prefix += f"field {field!r}: "
        super().__init__(prefix + message)


def _field_error(field: str, message: str) -> SourcesError:
    return SourcesError(message, field=field)


_DURATION = re.compile(
    r"^(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """``"30s"``, ``"10m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` as a timedelta; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration string like '10m', got {type(text).__name__}")
    cleaned = text.strip()
    match = _DURATION.match(cleaned)
    if not cleaned or not match or not any(match.groupdict().values()):
        raise ValueError(f"{text!r} is not a duration: use e.g. '30s', '10m', '2h', '1d', '1h30m'")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def _compile(name: str, pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str):
        raise _field_error(name, f"expected a regex string, got {type(pattern).__name__}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise _field_error(name, f"{pattern!r} is not a valid regular expression: {exc}") from None


@dataclass(frozen=True)
class Source:
    """One place to discover articles: a feed, a sitemap or a front page, polled ``every``."""

    name: str
    url: str
    kind: Kind
    every: timedelta
    allow: str | None = None
    deny: str | None = None
    _allow: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _deny: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise _field_error("name", "must be a non-empty string")
        if self.name != self.name.strip():
            raise _field_error("name", f"{self.name!r} has leading or trailing spaces")
        if not isinstance(self.url, str):
            raise _field_error("url", f"expected a string, got {type(self.url).__name__}")
        try:
            canonicalize(self.url)
        except InvalidURL as exc:
            raise _field_error("url", f"not an absolute http(s) URL: {exc}") from None
        if self.kind not in KINDS:
            raise _field_error("kind", f"{self.kind!r} is not one of {', '.join(KINDS)}")
        if not isinstance(self.every, timedelta):
            raise _field_error("every", f"expected a timedelta, got {type(self.every).__name__}")
        if self.every < MIN_EVERY:
            raise _field_error(
                "every",
                f"{_format_duration(self.every)} is too often: the minimum is "
                f"{_format_duration(MIN_EVERY)}, out of politeness to the site",
            )
        object.__setattr__(self, "_allow", _compile("allow", self.allow))
        object.__setattr__(self, "_deny", _compile("deny", self.deny))

    def matches(self, url: str) -> bool:
        """True if ``url`` passes this source's ``allow`` and ``deny`` patterns."""
        if self._allow is not None and not self._allow.search(url):
            return False
        return not (self._deny is not None and self._deny.search(url))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``every`` in seconds); ``Source.from_dict`` reverses it."""
        seconds = self.every.total_seconds()
        return {
            "name": self.name,
            "url": self.url,
            "kind": self.kind,
            "every": int(seconds) if seconds.is_integer() else seconds,
            "allow": self.allow,
            "deny": self.deny,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        """A Source from ``as_dict`` output (``every`` as seconds or a duration string)."""
        if not isinstance(data, dict):
            raise SourcesError(f"expected a dict, got {type(data).__name__}")
        name = data.get("name")
        label = name if isinstance(name, str) else None
        try:
            return _build(data)
        except SourcesError as exc:
            raise SourcesError(exc.reason, source=label, field=exc.field) from None


def _format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{value.total_seconds():g}s"


def _every(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise _field_error("every", "expected a duration like '10m', got a boolean")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _field_error("every", str(exc)) from None


def _build(table: dict[str, Any]) -> Source:
    unknown = [key for key in table if key not in FIELDS]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, FIELDS, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise _field_error(
            key, f"unknown field{suggestion}; allowed fields are {', '.join(FIELDS)}"
        )
    for key in REQUIRED_FIELDS:
        if key not in table:
            raise _field_error(key, "missing (every source needs name, url, kind and every)")
    for key in ("name", "url", "kind"):
        if not isinstance(table[key], str):
            raise _field_error(key, f"expected a string, got {type(table[key]).__name__}")
    return Source(
        name=table["name"],
        url=table["url"].strip(),
        kind=table["kind"],
        every=_every(table["every"]),
        allow=table.get("allow"),
        deny=table.get("deny"),
    )


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
            source = _build(table)
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


def default_sources_path(settings: Settings | None = None) -> Path:
    """Where the sources file is: ``EDITIONS_SOURCES`` / ``settings.SOURCES``.

    A relative path is taken from the working directory, else from the project root,
    so the shipped ``schedules/sources.toml`` is found from anywhere.
    """
    settings = settings or get_settings()
    path = Path(settings.SOURCES).expanduser()
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
