"""`editions serve` and `editions demo --serve` as real processes on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from editions.demo.run import run_demo

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_url(stream: IO[str], pattern: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    raise AssertionError("no address printed:\n" + "".join(seen[-30:]))


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_answers_on_the_address_it_prints(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    figures = run_demo(database_url=database, echo=lambda *a, **k: None)
    process = subprocess.Popen(
        [sys.executable, "-m", "editions.cli", "--database", database, "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        assert process.stderr is not None
        url = _wait_for_url(process.stderr, r"serving (http://127\.0\.0\.1:\d+/)")
        status = httpx.get(url + "api/status", timeout=10).json()
        assert status["articles"] == figures["articles"]
        assert httpx.get(url + "changes", timeout=10).status_code == 200
    finally:
        _stop(process)


def test_demo_serve_leaves_the_archive_open() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "editions.cli", "demo", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        assert process.stdout is not None
        url = _wait_for_url(process.stdout, r"open in the web app at (http://127\.0\.0\.1:\d+/)")
        changes = httpx.get(url + "api/changes", timeout=10).json()
        assert len(changes) == 2
        assert "Recent changes" in httpx.get(url + "changes", timeout=10).text
    finally:
        code = _stop(process)
    assert code == 0
