"""The records every layer shares: a source to poll and the revisit policy.

These are plain values with their own validation, so the archive, the worker and
the schedulers can pass them around without knowing where they came from (the
sources file, a Celery message, a test).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import urlsplit

from editions.errors import RevisitScheduleError, SourcesError

if TYPE_CHECKING:
    from editions.settings import Settings

__all__ = [
    "FIELDS",
    "KINDS",
    "MIN_EVERY",
    "Kind",
    "RevisitPolicy",
    "Source",
    "build_source",
    "format_duration",
    "parse_duration",
    "parse_schedule",
]

Kind = Literal["feed", "sitemap", "page"]
KINDS: tuple[str, ...] = get_args(Kind)
MIN_EVERY = timedelta(minutes=1)
REQUIRED_FIELDS = ("name", "url", "kind", "every")
OPTIONAL_FIELDS = ("allow", "deny")
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS

def _field_error(field: str, message: str) -> SourcesError:
    return SourcesError(message, field=field)


_DURATION = re.compile(
    r"^(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"10m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` as a timedelta; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration string like '10m', got {type(text).__name__}")
    cleaned = text.strip()
    match = _DURATION.match(cleaned)
    if not cleaned or not match or not any(match.groupdict().values()):
        # Only hints a source's `every` accepts (at least MIN_EVERY): a hint must not mislead.
        raise ValueError(f"{text!r} is not a duration: use e.g. '10m', '2h', '1d', '1h30m'")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a source address, or None (the sources file checks more)."""
    if not url or url != url.strip() or any(c.isspace() for c in url):
        return "empty or contains spaces"
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        return f"scheme {parts.scheme or '(none)'!r} is not http or https"
    if not parts.hostname:
        return "no host"
    return None


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
        problems = _value_problems(
            {
                "name": self.name,
                "url": self.url,
                "kind": self.kind,
                "every": self.every,
                "allow": self.allow,
                "deny": self.deny,
            }
        )
        if problems:
            raise SourcesError.collect(problems)
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
            return build_source(data)
        except SourcesError as exc:
            raise SourcesError.collect(
                [SourcesError(p.reason, source=label, field=p.field) for p in exc.problems]
            ) from None


def format_duration(value: timedelta) -> str:
    """A timedelta as the shortest duration string ``parse_duration`` reads back."""
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


def _value_problems(values: dict[str, Any]) -> list[SourcesError]:
    """Every problem with the fields present in ``values``, in field order, not just the first."""
    problems: list[SourcesError] = []
    if "name" in values:
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            problems.append(_field_error("name", "must be a non-empty string"))
        elif name != name.strip():
            problems.append(_field_error("name", f"{name!r} has leading or trailing spaces"))
    if "url" in values:
        url = values["url"]
        if not isinstance(url, str):
            problems.append(_field_error("url", f"expected a string, got {type(url).__name__}"))
        elif problem := _url_problem(url):
            problems.append(_field_error("url", f"not an absolute http(s) URL: {problem}"))
    if "kind" in values and values["kind"] not in KINDS:
        problems.append(
            _field_error("kind", f"{values['kind']!r} is not one of {', '.join(KINDS)}")
        )
    if "every" in values:
        every = values["every"]
        if not isinstance(every, timedelta):
            problems.append(
                _field_error("every", f"expected a timedelta, got {type(every).__name__}")
            )
        elif every < MIN_EVERY:
            problems.append(
                _field_error(
                    "every",
                    f"{format_duration(every)} is too often: the minimum is "
                    f"{format_duration(MIN_EVERY)}, out of politeness to the site "
                    f"(use e.g. '{format_duration(MIN_EVERY)}' or '10m')",
                )
            )
    for key in ("allow", "deny"):
        try:
            _compile(key, values.get(key))
        except SourcesError as exc:
            problems.append(exc)
    return problems


def build_source(table: dict[str, Any]) -> Source:
    """A Source from a sources-file table; one SourcesError listing every problem in it."""
    problems: list[SourcesError] = []
    suggested: set[str] = set()
    for key in table:
        if key not in FIELDS:
            hint = difflib.get_close_matches(key, FIELDS, n=1)
            suggested.update(hint)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(
                _field_error(
                    key, f"unknown field{suggestion}; allowed fields are {', '.join(FIELDS)}"
                )
            )
    values: dict[str, Any] = {}
    for key in REQUIRED_FIELDS:
        if key not in table:
            if key in suggested:
                continue  # the typo's "did you mean" already says it
            problems.append(
                _field_error(key, "missing (every source needs name, url, kind and every)")
            )
        elif key == "every":
            try:
                values[key] = _every(table[key])
            except SourcesError as exc:
                problems.append(exc)
        elif not isinstance(table[key], str):
            problems.append(
                _field_error(key, f"expected a string, got {type(table[key]).__name__}")
            )
        else:
            values[key] = table[key].strip() if key == "url" else table[key]
    for key in OPTIONAL_FIELDS:
        if key in table:
            values[key] = table[key]
    problems += _value_problems(values)
    if problems:
        raise SourcesError.collect(problems)
    return Source(**values)


SCHEDULE_VARIABLE = "EDITIONS_REVISIT_SCHEDULE"
MAX_AGE_VARIABLE = "EDITIONS_REVISIT_MAX_AGE"


def parse_schedule(raw: str) -> tuple[tuple[timedelta, timedelta], ...]:
    """Parse "3600:900,21600:1800" (seconds: age up to, interval) into steps."""
    steps: list[tuple[timedelta, timedelta]] = []
    for part in str(raw).split(","):
        part = part.strip()
        if not part:
            continue
        age_text, colon, interval_text = part.partition(":")
        try:
            if not colon:
                raise ValueError
            age, interval = float(age_text), float(interval_text)
        except ValueError:
            raise RevisitScheduleError(
                f"{SCHEDULE_VARIABLE}={raw!r}: step {part!r} is not 'AGE:INTERVAL' in seconds "
                "(e.g. '3600:900,86400:3600')"
            ) from None
        if age <= 0 or interval <= 0:
            raise RevisitScheduleError(
                f"{SCHEDULE_VARIABLE}={raw!r}: step {part!r} must have a positive age and interval"
            )
        if steps and timedelta(seconds=age) <= steps[-1][0]:
            raise RevisitScheduleError(
                f"{SCHEDULE_VARIABLE}={raw!r}: ages must increase from step to step "
                f"({part!r} comes after an age of {steps[-1][0].total_seconds():g}s)"
            )
        steps.append((timedelta(seconds=age), timedelta(seconds=interval)))
    if not steps:
        raise RevisitScheduleError(
            f"{SCHEDULE_VARIABLE}={raw!r}: needs at least one 'AGE:INTERVAL' step"
        )
    return tuple(steps)


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything this project stores is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class RevisitPolicy:
    """Steps of (age up to, interval between checks), and the age at which revisits stop."""

    steps: tuple[tuple[timedelta, timedelta], ...]
    max_age: timedelta

    def __post_init__(self) -> None:
        if not self.steps:
            raise RevisitScheduleError("a revisit policy needs at least one step")
        if self.max_age <= timedelta(0):
            raise RevisitScheduleError(f"{MAX_AGE_VARIABLE} must be positive, not {self.max_age}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RevisitPolicy:
        """The policy given by the ``revisit_schedule`` and ``revisit_max_age`` settings."""
        return cls(
            steps=parse_schedule(settings.revisit_schedule),
            max_age=timedelta(seconds=settings.revisit_max_age),
        )

    def interval_at(self, age: timedelta) -> timedelta | None:
        """Time between checks for an article this old; None past ``max_age``."""
        if age > self.max_age:
            return None
        for age_limit, interval in self.steps:
            if age <= age_limit:
                return interval
        return self.steps[-1][1]

    def next_check_at(self, first_seen: datetime, now: datetime) -> datetime | None:
        """When to check an article first seen at ``first_seen`` again; None to stop."""
        aware_now = _as_utc(now)
        # A first_seen in the future (clock skew) counts as "just seen".
        age = max(aware_now - _as_utc(first_seen), timedelta(0))
        interval = self.interval_at(age)
        if interval is None:
            return None
        deadline = now + (self.max_age - age)
        if now + interval <= deadline:
            return now + interval
        # One last look exactly at max_age, so the final edits are not missed.
        return deadline if deadline > now else None
