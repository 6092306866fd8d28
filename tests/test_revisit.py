"""The revisit policy: soon after first sight or a change, then less often, then never.

The mechanics are tested on the schedule editions shipped before issue 9
(``OLD_SCHEDULE``, 14 days), whose check counts are easy to work out by hand; the
shipped defaults, the reset on a change, hints, live blogs and the host budget have
their own tests below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from editions.errors import RevisitScheduleError, SettingsError
from editions.records import (
    HostBudget,
    RevisitHints,
    RevisitPolicy,
    may_capture_live,
    parse_schedule,
)
from editions.settings import Settings

FIRST_SEEN = datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
OLD_SCHEDULE = {
    "EDITIONS_REVISIT_SCHEDULE": "3600:900,21600:1800,86400:3600,259200:21600,604800:86400",
    "EDITIONS_REVISIT_MAX_AGE": str(14 * 86400),
}


@pytest.fixture
def policy() -> RevisitPolicy:
    return RevisitPolicy.from_settings(Settings.from_env(OLD_SCHEDULE))


@pytest.fixture
def shipped() -> RevisitPolicy:
    return RevisitPolicy.from_settings(Settings.from_env({}))


def test_default_settings_parse(shipped: RevisitPolicy) -> None:
    # Issue 9: 10-minute checks for the first quiet half hour, 15 minutes to 4 hours,
    # 45 minutes to a day, then sparser, every 10 days to 30 days.
    assert shipped.steps[0] == (timedelta(minutes=30), timedelta(minutes=10))
    assert shipped.steps[1] == (timedelta(hours=4), timedelta(minutes=15))
    assert shipped.steps[2] == (timedelta(days=1), timedelta(minutes=45))
    assert shipped.steps[-1] == (timedelta(days=30), timedelta(days=10))
    assert shipped.max_age == timedelta(days=30)
    assert shipped.live_interval == timedelta(minutes=10)
    assert shipped.budget == HostBudget(0, timedelta(hours=1))


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


# --- issue 9: tiers from the last real change, hints, live blogs, host budget -----------


def _follow(policy: RevisitPolicy, changes: list[datetime] | None = None) -> list[datetime]:
    """Every check the policy makes for an article changed at ``changes``."""
    checks, now, last_changed = [], FIRST_SEEN, None
    pending = sorted(changes or [])
    while (when := policy.next_check_at(FIRST_SEEN, now, last_changed=last_changed)) is not None:
        assert when > now
        now = when
        checks.append(now)
        if pending and pending[0] <= now:
            last_changed = now
            pending = [c for c in pending if c > now]
        assert len(checks) < 1000
    return checks


def test_the_old_two_argument_call_still_works(shipped: RevisitPolicy) -> None:
    now = FIRST_SEEN + timedelta(minutes=5)
    assert shipped.next_check_at(FIRST_SEEN, now) == now + timedelta(minutes=10)
    assert shipped.next_check_at(FIRST_SEEN, now, last_changed=None, hints=None) == (
        now + timedelta(minutes=10)
    )


def test_shipped_schedule_stays_cheap_and_reaches_30_days(shipped: RevisitPolicy) -> None:
    checks = _follow(shipped)
    # Every 10 minutes to 40 m (4), quarter-hours to 4 h 10 m (14), every 45 minutes to a
    # day (27), 4-hourly on day two (6), every 36 hours to day 7 (4), then every 10 days
    # (2) and a last look at day 30: the budget is 70 requests per article.
    assert checks[-1] == FIRST_SEEN + timedelta(days=30)
    assert len(checks) == 4 + 14 + 27 + 6 + 4 + 2 + 1
    assert len(checks) + 1 <= 70  # plus the first fetch


def test_a_change_resets_the_tiers(shipped: RevisitPolicy) -> None:
    now = FIRST_SEEN + timedelta(days=3)
    assert shipped.next_check_at(FIRST_SEEN, now) == now + timedelta(hours=36)
    changed = shipped.next_check_at(FIRST_SEEN, now, last_changed=now)
    assert changed == now + timedelta(minutes=10)
    later = now + timedelta(hours=5)
    assert shipped.next_check_at(FIRST_SEEN, later, last_changed=now) == later + timedelta(
        minutes=45
    )


def test_a_reset_article_is_checked_more_than_a_quiet_one(shipped: RevisitPolicy) -> None:
    quiet = _follow(shipped)
    edited = _follow(shipped, [FIRST_SEEN + timedelta(days=2)])
    assert len(edited) > len(quiet)
    after_edit = [c for c in edited if c > FIRST_SEEN + timedelta(days=2)]
    assert after_edit[1] - after_edit[0] == timedelta(minutes=10)
    # The reset never extends revisits past max_age.
    assert edited[-1] == FIRST_SEEN + timedelta(days=30)


def test_old_policy_ignored_last_changed_and_missed_late_edits(policy: RevisitPolicy) -> None:
    # The pre-issue-9 schedule stops at day 14: an edit on day 20 is never seen.
    assert policy.next_check_at(FIRST_SEEN, FIRST_SEEN + timedelta(days=20)) is None


def test_hints_pull_the_tiers_forward(shipped: RevisitPolicy) -> None:
    now = FIRST_SEEN + timedelta(days=3)
    for name in ("modified", "last_modified", "feed_updated", "sitemap_lastmod", "front_page"):
        hints = RevisitHints(**{name: now - timedelta(minutes=50)})
        assert shipped.next_check_at(FIRST_SEEN, now, hints=hints) == now + timedelta(
            minutes=15
        ), name
    stale = RevisitHints(modified=FIRST_SEEN)
    assert shipped.next_check_at(FIRST_SEEN, now, hints=stale) == now + timedelta(hours=36)
    # A hint from a clock ahead of ours counts as "now", not as the future.
    ahead = RevisitHints(modified=now + timedelta(days=5))
    assert ahead.latest(not_after=now) == now
    assert shipped.next_check_at(FIRST_SEEN, now, hints=ahead) == now + timedelta(minutes=10)
    naive = RevisitHints(feed_updated=(now - timedelta(hours=1)).replace(tzinfo=None))
    assert naive.latest() == now - timedelta(hours=1)
    assert RevisitHints().latest() is None


def test_a_hint_between_checks_pulls_the_check_forward(shipped: RevisitPolicy) -> None:
    last_checked = FIRST_SEEN + timedelta(days=3)
    scheduled = last_checked + timedelta(hours=36)
    now = last_checked + timedelta(hours=2)
    fresh = now - timedelta(minutes=10)
    assert shipped.pull_forward(
        scheduled, hint=fresh, last_checked=last_checked, now=now
    ) == now + timedelta(minutes=1)
    # A hint we already saw, or a check due sooner anyway, changes nothing.
    old = last_checked - timedelta(hours=1)
    assert shipped.pull_forward(scheduled, hint=old, last_checked=last_checked, now=now) == (
        scheduled
    )
    soon = now + timedelta(seconds=20)
    assert shipped.pull_forward(soon, hint=fresh, last_checked=last_checked, now=now) == soon
    # An article no longer revisited (scheduled None) comes back for a hint, unless
    # it is past max_age.
    assert shipped.pull_forward(None, hint=fresh, last_checked=last_checked, now=now) == (
        now + timedelta(minutes=1)
    )
    late = FIRST_SEEN + timedelta(days=31)
    assert (
        shipped.pull_forward(
            None, hint=late, last_checked=last_checked, now=late, first_seen=FIRST_SEEN
        )
        is None
    )


def test_live_blogs_are_captured_at_most_once_per_interval(shipped: RevisitPolicy) -> None:
    now = FIRST_SEEN + timedelta(minutes=30)
    # A live blog changes at every check; it is still looked at once per live interval.
    assert shipped.next_check_at(FIRST_SEEN, now, last_changed=now, live=True) == now + timedelta(
        minutes=10
    )
    fast = RevisitPolicy.from_settings(
        Settings.from_env({}, revisit_live_interval=1800, revisit_schedule="3600:300")
    )
    assert fast.next_check_at(FIRST_SEEN, now, last_changed=now, live=True) == now + timedelta(
        minutes=30
    )
    assert fast.next_check_at(FIRST_SEEN, now, last_changed=now) == now + timedelta(minutes=5)
    pulled = fast.pull_forward(
        None, hint=now, last_checked=now - timedelta(minutes=5), now=now, live=True
    )
    assert pulled == now + timedelta(minutes=25)
    assert may_capture_live(None, now, timedelta(minutes=10))
    assert not may_capture_live(now - timedelta(minutes=9), now, timedelta(minutes=10))
    assert may_capture_live(now - timedelta(minutes=10), now, timedelta(minutes=10))


def test_revisits_go_on_past_30_days_when_configured() -> None:
    year = RevisitPolicy.from_settings(Settings.from_env({}, revisit_max_age=365 * 86400))
    day_90 = FIRST_SEEN + timedelta(days=90)
    assert year.next_check_at(FIRST_SEEN, day_90) == day_90 + timedelta(days=10)
    assert year.next_check_at(FIRST_SEEN, FIRST_SEEN + timedelta(days=366)) is None


def test_host_budget_counts_requests_in_the_window() -> None:
    now = FIRST_SEEN
    budget = HostBudget(3, timedelta(hours=1))
    recent = [now - timedelta(minutes=m) for m in (5, 20, 59)]
    assert budget.left(recent, now) == 0
    assert not budget.allows(recent, now)
    # The request 59 minutes ago leaves the window a minute from now.
    assert budget.next_slot(recent, now) == now + timedelta(minutes=1)
    assert budget.left([*recent[:2], now - timedelta(hours=2)], now) == 1
    assert budget.allows([], now)
    assert budget.next_slot([], now) == now
    unlimited = HostBudget()
    assert unlimited.left(recent * 100, now) is None
    assert unlimited.allows(recent * 100, now)
    assert unlimited.next_slot(recent * 100, now) == now
    with pytest.raises(RevisitScheduleError):
        HostBudget(-1)
    with pytest.raises(RevisitScheduleError):
        HostBudget(5, timedelta(0))


def test_host_budget_comes_from_settings() -> None:
    settings = Settings.from_env(
        {"EDITIONS_REVISIT_HOST_BUDGET": "120", "EDITIONS_REVISIT_HOST_WINDOW": "600"}
    )
    assert RevisitPolicy.from_settings(settings).budget == HostBudget(
        120, timedelta(minutes=10)
    )
