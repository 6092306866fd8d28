"""Distributed mode end to end: a real Celery worker (two processes), the scheduler,
Flower, Redis and Postgres, archiving a local site.

The chaos tests (a worker process killed mid-fetch, Redis restarted while work
is queued) are marked slow: run them with ``pytest -m slow``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from editions.api import Editions
from editions.demo.site import LocalSite, Page
from editions.settings import Settings
from storage.archive import Archive
from storage.migrate import upgrade
from tests.pages import article_html, paragraphs, rss

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOPICS = ["the ferry timetable", "the harbour wall", "the lifeboat station"]
FLOWER_USER, FLOWER_PASSWORD = "editor", "s3cret-" + uuid.uuid4().hex[:6]


# --- helpers -------------------------------------------------------------------


def wait_for(what: str, check: Callable[[], Any], cluster: Cluster, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the logs otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        cluster.assert_alive()
        time.sleep(0.3)
    pytest.fail(f"gave up waiting for {what}\n{cluster.logs()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The processes of one test: workers, schedulers, Flower; logs kept in files."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopped: set[str] = set()

    def start(
        self, name: str, *argv: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self.start(
            name,
            str(BIN / "celery"),
            "-A",
            "worker",
            "worker",
            "--concurrency",
            "2",
            "-Q",
            "feeds,articles",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--hostname",
            f"{name}-{uuid.uuid4().hex[:6]}@%h",
        )

    def scheduler(self, sources: Path, name: str = "scheduler") -> subprocess.Popen[bytes]:
        return self.start(name, str(BIN / "editions"), "-v", "--sources", str(sources), "scheduler")

    def assert_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None and name not in self.stopped:
                pytest.fail(f"{name} exited with {proc.returncode}\n{self.logs()}")

    def stop(self, name: str) -> None:
        proc = self.procs[name]
        self.stopped.add(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def logs(self, lines: int = 40) -> str:
        out = []
        for name in self.procs:
            text = (self.tmp_path / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


@pytest.fixture
def pg_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh schema in the session's Postgres database, migrated like compose's migrate service."""
    schema = f"d_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    url = f"{postgres_server_url}?options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with engine.begin() as conn:
        conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
    engine.dispose()


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str, pg_url: str) -> Iterator[Cluster]:
    env = {
        **os.environ,
        "EDITIONS_BROKER_URL": redis_url,
        "EDITIONS_DATABASE_URL": pg_url,
        "EDITIONS_ALLOW_PRIVATE_ADDRESSES": "1",
        "EDITIONS_HOST_DELAY": "0",
        "EDITIONS_MAX_RETRIES": "0",
        # Revisit every 2 s, look for due articles every second, fail over in 3 s.
        "EDITIONS_REVISIT_SCHEDULE": "86400:2",
        "EDITIONS_REVISIT_TICK": "1",
        "EDITIONS_LEADER_LOCK_TTL": "3",
        "PYTHONUNBUFFERED": "1",
    }
    c = Cluster(tmp_path, env)
    yield c
    c.stop_all()


def publish(site: LocalSite, slug: str, title: str, paras: list[str], **kwargs: Any) -> str:
    url = site.url(f"/news/{slug}")
    site.add(f"/news/{slug}", article_html(title=title, paragraphs=paras, canonical=url), **kwargs)
    return url


def newsroom(site: LocalSite, tmp_path: Path, topics: list[str] = TOPICS) -> tuple[dict, Path]:
    urls = {
        topic: publish(site, f"story-{i}", f"Council decides on {topic}", paragraphs(topic))
        for i, topic in enumerate(topics)
    }
    site.add(
        "/feed.xml", rss([(t, u) for t, u in urls.items()]), content_type="application/rss+xml"
    )
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "gazette"\nurl = "{site.url("/feed.xml")}"\n'
        'kind = "feed"\nevery = "1m"\n'
    )
    return urls, sources


def versions_of(archive: Archive, url: str) -> list[Any]:
    article = archive.find_article(url)
    return archive.versions(article.id) if article is not None and article.id else []


def flower_get(port: int, path: str, auth: bool = True) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth:
        token = base64.b64encode(f"{FLOWER_USER}:{FLOWER_PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# --- end to end ----------------------------------------------------------------


def test_workers_and_scheduler_archive_edit_and_search(
    site: LocalSite, tmp_path: Path, cluster: Cluster, pg_url: str
) -> None:
    urls, sources = newsroom(site, tmp_path)
    port = free_port()
    cluster.start(
        "flower",
        str(BIN / "celery"),
        "-A",
        "worker",
        "flower",
        f"--port={port}",
        "--address=127.0.0.1",
        # As in compose.yaml: the credentials come from the environment.
        env={"FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{FLOWER_PASSWORD}"},
    )
    cluster.worker()
    # Two schedulers started by mistake: one leads, the other stands by.
    schedulers = [cluster.scheduler(sources), cluster.scheduler(sources, name="scheduler-2")]
    archive = Archive(pg_url, settings=Settings(), migrate=False)
    try:
        wait_for(
            "every article archived once",
            lambda: all(len(versions_of(archive, u)) == 1 for u in urls.values()),
            cluster,
        )
        # Edit one article; the revisits must archive a second version of it only.
        edited = urls["the harbour wall"]
        paras = paragraphs("the harbour wall")
        paras[2] = (
            "Correction: the seawall contractor, Quillfeather Marine, withdrew its bid on "
            "Wednesday after the committee questioned the concrete specification and the cost."
        )
        publish(site, "story-1", "Council delays the harbour wall", paras)
        fetched_before = len(site.requests_for("/news/story-0"))
        wait_for("the edit archived", lambda: len(versions_of(archive, edited)) == 2, cluster)
        wait_for(
            "unchanged articles revisited",
            lambda: len(site.requests_for("/news/story-0")) > fetched_before + 1,
            cluster,
        )
        for topic, url in urls.items():
            if url != edited:
                assert len(versions_of(archive, url)) == 1, topic
        second = versions_of(archive, edited)[-1]
        assert second.title == "Council delays the harbour wall"
        assert "Quillfeather" in second.text

        hits = archive.search("quillfeather seawall")
        assert [h.url for h in hits] == [edited]
        assert "Quillfeather" in hits[0].snippet
        assert hits[0].versions == 2

        # The feed ('every 1m') was polled once in all this time, by the one leader.
        assert len(site.requests_for("/feed.xml")) == 1
        with redis.Redis.from_url(cluster.env["EDITIONS_BROKER_URL"]) as client:
            leader = client.get("editions:scheduler:leader")
        assert leader is not None
        assert int(leader.decode().split(":")[1]) in {p.pid for p in schedulers}
        assert {h.url for h in archive.search("harbour committee")} == set(urls.values())

        # Flower saw every fetch, with its URL and final state, behind basic auth.
        def fetch_tasks() -> list[dict[str, Any]]:
            tasks = flower_get(port, "/api/tasks?taskname=editions.fetch_article&limit=1000")
            return [t for t in tasks.values() if t.get("state") == "SUCCESS"]

        done = wait_for("Flower listing fetch tasks", fetch_tasks, cluster)
        assert {u for u in urls.values()} <= {t["args"].strip("()[]',\"") for t in done}
        assert all(t["name"] == "editions.fetch_article" for t in done)
        workers = wait_for(
            "Flower listing workers", lambda: flower_get(port, "/api/workers?refresh=1"), cluster
        )
        assert any(name.startswith("worker-") for name in workers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            flower_get(port, "/api/workers", auth=False)
        assert refused.value.code == 401

        # 'editions status' shows the queues and the live workers without Flower.
        with Editions(pg_url, settings=Settings.from_env(cluster.env)) as ed:
            broker = ed.status()["distributed"]
        assert set(broker["queues"]) == {"feeds", "articles"}
        assert any(name.startswith("worker-") for name in broker["workers"])
        assert "error" not in broker
    finally:
        archive.close()


# --- chaos ---------------------------------------------------------------------


@pytest.mark.slow
def test_worker_killed_mid_fetch_is_redelivered_and_archived_once(
    site: LocalSite, tmp_path: Path, cluster: Cluster, pg_url: str, redis_url: str
) -> None:
    urls, sources = newsroom(site, tmp_path, topics=["the slow ferry"])
    url = urls["the slow ferry"]
    body = article_html(
        title="Council decides on the slow ferry",
        paragraphs=paragraphs("the slow ferry"),
        canonical=url,
    )
    started = threading.Event()
    calls: list[float] = []

    def slow_first_time(handler: Any) -> Page:
        calls.append(time.time())
        started.set()
        # The first answer takes long enough to kill the worker in the middle.
        return Page(body=body.encode(), delay=30.0 if len(calls) == 1 else 0.0)

    site.handlers["/news/story-0"] = slow_first_time
    cluster.worker()
    cluster.scheduler(sources)
    wait_for("the fetch to start", started.is_set, cluster)

    from worker.celery_app import create_app

    probe = create_app(Settings(broker_url=redis_url))
    try:

        def fetching_pid() -> int | None:
            for tasks in (probe.control.inspect(timeout=2).active() or {}).values():
                for task in tasks:
                    if task["name"] == "editions.fetch_article" and url in str(task["args"]):
                        return int(task["worker_pid"])
            return None

        pid = wait_for("the fetch task to show as active", fetching_pid, cluster)
        os.kill(pid, signal.SIGKILL)
    finally:
        probe.close()

    archive = Archive(pg_url, settings=Settings(), migrate=False)
    try:
        wait_for("the redelivered fetch", lambda: len(versions_of(archive, url)) == 1, cluster)
        wait_for("a revisit after the redelivery", lambda: len(calls) >= 4, cluster)
        versions = versions_of(archive, url)
        assert len(versions) == 1
        article = archive.find_article(url)
        assert article is not None
        assert article.status == "active"
        assert article.deliveries == 0  # the finished deliveries were cleared
        assert archive.count_articles() == 1
    finally:
        archive.close()


def restart_redis() -> None:
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
        check=False,
        capture_output=True,
    )
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/tmp",
        ],
        check=True,
        capture_output=True,
    )
    for _ in range(50):
        ping = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
            capture_output=True,
            text=True,
            check=False,
        )
        if ping.stdout.strip() == "PONG":
            return
        time.sleep(0.2)
    raise RuntimeError("redis did not come back")


@pytest.mark.slow
def test_redis_restart_loses_nothing(
    site: LocalSite, tmp_path: Path, cluster: Cluster, pg_url: str
) -> None:
    topics = [f"the quay works part {i}" for i in range(8)]
    urls, sources = newsroom(site, tmp_path, topics=topics)
    for i, topic in enumerate(topics):
        # Slow pages keep work queued behind the two busy worker processes.
        publish(site, f"story-{i}", f"Council decides on {topic}", paragraphs(topic), delay=1.5)
    cluster.worker()
    cluster.scheduler(sources)
    archive = Archive(pg_url, settings=Settings(), migrate=False)
    try:
        wait_for("articles registered by the poll", lambda: archive.count_articles() == 8, cluster)
        restart_redis()
        wait_for(
            "every article archived after the restart",
            lambda: all(len(versions_of(archive, u)) == 1 for u in urls.values()),
            cluster,
            timeout=120,
        )
        # Both reconnected: new work still flows after the restart.
        publish(site, "story-0", "Council halts the quay works", paragraphs("a new plan"))
        wait_for(
            "an edit archived after the restart",
            lambda: len(versions_of(archive, urls[topics[0]])) == 2,
            cluster,
            timeout=60,
        )
        assert all(len(versions_of(archive, u)) == 1 for u in list(urls.values())[1:])
    finally:
        archive.close()


# --- the task guards, run in this process --------------------------------------


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str) -> Iterator[Any]:
    """worker.tasks with a process state of its own (SQLite archive, test Redis)."""
    from worker import tasks as module
    from worker.celery_app import create_app

    monkeypatch.setenv("EDITIONS_BROKER_URL", redis_url)
    monkeypatch.setenv("EDITIONS_DATABASE_URL", f"sqlite:///{tmp_path / 'worker.db'}")
    monkeypatch.setenv("EDITIONS_MAX_RETRIES", "0")
    # The app a worker process gets from `celery -A worker`: settings from the environment.
    create_app(Settings.from_env())
    monkeypatch.setattr(module, "_state", None)
    yield module
    if module._state is not None:
        module._state.close()


def track(tasks: Any, url: str) -> Any:
    from datetime import UTC, datetime

    archive = tasks.worker_state().pipeline.archive
    now = datetime.now(UTC)
    article, _ = archive.get_or_create_article(url, source=None, seen_at=now, next_check_at=now)
    return archive, article


def test_poison_pill_is_marked_failed_not_fetched_again(site: LocalSite, tasks: Any) -> None:
    url = publish(site, "poison", "Council decides on the poison", paragraphs("poison"))
    archive, article = track(tasks, url)
    for _ in range(Settings().max_deliveries):  # each of these killed its worker
        archive.record_delivery(article.id)
    result = tasks.fetch_article.apply(args=[url]).get()
    assert result["action"] == "failed"
    assert result["outcome"] == "poison"
    assert "kills its worker" in result["error"]
    assert archive.get_article(article.id).status == "failed"
    assert site.requests_for("/news/poison") == []
    assert archive.due_articles(datetime_now(), 10) == []


def test_a_finished_delivery_is_cleared_and_releases_its_lease(site: LocalSite, tasks: Any) -> None:
    url = publish(site, "fine", "Council decides on the fine", paragraphs("fine"))
    archive, article = track(tasks, url)
    archive.record_delivery(article.id)  # one earlier delivery died
    client = tasks.worker_state().redis
    client.set(tasks.lease_key("article", url), "queued")
    result = tasks.fetch_article.apply(args=[url]).get()
    assert result["action"] == "new"
    assert archive.get_article(article.id).deliveries == 0
    assert client.exists(tasks.lease_key("article", url)) == 0
    # While a fetch is queued (its lease is held) no second one is sent.
    client.set(tasks.lease_key("article", url), "queued")
    assert tasks.enqueue_fetch(url, source=None, client=client, settings=Settings()) is False


def test_a_backed_off_host_is_left_alone(site: LocalSite, tasks: Any) -> None:
    url = publish(site, "later", "Council decides on later", paragraphs("later"))
    archive, article = track(tasks, url)
    state = tasks.worker_state()
    state.limiter.record_failure("127.0.0.1")
    result = tasks.fetch_article.apply(args=[url]).get()
    assert result["action"] == "deferred"
    assert site.requests_for("/news/later") == []
    assert archive.get_article(article.id).latest_version == 0  # still due, not lost
    ttl = state.redis.pttl(tasks.lease_key("article", url))
    assert 0 < ttl <= Settings().host_failure_backoff * 1000


def datetime_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_bad_source_message_fails_clearly(tasks: Any) -> None:
    from schedules.sources import SourcesError

    client = tasks.worker_state().redis
    key = tasks.lease_key("source", "broken")
    client.set(key, "queued")
    bad = {"name": "broken", "url": "not a url", "kind": "feed", "every": 600}
    outcome = tasks.poll_source_task.apply(args=[bad])
    assert outcome.failed()
    assert isinstance(outcome.result, SourcesError)
    assert "field 'url'" in str(outcome.result)
    assert client.exists(key) == 0  # the lease is released, the next period polls again


def test_an_article_that_raises_returns_a_failed_result_then_is_marked_failed(
    tasks: Any,
) -> None:
    # issue 8 hole 2: the task no longer raises (and is re-fetched forever); each
    # delivery is one counted failure, with the reason, until the article is failed.
    from tests.test_ingest_failures import BrokenBody

    url = "http://news.example/news/broken"
    state = tasks.worker_state()
    fetcher = BrokenBody("", {}, url)
    state.pipeline.fetcher = fetcher
    archive, article = track(tasks, url)
    limit = state.settings.max_article_failures
    for attempt in range(1, limit + 1):
        outcome = tasks.fetch_article.apply(args=[url])
        assert outcome.successful()
        result = outcome.get()
        assert (result["action"], result["outcome"]) == ("failed", "error")
        assert "TypeError" in result["error"]
        assert archive.get_article(article.id).failures == attempt
    stored = archive.get_article(article.id)
    assert stored.status == "failed" and "TypeError" in stored.last_error
    assert stored.deliveries == 0  # each delivery finished
    assert len(fetcher.fetched) == limit


def test_a_soft_time_limit_is_not_counted_as_the_articles_failure(tasks: Any) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    class Slow:
        def fetch(self, url: str, **options: Any) -> Any:
            raise SoftTimeLimitExceeded()

    url = "http://news.example/news/slow"
    tasks.worker_state().pipeline.fetcher = Slow()
    archive, article = track(tasks, url)
    outcome = tasks.fetch_article.apply(args=[url])
    assert outcome.failed() and isinstance(outcome.result, SoftTimeLimitExceeded)
    stored = archive.get_article(article.id)
    # Left to the delivery count (a delivery that never finished), not a fetch failure.
    assert (stored.failures, stored.deliveries) == (0, 1)
