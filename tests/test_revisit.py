"""The revisit policy: soon after first sight, then less often, then never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from editions.errors import RevisitScheduleError, SettingsError
from editions.records import RevisitPolicy, parse_schedule
from editions.settings import Settings

FIRST_SEEN = datetime(2026, 3, 14, 8, 30, tzinfo=UTC)


@pytest.fixture
def policy() -> RevisitPolicy:
    return RevisitPolicy.from_settings(Settings.from_env({}))


def test_default_settings_parse(policy: RevisitPolicy) -> None:
    assert policy.steps[0] == (timedelta(hours=1), timedelta(minutes=15))
    assert policy.steps[-1] == (timedelta(days=7), timedelta(days=1))
    assert policy.max_age == timedelta(days=14)


def test_environment_overrides_the_schedule() -> None:
    settings = Settings.from_env(
        {"EDITIONS_REVISIT_SCHEDULE": "60:10, 600:60", "EDITIONS_REVISIT_MAX_AGE": "3600"}
    )
    policy = RevisitPolicy.from_settings(settings)
    assert policy.steps == (
        (timedelta(seconds=60), timedelta(seconds=10)),
        (timedelta(seconds=600), timedelta(seconds=60)),
    )
    assert policy.max_age == timedelta(hours=1)


def test_intervals_grow_with_age(policy: RevisitPolicy) -> None:
    ages = [timedelta(minutes=m) for m in range(0, 14 * 24 * 60, 37)]
    intervals = [policy.interval_at(age) for age in ages]
    assert intervals[0] == timedelta(minutes=15)
    assert all(a is not None and b is not None and a <= b for a, b in pairwise(intervals))
    assert intervals[-1] == timedelta(days=1)
    assert len(set(intervals)) == len(policy.steps)
    for age, interval in zip(ages[:-40], intervals[:-40], strict=True):
        now = FIRST_SEEN + age
        assert policy.next_check_at(FIRST_SEEN, now) == now + interval


def test_step_boundaries(policy: RevisitPolicy) -> None:
    assert policy.next_check_at(FIRST_SEEN, FIRST_SEEN + timedelta(hours=1)) == (
        FIRST_SEEN + timedelta(hours=1, minutes=15)
    )
    just_after = FIRST_SEEN + timedelta(hours=1, seconds=1)
    assert policy.next_check_at(FIRST_SEEN, just_after) == just_after + timedelta(minutes=30)


def test_last_interval_applies_until_max_age(policy: RevisitPolicy) -> None:
    now = FIRST_SEEN + timedelta(days=9)
    assert policy.next_check_at(FIRST_SEEN, now) == now + timedelta(days=1)


def test_final_check_lands_on_max_age(policy: RevisitPolicy) -> None:
    now = FIRST_SEEN + timedelta(days=13, hours=12)
    assert policy.next_check_at(FIRST_SEEN, now) == FIRST_SEEN + timedelta(days=14)


def test_no_revisits_after_max_age(policy: RevisitPolicy) -> None:
    assert policy.next_check_at(FIRST_SEEN, FIRST_SEEN + timedelta(days=14, seconds=1)) is None
    assert policy.next_check_at(FIRST_SEEN, FIRST_SEEN + timedelta(days=400)) is None


def test_following_the_schedule_ends(policy: RevisitPolicy) -> None:
    checks, now = 0, FIRST_SEEN
    while (when := policy.next_check_at(FIRST_SEEN, now)) is not None:
        assert when > now
        now, checks = when, checks + 1
        assert checks < 1000
    # Checks land at 15m..75m (5), 105m..375m (10), then hourly (18), six-hourly (8),
    # daily (10) and a last look at exactly 14 days.
    assert now == FIRST_SEEN + timedelta(days=14)
    assert checks == 5 + 10 + 18 + 8 + 10 + 1


def test_never_in_the_past(policy: RevisitPolicy) -> None:
    for minutes in range(0, 15 * 24 * 60, 101):
        now = FIRST_SEEN + timedelta(minutes=minutes)
        when = policy.next_check_at(FIRST_SEEN, now)
        assert when is None or when >= now


def test_first_seen_in_the_future_counts_as_new(policy: RevisitPolicy) -> None:
    now = FIRST_SEEN - timedelta(hours=3)
    assert policy.next_check_at(FIRST_SEEN, now) == now + timedelta(minutes=15)


def test_naive_datetimes_are_utc(policy: RevisitPolicy) -> None:
    naive_first_seen = FIRST_SEEN.replace(tzinfo=None)
    now = FIRST_SEEN + timedelta(days=2)
    assert policy.next_check_at(naive_first_seen, now) == now + timedelta(hours=6)
    naive_now = now.replace(tzinfo=None)
    assert policy.next_check_at(naive_first_seen, naive_now) == naive_now + timedelta(hours=6)


@pytest.mark.parametrize(
    "raw",
    ["", "3600", "3600:abc", "abc:900", "3600:900,1800:60", "0:60", "3600:-5", "3600:900;7200:60"],
)
def test_bad_schedule_is_a_clear_error(raw: str) -> None:
    settings = Settings.from_env({"EDITIONS_REVISIT_SCHEDULE": raw})
    with pytest.raises(RevisitScheduleError, match="EDITIONS_REVISIT_SCHEDULE") as caught:
        RevisitPolicy.from_settings(settings)
    assert isinstance(caught.value, ValueError)
    assert repr(raw) in str(caught.value)


def test_bad_max_age_is_a_clear_error() -> None:
    with pytest.raises(RevisitScheduleError, match="EDITIONS_REVISIT_MAX_AGE"):
        RevisitPolicy.from_settings(Settings.from_env({}, revisit_max_age=0))
    # A value that is not even a number is refused when the settings are read.
    with pytest.raises(SettingsError, match="EDITIONS_REVISIT_MAX_AGE"):
        Settings.from_env({"EDITIONS_REVISIT_MAX_AGE": "two weeks"})


def test_parse_schedule_accepts_fractions_and_spaces() -> None:
    assert parse_schedule(" 90.5:30 ,") == ((timedelta(seconds=90.5), timedelta(seconds=30)),)
