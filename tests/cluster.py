"""Real distributed-mode processes for the tests: Celery workers, schedulers, Flower.

A ``Cluster`` starts the commands as subprocesses (each in its own session, so
a signal can reach a worker's whole process group), keeps their output in log
files and shows the logs when a wait gives up. The helpers below build a
local news site with a feed, and read the archive the processes write.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from editions.demo.site import LocalSite, Page
from storage.archive import Archive
from tests.pages import article_html, paragraphs, rss

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOPICS = ["the ferry timetable", "the harbour wall", "the lifeboat station"]


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
        log = open(self.tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()  # the child holds its own copy
        self.procs[name] = proc
        self.stopped.discard(name)
        return proc

    def worker(
        self,
        name: str = "worker",
        *,
        queues: str = "feeds,articles",
        concurrency: int = 2,
        extra: Iterable[str] = (),
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        return self.start(
            name,
            str(BIN / "celery"),
            "-A",
            "worker",
            "worker",
            "--concurrency",
            str(concurrency),
            "-Q",
            queues,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--hostname",
            f"{name}-{uuid.uuid4().hex[:6]}@%h",
            *extra,
            env=env,
        )

    def scheduler(self, sources: Path, name: str = "scheduler") -> subprocess.Popen[bytes]:
        return self.start(name, str(BIN / "editions"), "-v", "--sources", str(sources), "scheduler")

    def assert_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None and name not in self.stopped:
                pytest.fail(f"{name} exited with {proc.returncode}\n{self.logs()}")

    def signal(self, name: str, sig: int, *, group: bool = False) -> None:
        """Send ``sig`` to a process (or to its whole process group: main and pool children)."""
        proc = self.procs[name]
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            self.stopped.add(name)
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)

    def stop(self, name: str, timeout: float = 30) -> int | None:
        proc = self.procs[name]
        self.stopped.add(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Whatever the main process left behind (pool children) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs[name]
            # A stopped (SIGSTOP) process would never see the SIGTERM.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
            self.stop(name)

    def logs(self, lines: int = 40) -> str:
        out = []
        for name in self.procs:
            text = (self.tmp_path / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    def log_of(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")


def wait_for(what: str, check: Callable[[], Any], cluster: Cluster, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the logs otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        cluster.assert_alive()
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}\n{cluster.logs()}")


def base_env(broker_url: str, database_url: str) -> dict[str, str]:
    """What every process of a test shares: the broker, the archive, test politeness."""
    return {
        **os.environ,
        "EDITIONS_BROKER_URL": broker_url,
        "EDITIONS_DATABASE_URL": database_url,
        "EDITIONS_ALLOW_PRIVATE_ADDRESSES": "1",
        "EDITIONS_HOST_DELAY": "0",
        "EDITIONS_MAX_RETRIES": "0",
        "PYTHONUNBUFFERED": "1",
    }


def publish(site: LocalSite, slug: str, title: str, paras: list[str], **kwargs: Any) -> str:
    url = site.url(f"/news/{slug}")
    site.add(f"/news/{slug}", article_html(title=title, paragraphs=paras, canonical=url), **kwargs)
    return url


def newsroom(
    site: LocalSite, tmp_path: Path, topics: list[str] = TOPICS, feed: str = "/feed.xml"
) -> tuple[dict[str, str], Path]:
    """A site with one article per topic and a feed listing them; the sources file naming it."""
    urls = {
        topic: publish(site, f"story-{i}", f"Council decides on {topic}", paragraphs(topic))
        for i, topic in enumerate(topics)
    }
    site.add(feed, rss([(t, u) for t, u in urls.items()]), content_type="application/rss+xml")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "gazette"\nurl = "{site.url(feed)}"\nkind = "feed"\nevery = "1m"\n'
    )
    return urls, sources


def versions_of(archive: Archive, url: str) -> list[Any]:
    article = archive.find_article(url)
    return archive.versions(article.id) if article is not None and article.id else []


class Timeline:
    """When each request for a path began and ended, as the site saw it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans: dict[str, list[list[float]]] = {}

    def begin(self, path: str) -> list[float]:
        span = [time.monotonic(), float("inf")]
        with self._lock:
            self.spans.setdefault(path, []).append(span)
        return span

    def count(self, path: str) -> int:
        with self._lock:
            return len(self.spans.get(path, []))

    def in_flight(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, end in self.spans.get(path, []) if end == float("inf"))

    def overlaps(self) -> dict[str, list[list[float]]]:
        """Paths with two requests served at once."""
        out = {}
        with self._lock:
            for path, spans in self.spans.items():
                ordered = sorted(spans)
                if any(b[0] < a[1] for a, b in itertools.pairwise(ordered)):
                    out[path] = ordered
        return out


def timed_page(
    site: LocalSite,
    path: str,
    body: str | bytes,
    timeline: Timeline,
    *,
    delay: Callable[[int], float] | float = 0.0,
    gate: threading.Event | None = None,
) -> None:
    """Serve ``body`` at ``path``, recording each request's span; optionally slow or gated.

    ``delay`` may depend on the request's number (0 for the first); a ``gate``
    holds every answer until it is set (at most a minute).
    """
    raw = body.encode() if isinstance(body, str) else body

    def answer(handler: Any) -> Page:
        span = timeline.begin(path)
        number = timeline.count(path) - 1
        wait = delay(number) if callable(delay) else delay
        if gate is not None:
            gate.wait(60)
        if wait:
            time.sleep(wait)
        span[1] = time.monotonic()
        return Page(body=raw)

    site.handlers[path] = answer
