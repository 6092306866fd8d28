"""The Celery app of the distributed mode: Redis broker, safe defaults, two queues.

``celery -A worker worker -Q feeds,articles`` runs it. Everything comes from
the ``EDITIONS_*`` settings; :func:`celery_config` is a pure function of them so
the relations between the limits can be checked without a broker.

Why these defaults:

* JSON only: a broker message is never unpickled, so a writable Redis is not
  code execution on every worker.
* ``acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged
  after the task ran, and a worker process that dies mid-task gives the
  message back, so no fetch is lost. Every task is therefore written to be
  safe to run twice.
* The visibility timeout (after which Redis hands an unacknowledged message
  to another worker) is far above the hard time limit plus the longest retry
  delay, or a slow task would be run twice at once.
* Prefetch 1: a worker never sits on messages another idle worker could run.
* Feed polls and article fetches have their own queues, so a backlog of
  slow pages never delays the polls.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from celery import Celery, Task
from kombu import Queue

from editions.errors import CeleryConfigError, ScheduleTooFarError
from editions.settings import Settings

log = logging.getLogger(__name__)

EXAMPLE_BROKER_URL = "redis://127.0.0.1:6379/0"
TASK_POLL_SOURCE = "editions.poll_source"
TASK_FETCH_ARTICLE = "editions.fetch_article"
TASK_REVISIT_DUE = "editions.revisit_due"




def broker_url(settings: Settings) -> str:
    """``EDITIONS_BROKER_URL``; the distributed mode cannot start without one."""
    url = settings.broker_url.strip()
    if not url:
        raise CeleryConfigError(
            "EDITIONS_BROKER_URL is not set: the distributed mode sends its work through "
            f"a Redis broker (e.g. EDITIONS_BROKER_URL={EXAMPLE_BROKER_URL})"
        )
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise CeleryConfigError(
            f"EDITIONS_BROKER_URL={url!r}: only Redis brokers are supported "
            "(redis://host:port/db); the host limiter and leader lock live there too"
        )
    return url


def longest_retry_delay(settings: Settings) -> float:
    """The longest countdown a retry may ask for (see ``retry_countdown``)."""
    return float(settings.task_retry_backoff_max)


def check_settings(settings: Settings) -> None:
    """Raise CeleryConfigError unless the time limits nest as they must."""
    soft, hard = float(settings.task_soft_time_limit), float(settings.task_time_limit)
    visibility = float(settings.visibility_timeout)
    if not 0 < soft < hard:
        raise CeleryConfigError(
            f"TASK_SOFT_TIME_LIMIT ({soft:g}s) must be positive and below "
            f"TASK_TIME_LIMIT ({hard:g}s)"
        )
    needed = hard + longest_retry_delay(settings)
    if visibility <= needed:
        raise CeleryConfigError(
            f"VISIBILITY_TIMEOUT ({visibility:g}s) must exceed TASK_TIME_LIMIT plus "
            f"TASK_RETRY_BACKOFF_MAX ({needed:g}s), or a slow task is given to a second "
            "worker while the first still runs it"
        )
    if int(settings.max_deliveries) < 1:
        raise CeleryConfigError(f"MAX_DELIVERIES must be at least 1, got {settings.max_deliveries}")
    if settings.feeds_queue == settings.articles_queue:
        raise CeleryConfigError("FEEDS_QUEUE and ARTICLES_QUEUE must differ")


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for these settings (checked first)."""
    check_settings(settings)
    broker = broker_url(settings)
    visibility = int(settings.visibility_timeout)
    redis_options = {
        "visibility_timeout": visibility,
        # Fail fast on a dead connection and reconnect, rather than hang.
        "socket_timeout": 30,
        "socket_connect_timeout": 10,
        "socket_keepalive": True,
        "retry_on_timeout": True,
        "health_check_interval": 15,
    }
    feeds, articles = settings.feeds_queue, settings.articles_queue
    return {
        "broker_url": broker,
        "result_backend": settings.result_backend or broker,
        "result_expires": int(settings.result_expires),
        "result_extended": True,
        "broker_transport_options": dict(redis_options),
        "result_backend_transport_options": dict(redis_options),
        "broker_connection_retry_on_startup": True,
        # Reconnect forever: a Redis restart must not end the worker.
        "broker_connection_max_retries": None,
        "broker_channel_error_retry": True,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 10,
            "interval_start": 0.5,
            "interval_step": 1.0,
            "interval_max": 5.0,
        },
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_soft_time_limit": int(settings.task_soft_time_limit),
        "task_time_limit": int(settings.task_time_limit),
        "worker_prefetch_multiplier": 1,
        "worker_max_tasks_per_child": int(settings.worker_max_tasks_per_child),
        # A task whose ack can no longer be sent is redelivered anyway: stop it.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_queues": (Queue(feeds), Queue(articles)),
        "task_default_queue": articles,
        "task_routes": {
            TASK_POLL_SOURCE: {"queue": feeds},
            TASK_REVISIT_DUE: {"queue": feeds},
            TASK_FETCH_ARTICLE: {"queue": articles},
        },
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "timezone": "UTC",
        "enable_utc": True,
        "include": ["worker.tasks"],
    }


def create_app(settings: Settings) -> Celery:
    """A configured Celery app, made the current one; nothing connects until it is used.

    The tasks (``worker.tasks``) are shared tasks: they bind to whichever app is
    current, and a worker process reads its settings from ``app.conf.editions_settings``.
    """
    config = celery_config(settings)
    include = config.pop("include")
    celery_app = Celery("editions", include=include, task_cls=GuardedTask, set_as_current=True)
    celery_app.conf.update(config)
    celery_app.conf.editions_settings = settings
    # Current is per thread; the default covers the scheduler's job threads too.
    celery_app.set_default()
    return celery_app


def eta_too_far(eta: str | None, visibility_timeout: float, now: datetime | None = None) -> bool:
    """Whether an ETA (ISO 8601, as in a message header) lies beyond the visibility timeout."""
    if not eta:
        return False
    when = datetime.fromisoformat(eta)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return (when - now).total_seconds() >= visibility_timeout


class GuardedTask(Task):
    """A task that refuses to be sent with an ETA beyond the visibility timeout.

    Redis redelivers an unacknowledged message after the visibility timeout,
    and a worker holds a countdown task unacknowledged until it is due: a
    longer wait would run the task twice. Long waits belong in the archive's
    due queue.
    """

    def apply_async(self, args: Any = None, kwargs: Any = None, *more: Any, **options: Any) -> Any:
        visibility = float(self.app.conf.broker_transport_options.get("visibility_timeout", 3600))
        countdown, eta = options.get("countdown"), options.get("eta")
        if isinstance(eta, datetime):
            eta = eta.isoformat()
        if (countdown is not None and float(countdown) >= visibility) or eta_too_far(
            eta, visibility
        ):
            raise ScheduleTooFarError(
                f"{self.name}: countdown {countdown} / ETA {eta} is beyond the broker "
                f"visibility timeout ({visibility:g}s); keep long waits in the archive's due queue"
            )
        return super().apply_async(args, kwargs, *more, **options)


def broker_status(settings: Settings | None = None, *, timeout: float = 1.0) -> dict[str, Any]:
    """Queue lengths and the workers answering a ping, for ``editions status``."""
    settings = settings or Settings.defaults()
    import redis

    client = redis.Redis.from_url(broker_url(settings), socket_timeout=timeout + 2)
    status: dict[str, Any] = {"broker": redact_broker(broker_url(settings)), "queues": {}, "workers": []}
    try:
        for queue in (settings.feeds_queue, settings.articles_queue):
            # kombu keeps one list per priority step: 'name' and 'name\x06\x16N'.
            keys = [queue, *client.scan_iter(match=queue + "\x06\x16*")]
            status["queues"][queue] = sum(int(client.llen(key)) for key in keys)
        status["unacked"] = int(client.hlen("unacked"))
    except redis.RedisError as exc:
        status["error"] = f"broker not reachable: {exc}"
        return status
    finally:
        client.close()
    probe = Celery("editions-probe", set_as_current=False)
    probe.conf.update({k: v for k, v in celery_config(settings).items() if k != "include"})
    try:
        replies = probe.control.ping(timeout=timeout) or []
    finally:
        probe.close()
    status["workers"] = sorted(name for reply in replies for name in reply)
    return status


def redact_broker(url: str) -> str:
    """The broker URL as it may be shown: the password hidden."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url

