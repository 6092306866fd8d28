"""When to look at an article again: often while it is fresh, rarely once it has settled.

News articles are edited most in their first hours (headline tweaks, corrections,
updates); after a couple of weeks they almost never change, so revisits stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from editions.settings import Settings, get_settings

log = logging.getLogger(__name__)

SCHEDULE_VARIABLE = "EDITIONS_REVISIT_SCHEDULE"
MAX_AGE_VARIABLE = "EDITIONS_REVISIT_MAX_AGE"


class RevisitScheduleError(ValueError):
    """The revisit schedule setting cannot be understood."""


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
    def from_settings(cls, settings: Settings | None = None) -> RevisitPolicy:
        """The policy given by REVISIT_SCHEDULE and REVISIT_MAX_AGE."""
        settings = settings or get_settings()
        try:
            max_age = timedelta(seconds=float(settings.REVISIT_MAX_AGE))
        except (TypeError, ValueError):
            raise RevisitScheduleError(
                f"{MAX_AGE_VARIABLE}={settings.REVISIT_MAX_AGE!r}: expected seconds"
            ) from None
        return cls(steps=parse_schedule(settings.REVISIT_SCHEDULE), max_age=max_age)

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
