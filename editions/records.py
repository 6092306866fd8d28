"""The records every layer shares: a source to poll and the revisit policy.

These are plain values with their own validation, so the archive, the worker and
the schedulers can pass them around without knowing where they came from (the
sources file, a Celery message, a test).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
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
    "HostBudget",
    "Kind",
    "RevisitHints",
    "RevisitPolicy",
    "Source",
    "build_source",
    "format_duration",
    "may_capture_live",
    "parse_duration",
    "parse_schedule",
]

Kind = Literal["feed", "sitemap", "page"]
KINDS: tuple[str, ...] = get_args(Kind)
MIN_EVERY = timedelta(minutes=1)
REQUIRED_FIELDS = ("name", "url", "kind", "every")
OPTIONAL_FIELDS = ("allow", "deny", "ignore")
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
    # Regexes for text that never decides a version ("Updated \d+ minutes ago",
    # "^Advertisement$"), matched against each folded paragraph of the article text.
    ignore: tuple[str, ...] = ()
    _allow: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _deny: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _ignore: tuple[re.Pattern[str], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

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
        object.__setattr__(self, "ignore", _ignore_list(self.ignore))
        object.__setattr__(
            self, "_ignore", tuple(_compile("ignore", pattern) for pattern in self.ignore)
        )

    @property
    def ignore_patterns(self) -> tuple[re.Pattern[str], ...]:
        """The compiled ``ignore`` regexes, for ``worker.version.fingerprint(ignore=...)``."""
        return self._ignore

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
            "ignore": list(self.ignore),
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


def _ignore_list(value: Any) -> tuple[str, ...]:
    """``ignore`` as a tuple of strings: a list of regexes, or one regex on its own."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple):
        raise _field_error(
            "ignore", f"expected a list of regex strings, got {type(value).__name__}"
        )
    for item in value:
        if not isinstance(item, str):
            raise _field_error(
                "ignore", f"expected a list of regex strings, found {type(item).__name__}"
            )
        if not item:
            raise _field_error("ignore", "an empty pattern would match everywhere")
    return tuple(value)


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
class RevisitHints:
    """What the outside world says about an article's freshness, each an aware UTC moment.

    ``modified``: the page's ``dateModified`` / ``article:modified_time``;
    ``last_modified``: the HTTP ``Last-Modified`` header; ``feed_updated``: the feed
    entry's ``updated``; ``sitemap_lastmod``: a news sitemap's ``lastmod``;
    ``front_page``: when the article reappeared on a front page after being absent.
    Any of them may be None; naive datetimes count as UTC.
    """

    modified: datetime | None = None
    last_modified: datetime | None = None
    feed_updated: datetime | None = None
    sitemap_lastmod: datetime | None = None
    front_page: datetime | None = None

    def latest(self, *, not_after: datetime | None = None) -> datetime | None:
        """The newest hint (none later than ``not_after``: a clock ahead of ours is clamped)."""
        moments = [
            _as_utc(m)
            for m in (
                self.modified,
                self.last_modified,
                self.feed_updated,
                self.sitemap_lastmod,
                self.front_page,
            )
            if m is not None
        ]
        if not moments:
            return None
        newest = max(moments)
        if not_after is not None:
            newest = min(newest, _as_utc(not_after))
        return newest


@dataclass(frozen=True)
class HostBudget:
    """At most ``limit`` revisits of one host in any ``window`` (``limit`` 0: no budget)."""

    limit: int = 0
    window: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise RevisitScheduleError(f"a host budget cannot be negative, not {self.limit}")
        if self.window <= timedelta(0):
            raise RevisitScheduleError(f"a host budget window must be positive, not {self.window}")

    def left(self, recent: Iterable[datetime], now: datetime) -> int | None:
        """Revisits the host may still have now, given the moments of its recent ones.

        None when there is no budget at all (``limit`` 0).
        """
        if not self.limit:
            return None
        since = _as_utc(now) - self.window
        used = sum(1 for moment in recent if _as_utc(moment) > since)
        return max(self.limit - used, 0)

    def allows(self, recent: Iterable[datetime], now: datetime) -> bool:
        """Whether one more revisit of the host fits in the window ending ``now``."""
        left = self.left(recent, now)
        return left is None or left > 0

    def next_slot(self, recent: Iterable[datetime], now: datetime) -> datetime:
        """The first moment from ``now`` on at which one more revisit fits the budget."""
        moments = sorted(_as_utc(m) for m in recent)
        aware_now = _as_utc(now)
        if not self.limit:
            return aware_now
        in_window = [m for m in moments if m > aware_now - self.window]
        if len(in_window) < self.limit:
            return aware_now
        # The oldest request that must leave the window before one more fits.
        return in_window[len(in_window) - self.limit] + self.window


@dataclass(frozen=True)
class RevisitPolicy:
    """When to look at an article again: decaying tiers counted from its last real change.

    ``steps`` are (quiet for up to, interval between checks): an article that has not
    changed for a short while is checked often, one quiet for days rarely; an edit
    (``last_changed``) or a hint from the site (``RevisitHints``) starts the tiers again.
    Revisits stop ``max_age`` after the article was first seen. A live blog is checked
    at most once per ``live_interval``; a hint pulls a check forward to ``hint_delay``
    from when it is seen.
    """

    steps: tuple[tuple[timedelta, timedelta], ...]
    max_age: timedelta
    live_interval: timedelta = timedelta(minutes=10)
    hint_delay: timedelta = timedelta(minutes=1)
    budget: HostBudget = field(default_factory=HostBudget)

    def __post_init__(self) -> None:
        if not self.steps:
            raise RevisitScheduleError("a revisit policy needs at least one step")
        if self.max_age <= timedelta(0):
            raise RevisitScheduleError(f"{MAX_AGE_VARIABLE} must be positive, not {self.max_age}")
        if self.live_interval < timedelta(0) or self.hint_delay < timedelta(0):
            raise RevisitScheduleError("the live-blog interval and hint delay cannot be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> RevisitPolicy:
        """The policy given by the ``revisit_*`` settings."""
        return cls(
            steps=parse_schedule(settings.revisit_schedule),
            max_age=timedelta(seconds=settings.revisit_max_age),
            live_interval=timedelta(seconds=settings.revisit_live_interval),
            hint_delay=timedelta(seconds=settings.revisit_hint_delay),
            budget=HostBudget(
                settings.revisit_host_budget,
                timedelta(seconds=settings.revisit_host_window),
            ),
        )

    def interval_at(self, age: timedelta, *, live: bool = False) -> timedelta | None:
        """Time between checks after ``age`` without a change; None past ``max_age``."""
        if age > self.max_age:
            return None
        interval = self.steps[-1][1]
        for age_limit, step in self.steps:
            if age <= age_limit:
                interval = step
                break
        return max(interval, self.live_interval) if live else interval

    def next_check_at(
        self,
        first_seen: datetime,
        now: datetime,
        *,
        last_changed: datetime | None = None,
        hints: RevisitHints | None = None,
        live: bool = False,
    ) -> datetime | None:
        """When to check an article again after a check at ``now``; None to stop.

        The tiers count from the article's last sign of life: ``last_changed`` (the
        last check that found a real change) or the newest of ``hints``, whichever is
        later, else ``first_seen``. Revisits stop ``max_age`` after ``first_seen``,
        with one last look exactly then so the final edits are not missed.
        """
        aware_now = _as_utc(now)
        seen = _as_utc(first_seen)
        # A first_seen in the future (clock skew) counts as "just seen".
        age = max(aware_now - seen, timedelta(0))
        if age > self.max_age:
            return None
        anchor = seen
        if last_changed is not None:
            anchor = max(anchor, _as_utc(last_changed))
        hinted = hints.latest(not_after=aware_now) if hints is not None else None
        if hinted is not None:
            anchor = max(anchor, hinted)
        quiet = max(aware_now - anchor, timedelta(0))
        interval = self.interval_at(min(quiet, self.max_age), live=live)
        assert interval is not None  # quiet is capped at max_age
        deadline = now + (self.max_age - age)
        if now + interval <= deadline:
            return now + interval
        return deadline if deadline > now else None

    def pull_forward(
        self,
        scheduled: datetime | None,
        *,
        hint: datetime,
        last_checked: datetime | None,
        now: datetime,
        first_seen: datetime | None = None,
        live: bool = False,
    ) -> datetime | None:
        """The next check once a hint arrives between checks (a feed or sitemap poll).

        A hint newer than ``last_checked`` says the page changed since we last looked:
        the check moves to ``now + hint_delay`` unless it is due sooner. A live blog
        still waits ``live_interval`` after its last check. An article past ``max_age``
        (from ``first_seen``) or a hint no newer than the last check leaves
        ``scheduled`` alone.
        """
        aware_now = _as_utc(now)
        if last_checked is not None and _as_utc(hint) <= _as_utc(last_checked):
            return scheduled
        if first_seen is not None and aware_now - _as_utc(first_seen) > self.max_age:
            return scheduled
        soon = aware_now + self.hint_delay
        if live and last_checked is not None:
            soon = max(soon, _as_utc(last_checked) + self.live_interval)
        if scheduled is None or soon < _as_utc(scheduled):
            return soon
        return scheduled


def may_capture_live(last_capture: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Whether a live blog may get a new version now: at most one per ``interval``."""
    return last_capture is None or _as_utc(now) - _as_utc(last_capture) >= interval
