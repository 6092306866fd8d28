"""Celery tasks: thin wrappers around the pipeline functions of ``worker.pipeline``.

The archive is the record of what is due; Redis only carries the work. So a
lost message (a Redis restart, a dead worker) costs nothing: the article is
still due in the database and the next revisit tick sends it again. Sending
is deduplicated with a short-lived lease per URL and per source, so a backlog
never fills the queue with copies of the same fetch.

Each worker process builds its own archive engine, fetcher and Redis clients
after the fork (``worker_process_init``), never at import.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

import redis
import sqlalchemy as sa
from billiard.pool import SIG_SOFT_TIMEOUT, soft_timeout_sighandler
from celery import Task, current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_process_shutdown

from editions.errors import ArticleFetchError, ArticleNotFoundError, WorkerNotConfiguredError
from editions.records import RevisitPolicy, Source
from editions.settings import Settings
from storage.archive import Archive
from worker.celery_app import TASK_FETCH_ARTICLE, TASK_POLL_SOURCE, TASK_REVISIT_DUE, broker_url
from worker.fetch import Fetcher, Outcome
from worker.pipeline import Pipeline, ingest_article, poll_source
from worker.redis_limiter import RedisHostLimiter

log = logging.getLogger(__name__)

# Only these are worth a retry soon: the server may answer next time. An HTTP
# error or a parse error would fail the same way again.
NETWORK_OUTCOMES = frozenset({Outcome.TIMEOUT.value, Outcome.CONNECTION_ERROR.value})
LEASE_PREFIX = "editions:queued:"
# SQLSTATEs that mean the database server is out of reach, not that the query is wrong:
# connection exceptions (class 08), shut down by an admin or a crash, still starting.
UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")



@dataclass
class WorkerState:
    """One worker process's archive, fetcher, limiter and Redis client."""

    settings: Settings
    pipeline: Pipeline
    limiter: RedisHostLimiter
    redis: redis.Redis

    def close(self) -> None:
        self.pipeline.close()
        self.redis.close()


_state: WorkerState | None = None
_state_lock = threading.Lock()


def connect_redis(settings: Settings) -> redis.Redis:
    """A client for the broker's Redis (leases, host limiter, leader lock)."""
    return redis.Redis.from_url(
        broker_url(settings),
        socket_timeout=10,
        socket_connect_timeout=10,
        retry_on_timeout=True,
        health_check_interval=15,
    )


def build_state(settings: Settings | None = None) -> WorkerState:
    """Open the archive, the Redis client and the fetcher for this process."""
    if settings is None:
        settings = current_app.conf.get("editions_settings")
    if settings is None:
        raise WorkerNotConfiguredError(
            "the current Celery app has no editions settings: build it with "
            "worker.celery_app.create_app(settings) (celery -A worker does)"
        )
    client = connect_redis(settings)
    limiter = RedisHostLimiter(client, settings=settings)
    archive = Archive(settings.database_url, settings=settings)
    pipeline = Pipeline(
        archive=archive,
        fetcher=Fetcher(settings, limiter=limiter),
        settings=settings,
        revisits=RevisitPolicy.from_settings(settings),
        passthrough=(SoftTimeLimitExceeded, redis.RedisError),
    )
    return WorkerState(settings, pipeline, limiter, client)


def worker_state() -> WorkerState:
    """This process's state, built on first use if the fork hook did not."""
    global _state
    with _state_lock:
        if _state is None:
            _state = build_state()
        return _state


@worker_process_init.connect
def _open_after_fork(**_: Any) -> None:
    # Connections inherited through fork are shared with the parent: never reuse them.
    global _state
    _state = None
    try:
        worker_state()
    except Exception:  # the first task will try again and report the error
        log.exception("could not open the archive in worker process")


@worker_process_shutdown.connect
def _close_at_exit(**_: Any) -> None:
    global _state
    if _state is not None:
        _state.close()
        _state = None


# The soft time limit is a signal (SIGUSR1) the main process sends to a pool
# process. Sent late (the main process stalled, e.g. on an unreachable Redis), it
# lands after the task's body has ended, while the pool process writes the
# result back to the main process: billiard then writes a second message after
# the half-written first, and the main process, unable to read them, exits with
# 'Unrecoverable error'. Between tasks a soft time limit means nothing: ignore it.


@task_postrun.connect
def _ignore_soft_time_limit_between_tasks(**_: Any) -> None:
    if SIG_SOFT_TIMEOUT is None or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(SIG_SOFT_TIMEOUT) is soft_timeout_sighandler:  # a pool process
        signal.signal(SIG_SOFT_TIMEOUT, signal.SIG_IGN)


@task_prerun.connect
def _heed_soft_time_limit_during_a_task(**_: Any) -> None:
    if SIG_SOFT_TIMEOUT is None or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(SIG_SOFT_TIMEOUT) is signal.SIG_IGN:  # ignored by the hook above
        signal.signal(SIG_SOFT_TIMEOUT, soft_timeout_sighandler)


# --- pure helpers --------------------------------------------------------------


def retry_countdown(
    retries: int, settings: Settings, rng: Callable[[], float] = random.random
) -> float:
    """Seconds before retry number ``retries + 1``: exponential, full jitter, capped.

    The cap stays below the visibility timeout minus the hard time limit: a
    worker holds a countdown message unacknowledged while it waits, and Redis
    would hand it to a second worker after the visibility timeout.
    """
    cap = min(
        float(settings.task_retry_backoff_max),
        float(settings.visibility_timeout) - float(settings.task_time_limit) - 1.0,
    )
    ceiling = min(cap, float(settings.task_retry_backoff) * 2 ** min(retries, 30))
    return max(1.0, rng() * ceiling)


def database_unreachable(exc: BaseException) -> bool:
    """Whether a database error means the server could not be reached, so a retry may work.

    A lost or refused connection (psycopg reports those without a SQLSTATE, or
    with class 08) is worth a retry soon; an error the server raised about the
    query itself (a constraint, a limit) would fail the same way again.
    """
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return False
    if exc.connection_invalidated:
        return True
    if not hasattr(exc.orig, "sqlstate"):  # SQLite: no server to lose
        return False
    state = exc.orig.sqlstate
    return state is None or state.startswith(UNREACHABLE_SQLSTATES)


def lease_key(kind: str, name: str) -> str:
    """The Redis key that marks ``name`` (a URL or source name) as already queued."""
    return LEASE_PREFIX + kind + ":" + hashlib.sha1(name.encode("utf-8")).hexdigest()


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


# --- sending work --------------------------------------------------------------


def enqueue_fetch(url: str, *, source: str | None, client: redis.Redis, settings: Settings) -> bool:
    """Send ``editions.fetch_article`` for a URL unless one is already queued; True if sent."""
    key = lease_key("article", url)
    if not client.set(key, "queued", nx=True, ex=int(settings.visibility_timeout)):
        return False
    try:
        fetch_article.apply_async(args=[url], kwargs={"source": source})
    except Exception:
        client.delete(key)
        raise
    return True


def enqueue_poll(source: Mapping[str, Any], *, client: redis.Redis, settings: Settings) -> bool:
    """Send ``editions.poll_source`` unless a poll of this source is still queued."""
    name = str(source["name"])
    key = lease_key("source", name)
    ttl = min(int(float(source.get("every") or 60)), int(settings.visibility_timeout))
    if not client.set(key, "queued", nx=True, ex=max(ttl, 1)):
        log.info("poll of %s is still queued: not sending another", name)
        return False
    try:
        poll_source_task.apply_async(args=[dict(source)])
    except Exception:
        client.delete(key)
        raise
    return True


def enqueue_due(
    archive: Archive,
    *,
    client: redis.Redis,
    settings: Settings,
    now: datetime | None = None,
    limit: int | None = None,
) -> int:
    """Send a fetch for every article due by ``now``; returns how many were sent."""
    now = now or datetime.now(UTC)
    due = archive.due_articles(now, limit or int(settings.revisit_batch))
    sent = sum(
        enqueue_fetch(a.canonical_url, source=a.source, client=client, settings=settings)
        for a in due
    )
    if sent:
        log.info("sent %d of %d due articles", sent, len(due))
    return sent


# --- tasks ---------------------------------------------------------------------


def _clear_deliveries(archive: Archive, article_id: int) -> None:
    # The delivery finished (well or badly) without killing its worker.
    with contextlib.suppress(ArticleNotFoundError):  # merged into another article meanwhile
        try:
            archive.clear_deliveries(article_id)
        except sa.exc.DBAPIError as exc:
            # The database is gone: the count stays one too high, which only matters
            # if it happens MAX_DELIVERIES times in a row; the task's outcome stands.
            log.warning("could not clear the delivery count of article %s: %s", article_id, exc)


def _release(state: WorkerState, key: str, keep_for: int = 0) -> None:
    """Drop a lease (or keep it ``keep_for`` seconds more, while a retry waits)."""
    try:
        if keep_for:
            state.redis.expire(key, keep_for)
        else:
            state.redis.delete(key)
    except redis.RedisError as exc:  # it expires on its own
        log.warning("could not release lease %s: %s", key, exc)


def _retry_soon(task: Task, settings: Settings, exc: Exception) -> Exception:
    """The retry to raise for a broken connection to Redis or the database.

    When no retries are left ``task.retry`` raises ``exc`` itself; the work is
    still due in the archive, so the next revisit tick sends it again.
    """
    return task.retry(
        exc=exc,
        countdown=retry_countdown(task.request.retries, settings),
        max_retries=int(settings.task_max_retries),
    )


def _retries_left(task: Task, settings: Settings) -> bool:
    return task.request.retries < int(settings.task_max_retries)


def _network_retry(task: Task, state: WorkerState, host: str) -> None:
    """Back the host off and retry the task, if retries are left."""
    backoff = state.limiter.record_failure(host) if host else 0.0
    settings = state.settings
    max_retries = int(settings.task_max_retries)
    if task.request.retries >= max_retries:
        return
    countdown = retry_countdown(task.request.retries, settings)
    cap = float(settings.visibility_timeout) - float(settings.task_time_limit) - 1.0
    countdown = min(max(countdown, backoff), cap)
    raise task.retry(countdown=countdown, max_retries=max_retries)


@shared_task(name=TASK_POLL_SOURCE, bind=True)
def poll_source_task(self: Task, source: dict[str, Any]) -> dict[str, Any]:
    """Poll one source, then send a fetch for each new article URL."""
    state = worker_state()
    key = lease_key("source", str(source.get("name")))
    try:
        src = Source.from_dict(source)
        host = host_of(src.url)
        if host and state.limiter.backoff_remaining(host) > 0:
            log.info("source %s: host %s is backed off; skipping this poll", src.name, host)
            return {"source": src.name, "url": src.url, "outcome": "deferred"}
        archive = state.pipeline.archive
        archive.sync_sources([src])
        result = poll_source(state.pipeline, src)
        if result.outcome in NETWORK_OUTCOMES:
            _network_retry(self, state, host)
        elif host:
            state.limiter.record_success(host)
        sent = sum(
            enqueue_fetch(url, source=src.name, client=state.redis, settings=state.settings)
            for url in result.new_urls
        )
        return {**result.as_dict(), "queued": sent}
    finally:
        _release(state, key)


@shared_task(name=TASK_FETCH_ARTICLE, bind=True)
def fetch_article(self: Task, url: str, source: str | None = None) -> dict[str, Any]:
    """Fetch one article and archive a new version if it changed."""
    state = worker_state()
    settings, archive = state.settings, state.pipeline.archive
    host = host_of(url)
    key = lease_key("article", url)
    backoff = state.limiter.backoff_remaining(host) if host else 0.0
    if backoff > 0:
        # Leave it due in the archive; the lease keeps it from being sent
        # again until the host's backoff is over.
        state.redis.set(key, "deferred", px=int(backoff * 1000) + 1)
        log.info("%s: host backed off for %.0fs; deferring", url, backoff)
        return {"url": url, "action": "deferred", "outcome": None}

    article = None
    retrying = False
    try:
        article = archive.find_article(url)
        if article is not None and self.request.retries == 0 and not _still_due(article, settings):
            # Sent from a due set read before the last fetch finished (an
            # overlapping tick), or delivered again after it: nothing to do.
            log.info(
                "%s: checked since this fetch was sent; not due until %s",
                url,
                article.next_check_at,
            )
            article = None  # this delivery counts for nothing
            return {"url": url, "action": "not_due", "outcome": None}
        if article is not None and article.id is not None:
            deliveries = archive.record_delivery(article.id)
            if deliveries > int(settings.max_deliveries):
                _poisoned(state, article.id, url, deliveries)

        result = ingest_article(state.pipeline, url, source=source)
        if result.outcome in NETWORK_OUTCOMES:
            retrying = True
            _network_retry(self, state, host)
            retrying = False
        elif host and result.outcome is not None:
            state.limiter.record_success(host)
        if result.action == "failed":
            # Recorded, and its next try planned by the pipeline: FAILURE in Flower,
            # with the outcome and URL, but no retry by Celery.
            raise ArticleFetchError(result.url, result.outcome, result.error)
        return result.summary()
    except SoftTimeLimitExceeded:
        # Counts as a delivery that never finished.
        article = None
        raise
    except redis.RedisError as exc:
        retrying = _retries_left(self, settings)
        raise _retry_soon(self, settings, exc) from exc
    except sa.exc.DBAPIError as exc:
        if not database_unreachable(exc):
            raise
        # Whatever was written is whole (each write is one transaction) and the
        # article is still due: fetch it again once the database is back.
        log.warning("%s: the database is unreachable; retrying: %s", url, exc)
        retrying = _retries_left(self, settings)
        raise _retry_soon(self, settings, exc) from exc
    finally:
        if article is not None and article.id is not None:
            _clear_deliveries(archive, article.id)
        _release(state, key, keep_for=int(settings.visibility_timeout) if retrying else 0)


def _still_due(article: Any, settings: Settings) -> bool:
    """Whether a tracked article is (within one revisit tick) due for a fetch."""
    if article.status != "active" or article.next_check_at is None:
        return False
    # A tick early is close enough: the next tick would send it anyway.
    soon = datetime.now(UTC) + timedelta(seconds=float(settings.revisit_tick))
    return bool(article.next_check_at <= soon)


def _poisoned(state: WorkerState, article_id: int, url: str, deliveries: int) -> NoReturn:
    """Mark an article whose deliveries keep killing their worker as failed (FAILURE in Flower)."""
    error = (
        f"delivered {deliveries - 1} times without finishing (it kills its worker): marked failed"
    )
    log.error("%s: %s", url, error)
    state.pipeline.archive.mark_checked(
        article_id,
        checked_at=datetime.now(UTC),
        ok=False,
        next_check_at=None,
        error=error,
    )
    raise ArticleFetchError(url, "poison", error)


@shared_task(name=TASK_REVISIT_DUE, bind=True)
def revisit_due_task(self: Task, limit: int | None = None) -> dict[str, int]:
    """Send a fetch for every article due now."""
    state = worker_state()
    sent = enqueue_due(
        state.pipeline.archive, client=state.redis, settings=state.settings, limit=limit
    )
    return {"sent": sent}
