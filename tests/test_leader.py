"""One scheduler leads: the Redis leader lock, against the real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from schedules.distributed import DistributedScheduler
from schedules.leader import LeaderLock, LeaderLockError
from schedules.sources import Source
from storage.archive import Archive

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def wait_until(check, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_only_one_of_two_leads_and_release_hands_over(client: redis.Redis) -> None:
    first = LeaderLock(client, ttl=5, identity="first")
    second = LeaderLock(client, ttl=5, identity="second")
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.renew() is True
    assert second.renew() is False  # renewing a lock you never had is refused
    assert first.holder() == "first"
    first.release()
    assert not first.is_leader
    assert second.try_acquire() is True
    assert second.holder() == "second"
    assert first.try_acquire() is False


def test_a_leader_that_stops_renewing_is_replaced_after_the_ttl(client: redis.Redis) -> None:
    first = LeaderLock(client, ttl=0.5, identity="first")
    second = LeaderLock(client, ttl=0.5, identity="second")
    assert first.try_acquire()
    assert not second.try_acquire()
    # 'first' hangs (no renewals): its lock expires and 'second' takes over.
    assert wait_until(second.try_acquire)
    # The old leader learns it lost the lock instead of renewing someone else's.
    assert first.renew() is False
    assert not first.is_leader
    assert second.holder() == "second"


def test_bad_ttl_is_refused(client: redis.Redis) -> None:
    with pytest.raises(LeaderLockError, match="ttl must be positive"):
        LeaderLock(client, ttl=0)


LEADER_SCRIPT = """
import sys, time, redis
from schedules.leader import LeaderLock
lock = LeaderLock(redis.Redis.from_url(sys.argv[1]), ttl=1.0, identity="doomed")
assert lock.try_acquire()
print("leading", flush=True)
while True:
    time.sleep(lock.renew_every)
    lock.renew()
"""


def test_killed_leader_process_is_taken_over(client: redis.Redis, redis_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", LEADER_SCRIPT, redis_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "leading"
        waiting = LeaderLock(client, ttl=1.0, identity="waiting")
        # While the other process lives and renews, it keeps the lead (several TTLs).
        for _ in range(6):
            assert not waiting.try_acquire()
            time.sleep(0.4)
        assert waiting.holder() == "doomed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_until(waiting.try_acquire, timeout=10)
        assert waiting.holder() == "waiting"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_schedulers_poll_each_source_once_per_period(
    client: redis.Redis, tmp_path: Path
) -> None:
    """Two schedulers at once, the leader killed half way: every source polled once."""
    archive = Archive(f"sqlite:///{tmp_path / 'a.db'}")
    sources = [
        Source(
            name=f"s{i}",
            url=f"http://news{i}.example/feed",
            kind="feed",
            every=timedelta(minutes=1),
        )
        for i in range(3)
    ]
    archive.sync_sources(sources)
    polls: list[tuple[str, str]] = []
    lock = threading.Lock()

    def make(name: str) -> DistributedScheduler:
        def poll(source: Source) -> None:
            now = datetime.now(UTC)
            with lock:
                polls.append((name, source.name))
            archive.mark_source_polled(
                source.name,
                at=now,
                etag=None,
                last_modified=None,
                next_poll_at=now + source.every,
                outcome="ok",
            )

        def first_poll_at(source: Source) -> datetime | None:
            state = archive.get_source(source.name)
            return state.next_poll_at if state else None

        return DistributedScheduler(
            sources,
            lock=LeaderLock(client, ttl=0.6, identity=name),
            poll=poll,
            revisit=lambda: None,
            first_poll_at=first_poll_at,
        )

    a, b = make("a"), make("b")
    stop_a, stop_b = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=a.run, args=(stop_a,)),
        threading.Thread(target=b.run, args=(stop_b,)),
    ]
    for t in threads:
        t.start()
    try:
        assert wait_until(lambda: len(polls) >= 3)
        leader, follower = (a, b) if a.leading else (b, a)
        assert not follower.leading
        assert {who for who, _ in polls} == {leader.lock.identity}
        # The leader stops and hands the lock over; the other takes over and, reading
        # the archive, sees that nothing is due again before the next period.
        leader_stop = stop_a if leader is a else stop_b
        leader_stop.set()
        assert wait_until(lambda: follower.leading)
        time.sleep(1.0)  # let the new leader's clock run its first jobs
        assert sorted(source for _, source in polls) == ["s0", "s1", "s2"]
    finally:
        stop_a.set()
        stop_b.set()
        for t in threads:
            t.join(timeout=10)
        archive.close()


def test_sources_edit_reloads_the_leaders_jobs(client: redis.Redis) -> None:
    def source(name: str) -> Source:
        return Source(
            name=name, url=f"http://{name}.example/feed", kind="feed", every=timedelta(minutes=5)
        )

    edited = threading.Event()
    broken = threading.Event()

    def changed() -> bool:
        return edited.is_set() or broken.is_set()

    def on_reload() -> list[Source]:
        if broken.is_set():
            broken.clear()
            raise ValueError("sources.toml:3: field 'every': '1x' is not a duration")
        edited.clear()
        return [source("a"), source("b")]

    scheduler = DistributedScheduler(
        [source("a")],
        lock=LeaderLock(client, ttl=0.6),
        poll=lambda s: None,
        revisit=lambda: None,
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run, args=(stop,), kwargs={"changed": changed, "on_reload": on_reload}
    )
    thread.start()
    try:
        assert wait_until(lambda: scheduler.leading)
        assert {job for job, _ in scheduler.jobs()} == {"poll:a", "revisit"}
        edited.set()
        assert wait_until(
            lambda: {j for j, _ in scheduler.jobs()} == {"poll:a", "poll:b", "revisit"}
        )
        # A broken edit keeps the schedule that works.
        broken.set()
        assert wait_until(lambda: not broken.is_set())
        assert {job for job, _ in scheduler.jobs()} == {"poll:a", "poll:b", "revisit"}
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not scheduler.leading
    assert scheduler.lock.holder() is None  # handed over on a clean stop
