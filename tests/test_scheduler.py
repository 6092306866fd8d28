"""The embedded scheduler: `editions run` polls on schedule and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from editions.api import Editions
from schedules.scheduler import Scheduler
from schedules.sources import Source
from tests.pages import article_html, paragraphs, rss


def test_scheduler_calls_each_source_and_revisit():
    polled: list[str] = []
    revisits: list[datetime] = []
    sources = [
        Source(name="a", url="http://127.0.0.1:1/a", kind="feed", every=timedelta(minutes=1)),
        Source(name="b", url="http://127.0.0.1:1/b", kind="feed", every=timedelta(minutes=1)),
    ]
    later = datetime.now(UTC) + timedelta(hours=1)
    scheduler = Scheduler(
        sources,
        poll=lambda s: polled.append(s.name),
        revisit=lambda: revisits.append(datetime.now(UTC)),
        # Source b was polled recently: its first run waits for its next due time.
        first_poll_at=lambda s: later if s.name == "b" else None,
    )
    jobs = dict(scheduler.jobs())
    assert jobs["poll:b"] == later
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while (not polled or not revisits) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert polled == ["a"]
    assert len(revisits) == 1


def test_editions_run_until_sigterm(site, tmp_path: Path):
    url = site.url("/news/one")
    site.add(
        "/news/one",
        article_html(title="Tide tables", paragraphs=paragraphs("tides"), canonical=url),
    )
    site.add("/feed.xml", rss([("Tide tables", url)]), content_type="application/rss+xml")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "gazette"\nurl = "{site.url("/feed.xml")}"\nkind = "feed"\nevery = "1m"\n'
    )
    database = f"sqlite:///{tmp_path / 'run.db'}"
    env = {**os.environ, "EDITIONS_ALLOW_PRIVATE_ADDRESSES": "1", "EDITIONS_HOST_DELAY": "0"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "editions.cli",
            "--database",
            database,
            "--sources",
            str(sources),
            "-v",
            "run",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not site.requests_for("/news/one"):
            time.sleep(0.2)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "scheduler stopped" in err
    with Editions(database) as ed:
        assert ed.show(url)["title"] == "Tide tables"
        status = ed.status()
        assert status["sources"][0]["name"] == "gazette"
        assert json.dumps(status)
