"""A synthetic edit log and the figures of issue 9, computed from check times alone.

The log follows what studies of news edits report: about 27% of articles are
edited, about two edits per edited article, most in the first hours with about an
hour between early updates; the last edit falls on the publication day for about
60% of edited articles and within two days for about 90%.

``replay`` turns a next-check rule into the check times it would make for one
article (resetting on each change it sees, as the pipeline does), and ``score``
turns check times into the table's figures. Both are pure, so the same log can be
replayed for editions' policy, the policy as wired today and NewsDiffs' schedule,
and the bench can check the real pipeline's own check times the same way.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = [
    "EditedArticle",
    "make_edit_log",
    "newsdiffs_next",
    "replay",
    "score",
]

EPOCH = datetime(2026, 3, 2, tzinfo=UTC)
HORIZON = timedelta(days=30)
MIN_APART = timedelta(minutes=20)

# (next check after a check at `now`, given first_seen, now, last_changed) -> moment or None
NextCheck = Callable[[datetime, datetime, datetime | None], datetime | None]


@dataclass
class EditedArticle:
    """One article: published (and first seen) at ``published``, edited at ``edits``."""

    index: int
    published: datetime
    edits: list[datetime] = field(default_factory=list)

    def version_at(self, moment: datetime) -> int:
        """How many edits the page shows at ``moment``."""
        return sum(1 for edit in self.edits if edit <= moment)


def _gap(rng: random.Random, early: bool) -> timedelta:
    # Early updates come about an hour apart; a later one about a day after the
    # previous (the next day's follow-up).
    minutes = rng.gammavariate(3.0, 20.0) if early else math.exp(rng.gauss(math.log(1440), 0.2))
    return timedelta(minutes=max(minutes, 2.0))


def make_edit_log(
    articles: int, *, seed: int = 9, edited_share: float = 0.27, start: datetime = EPOCH
) -> list[EditedArticle]:
    """``articles`` articles published a few minutes apart, some edited (seeded)."""
    rng = random.Random(seed)
    log: list[EditedArticle] = []
    for index in range(articles):
        published = start + timedelta(minutes=7 * index + rng.random() * 5)
        article = EditedArticle(index, published)
        if rng.random() < edited_share:
            # 1 + geometric(1/2) edits: two on average.
            count = 1
            while rng.random() < 0.5 and count < 8:
                count += 1
            moment = published
            for number in range(count):
                moment += _gap(rng, early=rng.random() < (0.58 if number == 0 else 0.7))
                if moment - published > HORIZON:
                    break
                article.edits.append(moment)
        log.append(article)
    return log


def log_shape(log: list[EditedArticle]) -> dict[str, float]:
    """The log's own figures, to check it follows the published shape."""
    edited = [a for a in log if a.edits]
    last = [a.edits[-1] - a.published for a in edited]
    early_gaps = [
        (b - a).total_seconds() / 60
        for art in edited
        for a, b in zip(art.edits, art.edits[1:], strict=False)
        if b - art.published <= timedelta(hours=6)
    ]
    return {
        "articles": len(log),
        "edited_share": len(edited) / max(len(log), 1),
        "edits_per_edited": sum(len(a.edits) for a in edited) / max(len(edited), 1),
        "last_edit_same_day": sum(d <= timedelta(days=1) for d in last) / max(len(last), 1),
        "last_edit_within_2_days": sum(d <= timedelta(days=2) for d in last) / max(len(last), 1),
        "median_early_gap_min": statistics.median(early_gaps) if early_gaps else 0.0,
    }


def replay(
    article: EditedArticle, next_check: NextCheck, *, horizon: timedelta = HORIZON
) -> list[datetime]:
    """The check times a next-check rule makes for ``article`` (first fetch included)."""
    end = article.published + horizon
    checks = [article.published]
    seen = article.version_at(article.published)
    last_changed: datetime | None = None
    now = article.published
    while True:
        when = next_check(article.published, now, last_changed)
        if when is None or when > end:
            return checks
        # A check never goes back in time and always moves forward.
        now = max(when, now + timedelta(seconds=1))
        checks.append(now)
        version = article.version_at(now)
        if version != seen:
            seen, last_changed = version, now
        if len(checks) > 100_000:  # a runaway rule, not a real schedule
            return checks


def newsdiffs_next(first_seen: datetime, now: datetime, last_changed: datetime | None) -> datetime:
    """NewsDiffs' published schedule (scraper.get_update_delay), from its last update.

    15 min while the last update is under 3 h old, 30 min under a day, 2 h under a
    week, daily under 30 days, then weekly; an article never updated counts from
    when it was added.
    """
    since = now - (last_changed or first_seen)
    minutes = since.total_seconds() / 60
    days = minutes // (24 * 60)
    if minutes < 60 * 3:
        delay = 15
    elif days < 1:
        delay = 30
    elif days < 7:
        delay = 120
    elif days < 30:
        delay = 60 * 24
    else:
        delay = 60 * 24 * 7
    return now + timedelta(minutes=delay)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def score(
    log: list[EditedArticle], checks: dict[int, list[datetime]], *, horizon: timedelta = HORIZON
) -> dict[str, float | None]:
    """The table's figures for ``checks`` (article index -> its check times) over ``log``.

    An edit is *kept as a distinct version* when some check falls after it and before
    the next edit; its *latency* is the time to the first check after it. "First 24 h"
    edits count only those at least 20 minutes from their neighbours (the issue's rule).
    """
    requests = [len(checks[a.index]) for a in log]
    first_day_kept = first_day_total = later_kept = later_total = 0
    early_latency: list[float] = []
    mid_latency: list[float] = []
    for article in log:
        times = sorted(checks[article.index])
        end = article.published + horizon
        for number, edit in enumerate(article.edits):
            following = article.edits[number + 1] if number + 1 < len(article.edits) else end
            after = [t for t in times if t >= edit]
            caught = bool(after) and after[0] < following
            age = edit - article.published
            if after:
                minutes = (after[0] - edit).total_seconds() / 60
                if age <= timedelta(hours=4):
                    early_latency.append(minutes)
                elif age <= timedelta(hours=24):
                    mid_latency.append(minutes)
            if age <= timedelta(hours=24):
                previous = article.edits[number - 1] if number else article.published
                if edit - previous >= MIN_APART and following - edit >= MIN_APART:
                    first_day_total += 1
                    first_day_kept += caught
            else:
                later_total += 1
                later_kept += caught
    return {
        "requests_per_article": sum(requests) / max(len(requests), 1),
        "first_day_kept": first_day_kept / first_day_total if first_day_total else None,
        "first_day_edits": first_day_total,
        "early_latency_mean_min": statistics.fmean(early_latency) if early_latency else None,
        "early_latency_p90_min": _pct(early_latency, 0.9),
        "mid_latency_p90_min": _pct(mid_latency, 0.9),
        "later_kept": later_kept / later_total if later_total else None,
        "later_edits": later_total,
    }
