"""Webhooks: a real receiver on 127.0.0.1 gets one signed POST per matching edit, with retries."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from editions.api import Editions
from editions.demo.newsroom import Newsroom
from editions.demo.run import demo_sources
from editions.demo.site import LocalSite
from editions.settings import Settings
from worker.webhook import WebhookSender


class Receiver:
    """An HTTP server that records POSTs and answers from a script of statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _edit_the_demo(database_url: str, settings: Settings) -> list[str]:
    with LocalSite() as site, Editions(database_url, settings=settings) as ed:
        newsroom = Newsroom(site)
        newsroom.publish()
        ed.run_once(sources=demo_sources(newsroom))
        newsroom.apply_edits()
        results = ed.revisit(all_articles=True)
    return [r.canonical_url for r in results if r.action == "changed"]


def test_each_edit_is_posted_signed(database_url: str, receiver: Receiver) -> None:
    settings = Settings.defaults(
        allow_private_addresses=True,
        host_delay=0.0,
        webhook_url=receiver.url,
        webhook_secret="k3y",
    )
    changed = _edit_the_demo(database_url, settings)
    assert changed
    assert len(receiver.posts) == len(changed)  # first fetches are not edits: no POST for them
    for post in receiver.posts:
        body = post["body"]
        expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
        assert post["headers"]["X-Editions-Signature"] == expected
        assert post["headers"]["Content-Type"] == "application/json"
        payload = json.loads(body)
        assert payload["event"] == "edit" and payload["version"] == 2
        assert payload["diff"] and payload["change"]
    assert sorted(json.loads(p["body"])["url"] for p in receiver.posts) == sorted(changed)


def test_only_edits_matching_the_query(tmp_path: Any, receiver: Receiver) -> None:
    settings = Settings.defaults(
        allow_private_addresses=True,
        host_delay=0.0,
        webhook_url=receiver.url,
        webhook_query="bridge",
    )
    changed = _edit_the_demo(f"sqlite:///{tmp_path / 'a.db'}", settings)
    assert len(changed) == 2
    assert [json.loads(p["body"])["url"] for p in receiver.posts] == [
        u for u in changed if "bridge" in u
    ]


def test_retries_with_backoff_then_gives_up() -> None:
    with Receiver(statuses=[503, 500, 200]) as flaky:
        waits: list[float] = []
        settings = Settings.defaults(
            allow_private_addresses=True, webhook_url=flaky.url, webhook_backoff=0.5
        )
        assert WebhookSender(settings, sleep=waits.append).post({"event": "edit"})
        assert len(flaky.posts) == 3
        assert waits == [0.5, 1.0]
    with Receiver(statuses=[503] * 10) as down:
        settings = Settings.defaults(
            allow_private_addresses=True, webhook_url=down.url, webhook_max_retries=2
        )
        assert not WebhookSender(settings, sleep=lambda s: None).post({"event": "edit"})
        assert len(down.posts) == 3
    with Receiver(statuses=[400]) as refuses:
        settings = Settings.defaults(allow_private_addresses=True, webhook_url=refuses.url)
        assert not WebhookSender(settings, sleep=lambda s: None).post({"event": "edit"})
        assert len(refuses.posts) == 1  # a 4xx is the receiver's answer: not retried


def test_the_address_guard_applies(receiver: Receiver) -> None:
    # Loopback, like a cloud metadata service or the Redis next door, is refused by default.
    settings = Settings.defaults(allow_private_addresses=False, webhook_url=receiver.url)
    assert not WebhookSender(settings, sleep=lambda s: None).post({"event": "edit"})
    assert receiver.posts == []
