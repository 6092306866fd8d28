"""Politeness across workers: the Redis host limiter, checked by what the server saw."""

from __future__ import annotations

import threading
from itertools import pairwise

import pytest
import redis

from editions.demo.site import LocalSite
from editions.settings import Settings
from worker.fetch import Fetcher
from worker.politeness import LocalHostLimiter
from worker.redis_limiter import RedisHostLimiter

pytestmark = pytest.mark.redis

DELAY = 0.3


def settings() -> Settings:
    return Settings(
        allow_private_addresses=True,
        host_delay=DELAY,
        robots_enabled=False,
        max_retries=0,
        host_failure_backoff=2.0,
        host_failure_backoff_max=5.0,
    )


def hammer(site: LocalSite, limiters: list, per_worker: int = 4) -> list[float]:
    """Each limiter drives its own fetcher in its own thread, all at one host."""

    def run(limiter) -> None:
        with Fetcher(settings(), limiter=limiter) as fetcher:
            for _ in range(per_worker):
                assert fetcher.fetch(site.url("/page")).ok

    threads = [threading.Thread(target=run, args=(limiter,)) for limiter in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(r.time for r in site.requests_for("/page"))


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


def test_two_workers_share_the_host_delay(site: LocalSite, redis_url: str) -> None:
    site.add("/page", "<html><body>hello</body></html>")
    # Separate clients, as separate worker processes would have: only Redis is shared.
    limiters = [
        RedisHostLimiter(redis.Redis.from_url(redis_url), settings=settings()) for _ in range(2)
    ]
    times = hammer(site, limiters)
    assert len(times) == 8
    # Requests reach the server a few ms after their slot; allow that jitter only.
    assert min(gaps(times)) >= DELAY - 0.05, gaps(times)


def test_without_a_shared_limiter_the_delay_breaks(site: LocalSite) -> None:
    # The control: per-process limiters let two workers hit the host at once,
    # which is what the Redis limiter exists to prevent.
    site.add("/page", "<html><body>hello</body></html>")
    times = hammer(site, [LocalHostLimiter(), LocalHostLimiter()])
    assert min(gaps(times)) < DELAY / 2, gaps(times)


def test_reservations_queue_up_one_delay_apart(redis_url: str) -> None:
    limiter = RedisHostLimiter(redis.Redis.from_url(redis_url), settings=settings())
    waits = [limiter.reserve("News.Example", 10.0) for _ in range(3)]
    assert waits[0] == 0
    assert 9.9 <= waits[1] <= 10.0
    assert 19.9 <= waits[2] <= 20.0
    # Host names are case-insensitive; other hosts are independent.
    assert limiter.reserve("news.example", 10.0) > 29.0
    assert limiter.reserve("other.example", 10.0) == 0


def test_bad_arguments_are_refused(redis_url: str) -> None:
    limiter = RedisHostLimiter(redis.Redis.from_url(redis_url), settings=settings())
    with pytest.raises(ValueError, match="min_delay must be >= 0"):
        limiter.wait("news.example", -1)
    with pytest.raises(ValueError, match="host must be a non-empty string"):
        limiter.wait("", 1.0)


def test_failing_host_is_backed_off_doubling_until_success(redis_url: str) -> None:
    limiter = RedisHostLimiter(redis.Redis.from_url(redis_url), settings=settings())
    assert limiter.backoff_remaining("down.example") == 0
    assert limiter.record_failure("down.example") == 2.0
    assert 1.5 < limiter.backoff_remaining("down.example") <= 2.0
    assert limiter.record_failure("down.example") == 4.0
    assert limiter.record_failure("down.example") == 5.0  # capped at the maximum
    assert limiter.failures("down.example") == 3
    assert limiter.backoff_remaining("up.example") == 0
    limiter.record_success("down.example")
    assert limiter.backoff_remaining("down.example") == 0
    assert limiter.failures("down.example") == 0
