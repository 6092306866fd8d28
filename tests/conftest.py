"""Shared fixtures: a real local HTTP site, the shared corpus, and real databases.

Postgres and Redis are real servers. Postgres is the shared one (tests create
and drop their own databases and schemas); Redis is a ``redis-server`` each
session starts on a free port (see ``tests/servers.py``), so no test ever
flushes or restarts a Redis someone else uses. On a developer machine without
them the tests that need them skip with a message; under CI (``CI=true``) a
missing server is an error, so a skip can never hide it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from editions.demo.site import LocalSite
from tests.servers import FaultProxy, RedisServer, ServerUnavailable

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("EDITIONS_SHARED_DIR", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus"
SEED = SHARED / "seed" / "i24news-idlib-2018.txt"

POSTGRES_URL = os.environ.get(
    "EDITIONS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Unset (the default), every session starts a private redis-server on a free port,
# so tests never flush, stop or restart a Redis someone else uses. Set, it names a
# Redis database handed over to the tests: they flush it.
REDIS_URL = os.environ.get("EDITIONS_TEST_REDIS_URL", "")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(what: str, why: str) -> None:
    """Skip on a developer's machine that lacks a server or the shared data; fail under CI."""
    message = f"{what} not available ({why}); start it, set the EDITIONS_TEST_* URL or EDITIONS_SHARED_DIR"
    if IN_CI:
        pytest.fail(message + " — CI must not skip this", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _allow_private_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every test server lives on 127.0.0.1, which the fetcher refuses by default.
    monkeypatch.setenv("EDITIONS_ALLOW_PRIVATE_ADDRESSES", "1")
    monkeypatch.setenv("EDITIONS_HOST_DELAY", "0")


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as s:
        yield s


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "articles").is_dir():
        _missing("The shared corpus", f"no {CORPUS / 'articles'}")
    return CORPUS


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED.is_file():
        _missing("The seed article", f"no {SEED}")
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh Postgres database for this test session, dropped afterwards."""
    try:
        import sqlalchemy as sa

        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any failure to connect means: no server here
        _missing("PostgreSQL", f"{POSTGRES_URL}: {exc.__class__.__name__}: {exc}".splitlines()[0])
    name = f"editions_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def pg_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh schema in the session's Postgres database, migrated like compose's migrate service."""
    import sqlalchemy as sa

    from storage.migrate import upgrade

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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this session's own, on a free port, stopped at the end."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    except ServerUnavailable as exc:
        _missing("redis-server", str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for one test, free to be stopped, killed or restarted on its port."""
    try:
        server = RedisServer(tmp_path / "redis").start()
    except ServerUnavailable as exc:
        _missing("redis-server", str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """An empty Redis database: the session's private server, or EDITIONS_TEST_REDIS_URL."""
    url = REDIS_URL or request.getfixturevalue("redis_server").url(15)
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.flushdb()
        client.close()
    except Exception as exc:
        _missing("Redis", f"{url}: {exc}")
    return url


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    """Start TCP fault proxies in front of local ports; all closed after the test."""
    proxies: list[FaultProxy] = []

    def start(port: int) -> FaultProxy:
        proxy = FaultProxy(port).start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on the embedded SQLite default and on Postgres."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    base = request.getfixturevalue("postgres_server_url")
    # A schema per test keeps tests independent without a database per test.
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    engine.dispose()
    request.addfinalizer(lambda: _drop_schema(base, schema))
    return f"{base}?options=-csearch_path%3D{schema}"


def _drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
    engine.dispose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show the figures tests record (extraction F1 and accuracies) in every run's output."""
    figures = [
        (report.nodeid, name, value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", [])
    ]
    if figures:
        terminalreporter.section("figures")
        for nodeid, name, value in figures:
            terminalreporter.write_line(f"{name} = {value}  ({nodeid.split('::')[-1]})")
