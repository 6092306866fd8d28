"""The chaos tests' own tools work: a private redis-server and the TCP fault proxy."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.servers import FaultProxy, RedisServer

pytestmark = pytest.mark.redis


def client_via(proxy: FaultProxy, timeout: float = 1.0) -> redis.Redis:
    # No retries: each call shows what one attempt meets.
    return redis.Redis(
        host="127.0.0.1",
        port=proxy.port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def test_private_redis_restarts_empty_on_its_port(private_redis: RedisServer) -> None:
    port = private_redis.port
    client = private_redis.client()
    client.set("queued", "work")
    private_redis.restart()
    assert private_redis.port == port and private_redis.starts == 2
    assert client.get("queued") is None  # no persistence: a restart loses everything
    assert client.ping()
    client.close()
    assert port != 6379


def test_the_session_redis_is_private(redis_url: str, redis_server: RedisServer) -> None:
    assert f":{redis_server.port}/" in redis_url
    assert ":6379/" not in redis_url


def test_proxy_forwards_and_cut_resets_open_connections(
    private_redis: RedisServer, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(private_redis.port)
    client = client_via(proxy)
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert proxy.connections == 1
    assert proxy.cut() == 1
    conn = client.connection_pool.get_connection()
    with pytest.raises(redis.ConnectionError):
        conn.send_command("GET", "k")
        conn.read_response()
    conn.disconnect()
    client.connection_pool.release(conn)
    assert client.get("k") == b"v"  # a new connection gets through


def test_refuse_mode_resets_new_and_open_connections_until_resumed(
    private_redis: RedisServer, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(private_redis.port)
    client = client_via(proxy)
    assert client.ping()
    proxy.pause("refuse")
    assert proxy.connections == 0
    fresh = client_via(proxy)
    with pytest.raises(redis.ConnectionError):
        fresh.ping()
    proxy.resume()
    assert fresh.ping()
    # The old connection was reset: its next use may fail once, then it reconnects.
    with contextlib.suppress(redis.ConnectionError):
        client.ping()
    assert client.ping()


def test_drop_mode_stalls_until_resumed(
    private_redis: RedisServer, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(private_redis.port)
    client = client_via(proxy, timeout=0.5)
    client.set("k", "before")
    proxy.pause("drop")
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.get("k")  # a partition: no answer and no reset, only the client's timeout
    assert time.monotonic() - started >= 0.4
    late = client_via(proxy, timeout=5)
    proxy_was_paused_at = time.monotonic()
    answer: list[bytes | None] = []
    waiter = threading.Thread(target=lambda: answer.append(late.get("k")))
    waiter.start()
    time.sleep(0.5)
    assert answer == []  # still stalled
    proxy.resume()
    waiter.join(timeout=5)
    assert answer == [b"before"]
    assert time.monotonic() - proxy_was_paused_at >= 0.5
