"""``editions scheduler``: the same clock as the embedded mode, sending work to Celery.

Only the leader (see ``schedules.leader``) runs the clock: a poll job sends
``editions.poll_source`` and the revisit job sends ``editions.fetch_article``
for each article due in the archive. A follower checks the lock every third
of its TTL and starts the clock when it takes over. The sources file stays
the single truth: it is reloaded when it changes or on SIGHUP.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

import redis

from editions.settings import Settings
from schedules.leader import LeaderLock
from schedules.scheduler import Scheduler
from schedules.sources import Source, SourcesWatcher, default_sources_path, load_sources
from storage.archive import Archive
from worker import tasks
from worker.celery_app import broker_url, create_app, redact_broker

log = logging.getLogger(__name__)


class DistributedScheduler:
    """Runs a ``Scheduler`` only while holding the leader lock."""

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        lock: LeaderLock,
        poll: Callable[[Source], object],
        revisit: Callable[[], object],
        revisit_every: timedelta = timedelta(minutes=1),
        first_poll_at: Callable[[Source], datetime | None] | None = None,
    ) -> None:
        self.lock = lock
        self._sources = list(sources)
        self._poll = poll
        self._revisit = revisit
        self._revisit_every = revisit_every
        self._first_poll_at = first_poll_at
        self._clock: Scheduler | None = None
        self._mutex = threading.Lock()
        self._role: str | None = None  # None until the first election, then leader/standby

    @property
    def leading(self) -> bool:
        return self._clock is not None

    def jobs(self) -> list[tuple[str, datetime | None]]:
        """The clock's jobs and their next run (empty while following)."""
        with self._mutex:
            return self._clock.jobs() if self._clock is not None else []

    def set_sources(self, sources: Sequence[Source]) -> None:
        """New sources: rebuild the jobs now if leading, else on taking over."""
        with self._mutex:
            self._sources = list(sources)
            if self._clock is not None:
                self._clock.set_sources(self._sources)

    def _holder(self) -> str | None:
        try:
            return self.lock.holder()
        except Exception:  # only for the log line; the election itself reported any error
            return None

    def step(self) -> bool:
        """One round of the election: take or renew the lock, start or stop the clock."""
        leader = self.lock.renew() if self.lock.is_leader else self.lock.try_acquire()
        with self._mutex:
            if not leader and self._role != "standby":
                holder = self._holder()
                log.info(
                    "standby: %s leads; this scheduler takes over if it stops",
                    holder or "another scheduler",
                )
                self._role = "standby"
            if leader and self._clock is None:
                verb = "took over as leader" if self._role == "standby" else "leader"
                log.info("%s: sending work for %d sources", verb, len(self._sources))
                self._role = "leader"
                self._clock = Scheduler(
                    self._sources,
                    poll=self._poll,
                    revisit=self._revisit,
                    revisit_every=self._revisit_every,
                    first_poll_at=self._first_poll_at,
                )
                self._clock.start()
            elif not leader and self._clock is not None:
                log.warning("no longer the leader: stopping the clock")
                self._clock.stop(wait=False)
                self._clock = None
        return leader

    def run(
        self,
        stop: threading.Event,
        *,
        changed: Callable[[], bool] | None = None,
        on_reload: Callable[[], Sequence[Source]] | None = None,
    ) -> None:
        """Hold elections until ``stop`` is set; then stop and hand the lock over."""
        try:
            while not stop.is_set():
                self.step()
                if changed is not None and on_reload is not None and changed():
                    self.reload(on_reload)
                stop.wait(self.lock.renew_every)
        finally:
            self.close()

    def reload(self, on_reload: Callable[[], Sequence[Source]]) -> None:
        try:
            self.set_sources(on_reload())
            log.info("sources reloaded")
        except ValueError as exc:  # a broken edit keeps the old schedule
            log.error("keeping the previous sources: %s", exc)

    def close(self) -> None:
        with self._mutex:
            if self._clock is not None:
                self._clock.stop(wait=True)
                self._clock = None
        self.lock.release()


def _wait_for_broker(client: redis.Redis, stop: threading.Event, settings: Settings) -> bool:
    """Wait until the broker answers (saying so once); False if stopped first."""
    where = redact_broker(broker_url(settings))
    warned = False
    while not stop.is_set():
        try:
            client.ping()
        except redis.RedisError as exc:
            if not warned:
                log.warning("waiting for the broker at %s: %s", where, exc)
                warned = True
            stop.wait(2.0)
            continue
        log.info("connected to the broker at %s", where)
        return True
    return False


def run_scheduler(
    *,
    database_url: str | None = None,
    sources_path: str | Path | None = None,
    settings: Settings | None = None,
    stop: threading.Event | None = None,
) -> None:
    """The ``editions scheduler`` command: elect, then send due work to Celery until SIGTERM."""
    settings = settings or Settings.defaults()
    create_app(settings)  # the app the tasks are sent through
    path = Path(sources_path) if sources_path else default_sources_path(settings)
    sources = load_sources(path)
    archive = Archive(database_url or settings.database_url, settings=settings)
    archive.sync_sources(sources)
    client = tasks.connect_redis(settings)
    stop = stop or threading.Event()
    if not _wait_for_broker(client, stop, settings):
        archive.close()
        return

    def poll(source: Source) -> None:
        tasks.enqueue_poll(source.as_dict(), client=client, settings=settings)

    def revisit() -> None:
        tasks.enqueue_due(archive, client=client, settings=settings)

    def first_poll_at(source: Source) -> datetime | None:
        state = archive.get_source(source.name)
        return state.next_poll_at if state else None

    def reload() -> list[Source]:
        fresh = load_sources(path)
        archive.sync_sources(fresh)
        return fresh

    watcher = SourcesWatcher(path)

    scheduler = DistributedScheduler(
        sources,
        lock=LeaderLock(client, ttl=float(settings.leader_lock_ttl)),
        poll=poll,
        revisit=revisit,
        revisit_every=timedelta(seconds=float(settings.revisit_tick)),
        first_poll_at=first_poll_at,
    )
    reload_requested = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping the scheduler", signum)
        stop.set()

    def _hup(signum: int, frame: FrameType | None) -> None:
        reload_requested.set()

    def changed_or_hup() -> bool:
        if reload_requested.is_set():
            reload_requested.clear()
            return True
        return watcher.changed()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {
            signal.SIGINT: signal.signal(signal.SIGINT, _stop),
            signal.SIGTERM: signal.signal(signal.SIGTERM, _stop),
            signal.SIGHUP: signal.signal(signal.SIGHUP, _hup),
        }
    log.info("scheduler %s: waiting for leadership", scheduler.lock.identity)
    try:
        scheduler.run(stop, changed=changed_or_hup, on_reload=reload)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        client.close()
        archive.close()
        log.info("scheduler stopped")
