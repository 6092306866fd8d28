"""The CLI's machine-readable output and its errors, over a real archive."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from editions.api import Editions
from editions.cli import cli
from editions.settings import Settings
from schedules.sources import Source
from tests.pages import article_html, paragraphs, rss

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def archive(site, tmp_path: Path) -> dict[str, str]:
    """A SQLite archive holding two articles, one of them edited once."""
    url_a = site.url("/news/ferry")
    url_b = site.url("/news/wall")
    site.add(
        "/news/ferry",
        article_html(
            title="Ferry fares rise", paragraphs=paragraphs("ferry fares"), canonical=url_a
        ),
    )
    site.add(
        "/news/wall",
        article_html(
            title="Harbour wall repaired", paragraphs=paragraphs("the wall"), canonical=url_b
        ),
    )
    site.add(
        "/feed.xml",
        rss([("a", url_a + "?utm_source=x"), ("b", url_b)]),
        content_type="application/rss+xml",
    )
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    settings = Settings(allow_private_addresses=True, host_delay=0.0)
    source = Source(
        name="gazette", url=site.url("/feed.xml"), kind="feed", every=timedelta(minutes=10)
    )
    with Editions(database, settings=settings) as ed:
        ed.run_once(sources=[source])
        edited = [*paragraphs("ferry fares"), "Correction: the fares rise in May, not June."]
        site.add(
            "/news/ferry",
            article_html(title="Ferry fares rise in May", paragraphs=edited, canonical=url_a),
        )
        ed.revisit([url_a])
    return {"database": database, "a": url_a, "b": url_b}


def invoke(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_search_json(archive):
    code, out, _ = invoke("--database", archive["database"], "search", "ferry", "--json")
    assert code == 0
    hits = json.loads(out)
    assert hits[0]["url"] == archive["a"]
    assert set(hits[0]) >= {"url", "title", "snippet", "score", "published", "source", "versions"}
    assert hits[0]["versions"] == 2
    assert hits[0]["source"] == "gazette"


def test_search_csv(archive):
    code, out, _ = invoke("--database", archive["database"], "search", "harbour", "--csv")
    assert code == 0
    assert out.splitlines()[0].startswith("url,title,snippet")


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "AND",
        "(",
        ")",
        "-",
        "*",
        "NOT",
        "title:ferry",
        'fer"ry',
        "ferry AND",
        "a" * 5000,
        "🙂",
    ],
)
def test_hostile_queries_never_traceback(archive, query):
    code, out, err = invoke("--database", archive["database"], "search", query, "--json")
    # Either results (possibly none) or a clear message with exit code 2.
    if code == 0:
        assert isinstance(json.loads(out), list)
    else:
        assert code == 2
        assert "bad search query" in err


def test_show_history_diff_json(archive):
    db = archive["database"]
    code, out, _ = invoke("--database", db, "show", archive["a"] + "?fbclid=1#x", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["canonical_url"] == archive["a"] and shown["version"] == 2
    assert set(shown) >= {
        "url",
        "canonical_url",
        "version",
        "fetched_at",
        "title",
        "byline",
        "published",
        "text",
    }
    code, out, _ = invoke("--database", db, "show", archive["a"], "--version", "1", "--json")
    assert json.loads(out)["title"] == "Ferry fares rise"

    code, out, _ = invoke("--database", db, "history", archive["a"], "--json")
    history = json.loads(out)
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert set(history["versions"][0]) >= {
        "version",
        "fetched_at",
        "title",
        "text_sha256",
        "change",
    }
    assert archive["a"] + "?utm_source=x" not in history["aliases"]  # tracking params never stored

    code, out, _ = invoke("--database", db, "diff", archive["a"], "--json")
    assert code == 0 and json.loads(out)["words_added"] >= 8
    code, out, _ = invoke("--database", db, "diff", archive["a"])
    assert "\x1b[" not in out  # plain when piped
    assert "{+Correction:" in out or "Correction:" in out


def test_status_and_export(archive):
    code, out, _ = invoke("--database", archive["database"], "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["articles"] == 2 and status["versions"] == 3
    assert status["fetches_by_outcome"]["ok"] >= 3
    assert {"sources", "due"} <= set(status)
    code, out, _ = invoke("--database", archive["database"], "export", "--jsonl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2


def test_unknown_url_is_a_clear_error(archive):
    code, _, err = invoke("--database", archive["database"], "show", "http://127.0.0.1:1/nothing")
    assert code == 1 and "no archived article" in err
    code, _, err = invoke("--database", archive["database"], "show", archive["a"], "--version", "9")
    assert code == 1 and "versions 1..2" in err


def test_extract_json(corpus):
    pages = sorted((corpus / "articles").glob("*/source.html"))[:3]
    code, out, _ = invoke("extract", *map(str, pages), "--url", "https://example.com/a", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert set(row) >= {
            "path",
            "url",
            "canonical_url",
            "title",
            "byline",
            "published",
            "modified",
            "language",
            "text",
        }
        assert row["text"]


def test_bad_sources_file_names_file_line_and_field(tmp_path):
    bad = tmp_path / "sources.toml"
    bad.write_text(
        '[[source]]\nname = "x"\nurl = "https://example.com/feed"\nkind = "feed"\nevery = "often"\n'
    )
    code, _, err = invoke("--sources", str(bad), "sources")
    assert code == 2
    assert "sources.toml" in err and ":5" in err and "every" in err


def test_unreachable_source_is_a_connection_error_not_robots(tmp_path):
    # issue 12 item 3: nothing listens on the port, robots on (the default).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "dead"\nurl = "http://127.0.0.1:{port}/feed.xml"\n'
        'kind = "feed"\nevery = "10m"\n'
    )
    database = f"sqlite:///{tmp_path / 'dead.db'}"
    runner = CliRunner(env={"EDITIONS_ALLOW_PRIVATE_ADDRESSES": "1", "EDITIONS_MAX_RETRIES": "0"})
    result = runner.invoke(
        cli,
        ["--database", database, "--sources", str(sources), "run", "--once", "--json"],
        catch_exceptions=False,
    )
    report = json.loads(result.stdout)
    [poll] = report["sources"]
    assert poll["outcome"] == "connection_error", poll
    assert "host unreachable" in poll["error"] and "disallows" not in poll["error"]


def test_bad_sources_file_reports_every_problem_at_once(tmp_path):
    bad = tmp_path / "sources.toml"
    bad.write_text(
        '[[source]]\nname = "x"\nurl = "ftp://example.com/feed"\nkind = "rss"\nevery = "5s"\n'
    )
    code, out, err = invoke("--sources", str(bad), "sources")
    assert code == 2 and out == ""
    assert "3 problems" in err
    for line, field in ((3, "url"), (4, "kind"), (5, "every")):
        assert f"{bad}:{line}: source 'x': field {field!r}" in err
    assert "30s" not in err and "Traceback" not in err


SOURCES_FILE = """\
# Our newsroom's sources.

# The gazette, polled often
[[source]]
name = "gazette"   # the local paper
url = "https://gazette.example/feed.xml"
kind = "feed"
every = "10m"
"""


def test_sources_list_says_when_there_are_none(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing yet\n")
    code, out, err = invoke("--sources", str(empty), "sources")
    assert code == 0 and out == ""
    assert "no sources" in err and str(empty) in err
    code, out, _ = invoke("--sources", str(empty), "sources", "--json")
    assert code == 0 and json.loads(out) == []


def test_sources_add_and_remove(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES_FILE)
    code, out, err = invoke(
        "--sources", str(path), "sources", "add", "tide", "https://tide.example/rss",
        "--kind", "feed", "--every", "15m", "--allow", r"/news/\d+",
    )  # fmt: skip
    assert code == 0, err
    assert "tide" in out and str(path) in out
    text = path.read_text()
    assert text.startswith(SOURCES_FILE)  # comments and formatting kept
    code, out, _ = invoke("--sources", str(path), "sources", "--json")
    listed = json.loads(out)
    assert [s["name"] for s in listed] == ["gazette", "tide"]
    assert listed[1] == {
        "name": "tide",
        "url": "https://tide.example/rss",
        "kind": "feed",
        "every": 900,
        "allow": r"/news/\d+",
        "deny": None,
        "ignore": [],
    }
    code, out, err = invoke("--sources", str(path), "sources", "remove", "tide")
    assert code == 0, err
    assert "tide" in out
    assert path.read_text() == SOURCES_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]  # no temp files


def test_sources_add_creates_a_missing_file(tmp_path):
    path = tmp_path / "new.toml"
    code, _, err = invoke("--sources", str(path), "sources", "add", "a", "https://a.example/")
    assert code == 0, err
    code, out, _ = invoke("--sources", str(path), "sources", "--json")
    assert json.loads(out)[0]["every"] == 600 and json.loads(out)[0]["kind"] == "feed"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["add", "gazette", "https://other.example/"], "already exists"),
        (["add", "b", "ftp://b.example/"], "field 'url'"),
        (["add", "b", "https://b.example/", "--every", "30s"], "field 'every'"),
        (["add", "b", "https://b.example/", "--every", "often"], "field 'every'"),
        (["add", "b", "https://b.example/", "--kind", "rss"], "field 'kind'"),
        (["add", "b", "https://b.example/", "--allow", "("], "field 'allow'"),
        (["remove", "nosuch"], "no source named 'nosuch'"),
    ],
)
def test_sources_edits_refused_clearly(tmp_path, args, words):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES_FILE)
    code, out, err = invoke("--sources", str(path), "sources", *args)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err
    assert path.read_text() == SOURCES_FILE  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]


def test_sources_commands_through_a_real_process(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES_FILE)
    command = [sys.executable, "-m", "editions.cli", "--sources", str(path), "sources"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    added = subprocess.run(
        [*command, "add", "tide", "https://tide.example/rss", "--every", "1h"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    again = subprocess.run(
        [*command, "add", "tide", "https://tide.example/rss"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert again.returncode == 2 and "already exists" in again.stderr
    listed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0 and "tide" in listed.stdout and "every 1:00:00" in listed.stdout
