"""The Celery configuration's safety relations, checked without running a worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

from editions.settings import Settings
from worker.celery_app import (
    TASK_FETCH_ARTICLE,
    TASK_POLL_SOURCE,
    TASK_REVISIT_DUE,
    CeleryConfigError,
    GuardedTask,
    ScheduleTooFarError,
    celery_config,
    create_app,
    eta_too_far,
)
from worker.tasks import retry_countdown

ROOT = Path(__file__).resolve().parent.parent


BROKER = "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({}, broker_url=BROKER)


def test_no_broker_url_is_a_clear_error() -> None:
    # The README says the default is empty; it must not silently mean a local Redis.
    with pytest.raises(CeleryConfigError, match="EDITIONS_BROKER_URL is not set"):
        celery_config(Settings.from_env({}))


@pytest.fixture
def config(settings: Settings) -> dict:
    return celery_config(settings)


def test_visibility_timeout_exceeds_longest_task_plus_longest_retry(
    settings: Settings, config: dict
) -> None:
    visibility = config["broker_transport_options"]["visibility_timeout"]
    assert config["task_soft_time_limit"] < config["task_time_limit"]
    assert visibility > config["task_time_limit"] + settings.task_retry_backoff_max
    # Results are stored in the same Redis: same relation there.
    assert config["result_backend_transport_options"]["visibility_timeout"] == visibility


def test_no_retry_countdown_reaches_the_visibility_timeout(settings: Settings) -> None:
    limit = settings.visibility_timeout - settings.task_time_limit
    worst = [retry_countdown(n, settings, rng=lambda: 1.0) for n in range(40)]
    assert max(worst) <= settings.task_retry_backoff_max < limit
    # Exponential growth, then capped.
    assert worst[0] == settings.task_retry_backoff
    assert worst[1] == 2 * settings.task_retry_backoff
    # Full jitter: anywhere from a second to the ceiling.
    assert retry_countdown(3, settings, rng=lambda: 0.0) == 1.0
    assert retry_countdown(3, settings, rng=lambda: 0.5) == 0.5 * 8 * settings.task_retry_backoff
    # Even a backoff cap above the visibility window is held under it.
    tight = Settings.from_env({}, task_retry_backoff_max=10_000, visibility_timeout=20_000)
    assert retry_countdown(30, tight, rng=lambda: 1.0) == 10_000
    odd = settings.replace(task_retry_backoff_max=5_000)
    assert retry_countdown(30, odd, rng=lambda: 1.0) < odd.visibility_timeout - odd.task_time_limit


def test_json_only(config: dict) -> None:
    assert config["accept_content"] == ["json"]
    assert config["result_accept_content"] == ["json"]
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["event_serializer"] == "json"


def test_delivery_guarantees(config: dict) -> None:
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["worker_max_tasks_per_child"] > 0
    assert config["broker_connection_max_retries"] is None  # reconnect forever


def test_polls_and_fetches_have_their_own_queues(config: dict) -> None:
    queues = {q.name for q in config["task_queues"]}
    assert queues == {"feeds", "articles"}
    routes = config["task_routes"]
    assert routes[TASK_POLL_SOURCE]["queue"] == "feeds"
    assert routes[TASK_REVISIT_DUE]["queue"] == "feeds"
    assert routes[TASK_FETCH_ARTICLE]["queue"] == "articles"


def test_flower_sees_every_task(config: dict) -> None:
    assert config["task_send_sent_event"] is True
    assert config["worker_send_task_events"] is True


def test_task_names_are_stable_and_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    import worker

    monkeypatch.setenv("EDITIONS_BROKER_URL", BROKER)
    monkeypatch.setattr(worker, "_app", None)

    app = worker.app

    app.loader.import_default_modules()
    names = {TASK_POLL_SOURCE, TASK_FETCH_ARTICLE, TASK_REVISIT_DUE}
    assert names <= set(app.tasks)
    assert all(app.tasks[n].acks_late for n in names)
    assert all(isinstance(app.tasks[n], GuardedTask) for n in names)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"visibility_timeout": 600}, "VISIBILITY_TIMEOUT .* must exceed"),
        ({"task_soft_time_limit": 300, "task_time_limit": 300}, "must be positive and below"),
        ({"task_soft_time_limit": 0}, "must be positive and below"),
        ({"max_deliveries": 0}, "MAX_DELIVERIES must be at least 1"),
        ({"feeds_queue": "articles"}, "must differ"),
        ({"broker_url": "amqp://guest@127.0.0.1//"}, "only Redis brokers are supported"),
    ],
)
def test_contradictory_settings_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(CeleryConfigError, match=message):
        celery_config(Settings.from_env({}, **{"broker_url": BROKER, **overrides}))


def test_env_var_broker_is_used() -> None:
    settings = Settings.from_env({"EDITIONS_BROKER_URL": "redis://127.0.0.1:6379/7"})
    config = celery_config(settings)
    assert config["broker_url"] == config["result_backend"] == "redis://127.0.0.1:6379/7"
    assert create_app(settings).conf.broker_url == "redis://127.0.0.1:6379/7"


def test_eta_beyond_the_visibility_timeout_is_detected() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert not eta_too_far(None, 3600, now)
    assert not eta_too_far((now + timedelta(seconds=3599)).isoformat(), 3600, now)
    assert eta_too_far((now + timedelta(seconds=3600)).isoformat(), 3600, now)
    assert eta_too_far("2026-01-01T02:00:00", 3600, now)  # naive means UTC


@pytest.mark.redis
def test_sending_with_a_long_countdown_is_refused(redis_url: str) -> None:
    app = create_app(Settings.from_env({"EDITIONS_BROKER_URL": redis_url}))

    @app.task(name="editions.test_noop")
    def noop(url: str) -> str:
        return url

    client = redis.Redis.from_url(redis_url)
    try:
        with pytest.raises(ScheduleTooFarError, match="beyond the broker visibility timeout"):
            noop.apply_async(args=["http://news.example/a"], countdown=7200)
        with pytest.raises(ScheduleTooFarError):
            noop.apply_async(args=["http://news.example/a"], eta="2999-01-01T00:00:00+00:00")
        assert client.llen("articles") == 0
        noop.apply_async(args=["http://news.example/a"], countdown=60)
        assert client.llen("articles") == 1
    finally:
        client.close()
        app.close()


def test_importing_the_worker_package_does_not_load_celery() -> None:
    code = "import sys, worker, worker.fetch, worker.pipeline; print('celery' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
