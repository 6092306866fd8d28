"""Distributed mode end to end: a real Celery worker (two processes), the scheduler,
Flower, Redis and Postgres, archiving a local site; and the task guards.

The chaos tests (processes killed, Redis and Postgres cut off) are in
``test_chaos.py``, marked slow: run them with ``pytest -m slow``.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from editions.api import Editions
from editions.demo.site import LocalSite
from editions.errors import ArticleFetchError
from editions.settings import Settings
from storage.archive import Archive
from tests.cluster import BIN, Cluster, base_env, newsroom, publish, versions_of, wait_for
from tests.pages import paragraphs
from tests.servers import free_port

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

FLOWER_USER, FLOWER_PASSWORD = "editor", "s3cret-" + uuid.uuid4().hex[:6]


# --- helpers -------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str, pg_url: str) -> Iterator[Cluster]:
    env = {
        **base_env(redis_url, pg_url),
        # Revisit every 2 s, look for due articles every second, fail over in 3 s.
        "EDITIONS_REVISIT_SCHEDULE": "86400:2",
        "EDITIONS_REVISIT_TICK": "1",
        "EDITIONS_LEADER_LOCK_TTL": "3",
    }
    c = Cluster(tmp_path, env)
    yield c
    c.stop_all()


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
        str(BIN / "python"),
        "-m",
        "worker.flower",
        f"--port={port}",
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
    task = tasks.fetch_article.apply(args=[url])
    # A FAILURE in Flower, with the outcome and the URL in its message.
    assert task.state == "FAILURE"
    assert isinstance(task.result, ArticleFetchError)
    assert task.result.outcome == "poison" and task.result.url == url
    assert "kills its worker" in str(task.result)
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
    # The small result Flower shows for a successful fetch.
    assert result == {
        "url": url, "action": "new", "outcome": "ok", "http_status": 200, "version": 1,
        "change": result["change"],
    }
    assert archive.get_article(article.id).deliveries == 0
    assert client.exists(tasks.lease_key("article", url)) == 0
    # While a fetch is queued (its lease is held) no second one is sent.
    client.set(tasks.lease_key("article", url), "queued")
    assert tasks.enqueue_fetch(url, source=None, client=client, settings=Settings()) is False


def test_a_fetch_sent_by_an_overlapping_tick_does_no_work(site: LocalSite, tasks: Any) -> None:
    url = publish(site, "ticked", "Council decides on ticks", paragraphs("ticks"))
    archive, article = track(tasks, url)
    # A revisit tick reads the due set...
    assert [a.canonical_url for a in archive.due_articles(datetime_now(), 10)] == [url]
    # ...meanwhile the fetch an earlier tick sent runs and releases its lease...
    assert tasks.fetch_article.apply(args=[url]).get()["action"] == "new"
    client = tasks.worker_state().redis
    assert client.exists(tasks.lease_key("article", url)) == 0
    # ...so the tick sends the article it read as due once more. It is not due now.
    again = tasks.fetch_article.apply(args=[url]).get()
    assert again["action"] == "not_due"
    assert len(site.requests_for("/news/ticked")) == 1  # not fetched twice
    assert len(archive.versions(article.id)) == 1
    assert archive.get_article(article.id).deliveries == 0
    assert client.exists(tasks.lease_key("article", url)) == 0


def test_a_failed_fetch_is_a_failed_task_not_retried(site: LocalSite, tasks: Any) -> None:
    url = site.url("/news/gone")  # nothing there: 404
    archive, article = track(tasks, url)
    task = tasks.fetch_article.apply(args=[url])
    assert task.state == "FAILURE"
    assert isinstance(task.result, ArticleFetchError)
    assert task.result.outcome == "http_error" and url in str(task.result)
    assert "404" in str(task.result)
    assert len(site.requests_for("/news/gone")) == 1  # Celery did not retry it
    # The pipeline recorded the failure and planned the next try itself.
    assert archive.get_article(article.id).failures == 1
    assert archive.get_article(article.id).next_check_at is not None


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


def test_only_an_unreachable_database_is_worth_a_quick_retry(
    postgres_server_url: str, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from worker.tasks import database_unreachable

    def error_of(url: str, query: str) -> sa.exc.DBAPIError:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(query))
        except sa.exc.DBAPIError as exc:
            return exc
        finally:
            engine.dispose()
        raise AssertionError(f"{query!r} did not fail")

    nobody = sa.make_url(postgres_server_url).set(port=free_port())
    refused = error_of(nobody.render_as_string(hide_password=False), "select 1")
    assert database_unreachable(refused)
    # Errors about the query itself fail the same way on every retry.
    too_long = error_of(
        postgres_server_url,
        "select to_tsvector('simple', string_agg(md5(i::text), ' ')) from generate_series(1, 60000) i",
    )
    assert isinstance(too_long, sa.exc.OperationalError) and not database_unreachable(too_long)
    assert not database_unreachable(error_of(postgres_server_url, "select 1/0"))
    assert not database_unreachable(
        error_of(f"sqlite:///{tmp_path / 'x.db'}", "select * from nothing")
    )
    assert not database_unreachable(ValueError("not a database error"))


# --- Flower ----------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP port is listened on, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                address, port_hex = fields[1].rsplit(":", 1)
                if int(port_hex, 16) == port and fields[3] == "0A":  # LISTEN
                    found.add(address)
    return found


def http(
    port: int, path: str, *, auth: str | None = None, method: str = "GET"
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, data=b"{}" if method == "POST" else None
    )
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    if method == "POST":
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError:
        return 0, b""  # nobody listening (yet)


FLOWER_PATHS = [
    "/",
    "/workers",
    "/tasks",
    "/broker",
    "/api/workers",
    "/api/tasks",
    "/api/queues/length",
    "/metrics",
    "/healthcheck",
]


def test_flower_is_closed_by_default(tmp_path: Path, redis_url: str) -> None:
    import subprocess

    from tests.cluster import ROOT

    credentials = f"{FLOWER_USER}:{FLOWER_PASSWORD}"
    cluster = Cluster(tmp_path, base_env(redis_url, f"sqlite:///{tmp_path / 'unused.db'}"))
    port = free_port()
    try:
        # The README's command, minus the port: no address given.
        cluster.start(
            "flower",
            str(BIN / "python"),
            "-m",
            "worker.flower",
            f"--port={port}",
            env={"FLOWER_BASIC_AUTH": credentials},
        )
        wait_for(
            "Flower to answer",
            lambda: http(port, "/healthcheck", auth=credentials)[0] == 200,
            cluster,
        )
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only

        for path in FLOWER_PATHS:
            assert http(port, path)[0] == 401, path
            assert http(port, path, auth=f"{FLOWER_USER}:wrong")[0] == 401, path
        assert http(port, "/healthcheck", auth=credentials) == (200, b"OK")
        status, metrics = http(port, "/metrics", auth=credentials)
        assert status == 200 and b"flower_events_total" in metrics

        # Read-only: an authenticated user can look but not run, revoke or stop anything.
        client = redis.Redis.from_url(redis_url)
        for path in (
            "/api/task/async-apply/editions.fetch_article",
            "/api/task/send-task/editions.fetch_article",
            "/api/task/apply/editions.revisit_due",
            "/api/task/revoke/0",
            "/api/worker/shutdown/anyone@anywhere",
            "/api/worker/pool/restart/anyone@anywhere",
        ):
            assert http(port, path, auth=credentials, method="POST")[0] == 403, path
        assert client.llen("articles") == client.llen("feeds") == 0
        client.close()

        # compose's health check: the same command, with the same credentials.
        def healthcheck(auth: str) -> int:
            return subprocess.run(
                [str(BIN / "python"), "-m", "worker.flower", "--healthcheck"],
                cwd=ROOT,
                env={**cluster.env, "FLOWER_PORT": str(port), "FLOWER_BASIC_AUTH": auth},
                capture_output=True,
                timeout=60,
                check=False,
            ).returncode

        assert healthcheck(credentials) == 0
        assert healthcheck(f"{FLOWER_USER}:wrong") == 1
    finally:
        cluster.stop_all()

    # Without credentials it does not start at all.
    bare = subprocess.run(
        [str(BIN / "python"), "-m", "worker.flower", f"--port={free_port()}"],
        cwd=ROOT,
        env={k: v for k, v in cluster.env.items() if not k.startswith("FLOWER_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bare.returncode != 0
    assert "refusing to start without authentication" in bare.stderr + bare.stdout


def test_flower_defaults_give_way_to_explicit_options() -> None:
    from worker.flower import flower_argv

    assert flower_argv(["--port=5555"], {}) == [
        "celery",
        "-A",
        "worker",
        "flower",
        "--port=5555",
        "--address=127.0.0.1",
        "--read_only=true",
    ]
    explicit = flower_argv(["--address=0.0.0.0", "--read-only=false"], {})
    assert explicit[4:] == ["--address=0.0.0.0", "--read-only=false"]
    assert flower_argv([], {"FLOWER_ADDRESS": "0.0.0.0", "FLOWER_READ_ONLY": "false"})[4:] == []


# --- polls are never starved -------------------------------------------------------


def readme_worker_commands() -> list[list[str]]:
    """The ``celery -A worker worker`` command lines of the README's distributed mode."""
    import shlex

    from tests.cluster import ROOT

    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Distributed mode") : text.index("## Configuration")]
    commands = []
    for line in section.splitlines():
        if line.strip().startswith("celery -A worker worker"):
            commands.append(shlex.split(line.split("  #", 1)[0]))
    return commands


def test_slow_pages_never_delay_a_poll(
    site: LocalSite, tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    import threading

    from tests.cluster import Timeline, timed_page
    from tests.pages import article_html, rss
    from worker.celery_app import TASK_FETCH_ARTICLE, TASK_POLL_SOURCE, create_app

    commands = readme_worker_commands()
    assert commands
    cluster = Cluster(tmp_path, base_env(redis_url, pg_url))
    archive = Archive(pg_url, settings=Settings(), migrate=False)
    gate = threading.Event()  # holds every article page until the poll is done
    try:
        articles_concurrency = 0
        for number, argv in enumerate(commands):
            queues = argv[argv.index("-Q") + 1].split(",")
            if "-n" in argv:  # the README's node names, made unique for this test
                argv[argv.index("-n") + 1] = f"n{number}-{uuid.uuid4().hex[:6]}@%h"
            cluster.start(f"worker-{number}", str(BIN / "celery"), *argv[1:])
            if "articles" in queues:
                articles_concurrency += int(argv[argv.index("--concurrency") + 1])
        # As many slow pages as the article workers have processes: all of them busy.
        timeline = Timeline()
        urls = []
        for i in range(articles_concurrency):
            path = f"/news/slow-{i}"
            body = article_html(
                title=f"Council weighs slow item {i}",
                paragraphs=paragraphs(f"slow item {i}"),
                canonical=site.url(path),
            )
            timed_page(site, path, body, timeline, gate=gate)
            urls.append(site.url(path))
        fresh = publish(site, "fresh", "Council decides on the fresh item", paragraphs("fresh"))
        site.add("/feed.xml", rss([("fresh", fresh)]), content_type="application/rss+xml")
        probe = create_app(Settings.from_env(cluster.env))
        try:
            for url in urls:
                probe.send_task(TASK_FETCH_ARTICLE, args=[url], kwargs={"source": None})
            wait_for(
                "every article process busy with a slow page",
                lambda: (
                    sum(timeline.in_flight(f"/news/slow-{i}") for i in range(len(urls)))
                    == len(urls)
                ),
                cluster,
            )
            source = {"name": "gazette", "url": site.url("/feed.xml"), "kind": "feed", "every": 600}
            probe.send_task(TASK_POLL_SOURCE, args=[source])
        finally:
            probe.close()

        def polled() -> bool:
            state = archive.get_source("gazette")
            return state is not None and state.last_polled_at is not None

        wait_for("the poll, while every article process is busy", polled, cluster, timeout=30)
        assert archive.find_article(fresh) is not None  # the poll registered its link
        assert sum(timeline.in_flight(f"/news/slow-{i}") for i in range(len(urls))) == len(urls)
        gate.set()
        wait_for(
            "the slow pages archived",
            lambda: all(versions_of(archive, u) for u in [*urls, fresh]),
            cluster,
        )
    finally:
        gate.set()
        cluster.stop_all()
        archive.close()


def test_an_article_that_raises_is_a_counted_failure_then_is_marked_failed(
    tasks: Any,
) -> None:
    # issue 8 hole 2: the task is no longer re-fetched forever; each delivery is one
    # counted failure, with the reason, until the article is failed. Flower shows each
    # as a FAILURE (issue 12 item 5) that Celery does not retry.
    from tests.test_ingest_failures import BrokenBody

    url = "http://news.example/news/broken"
    state = tasks.worker_state()
    fetcher = BrokenBody("", {}, url)
    state.pipeline.fetcher = fetcher
    archive, article = track(tasks, url)
    limit = state.settings.max_article_failures
    for attempt in range(1, limit + 1):
        # The backoff put the next try in the future; a fetch runs only when it is due.
        with archive.engine.begin() as conn:
            conn.execute(
                sa.text("update article set next_check_at = :now where id = :id"),
                {"now": datetime_now().replace(tzinfo=None), "id": article.id},
            )
        outcome = tasks.fetch_article.apply(args=[url])
        assert outcome.failed() and isinstance(outcome.result, ArticleFetchError)
        assert outcome.result.outcome == "error" and "TypeError" in str(outcome.result)
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
