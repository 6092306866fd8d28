"""Operating editions through the real CLI: errors in one line, exit codes, options
anywhere, logs that tell the truth (issue 12)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from editions.cli import EXIT_PARTIAL, EXIT_UNAVAILABLE, EXIT_USAGE, cli
from tests.pages import article_html, paragraphs, rss

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)
    return result.exit_code, result.stdout, result.stderr


def editions(*args: str, timeout: float = 60, **kwargs: object) -> subprocess.CompletedProcess:
    """The installed command in a child process, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kwargs.pop("env", {})}  # type: ignore[dict-item]
    return subprocess.run(
        [sys.executable, "-m", "editions.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=kwargs.pop("cwd", ROOT),
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sources_file(tmp_path: Path, *entries: tuple[str, str]) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        "".join(
            f'[[source]]\nname = "{name}"\nurl = "{url}"\nkind = "feed"\nevery = "10m"\n\n'
            for name, url in entries
        ),
        encoding="utf-8",
    )
    return path


# --- a bad or unreachable database -------------------------------------------------


def bad_databases(tmp_path: Path) -> list[tuple[str, int, tuple[str, ...]]]:
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("these are my notes, not a database\n")
    return [
        # A command that writes says why it cannot create the file; one that reads, that
        # there is no archive there.
        ("sqlite:////nonexistent/dir/x.db", EXIT_UNAVAILABLE, ("folder must exist", "no archive at")),
        (f"sqlite:///{not_a_db}", EXIT_UNAVAILABLE, ("not an SQLite database",)),
        ("mysql://user@127.0.0.1/db", EXIT_USAGE, ("unsupported database 'mysql'",)),
        ("garbage", EXIT_USAGE, ("not a database URL",)),
        (f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{free_port()}/x", EXIT_UNAVAILABLE,
         ("is the server running",)),
    ]


@pytest.mark.parametrize("command", [["status"], ["run", "--once"], ["search", "ferry"],
                                     ["history", "https://example.org/a"], ["export"], ["db", "upgrade"]])
def test_a_bad_database_is_one_clear_line(tmp_path: Path, command: list[str]) -> None:
    empty = sources_file(tmp_path)
    for url, code, hint in bad_databases(tmp_path):
        done = editions(*command, "--database", url, "--sources", str(empty))
        assert done.returncode == code, (url, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, (url, done.stderr)
        assert any(h in lines[0] for h in hint), lines[0]
        assert "s3cret" not in done.stderr  # the password never shows


def test_a_missing_postgres_database_names_what_to_do(postgres_server_url: str) -> None:
    url = postgres_server_url.rsplit("/", 1)[0] + "/editions_no_such_db"
    done = editions("status", "--database", url)
    assert done.returncode == EXIT_UNAVAILABLE
    assert "createdb editions_no_such_db" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["search", "ferry"], ["status"], ["show", "https://e.org/a"],
                                     ["history", "https://e.org/a"], ["export"]])
def test_read_only_commands_never_create_an_archive(tmp_path: Path, command: list[str]) -> None:
    code, _, err = invoke(*command, "--database", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == EXIT_UNAVAILABLE
    assert "no archive at" in err
    assert not (tmp_path / "none.db").exists()
    assert list(tmp_path.iterdir()) == []


# --- global options anywhere ----------------------------------------------------------


@pytest.fixture
def gazette(site, tmp_path: Path) -> dict[str, str]:
    url = site.url("/news/ferry")
    site.add("/news/ferry", article_html(title="Ferry fares rise", paragraphs=paragraphs("ferry")))
    site.add("/feed.xml", rss([("a", url)]), content_type="application/rss+xml")
    path = sources_file(tmp_path, ("gazette", site.url("/feed.xml")))
    return {"sources": str(path), "database": f"sqlite:///{tmp_path / 'a.db'}", "url": url}


def test_global_options_go_before_or_after_the_subcommand(gazette: dict[str, str]) -> None:
    code, out, _ = invoke("run", "--once", "--sources", gazette["sources"],
                          "--database", gazette["database"])
    assert code == 0, out
    assert "1 new" in out
    code, out, _ = invoke("search", "ferry", "--database", gazette["database"], "--json")
    assert code == 0 and json.loads(out)[0]["url"] == gazette["url"]
    code, out, _ = invoke("--database", gazette["database"], "status", "-v")
    assert code == 0 and "articles" in out
    code, out, _ = invoke("status", "--log-level", "debug", "-d", gazette["database"], "--json")
    assert code == 0 and json.loads(out)["articles"] >= 1


def test_demo_honours_database(tmp_path: Path) -> None:
    archive = tmp_path / "demo.db"
    done = editions("demo", "--database", f"sqlite:///{archive}", timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert archive.exists() and archive.stat().st_size > 0
    code, out, _ = invoke("status", "--json", "--database", f"sqlite:///{archive}")
    assert code == 0 and json.loads(out)["versions"] >= 12


# --- outcomes and exit codes -------------------------------------------------------------


def test_failures_exit_3_and_are_reported_once_on_stderr(site, tmp_path: Path) -> None:
    good = site.url("/news/ferry")
    gone = site.url("/news/gone")
    site.add("/news/ferry", article_html(title="Ferry fares rise", paragraphs=paragraphs("ferry")))
    site.add("/feed.xml", rss([("a", good), ("b", gone)]), content_type="application/rss+xml")
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"
    path = sources_file(tmp_path, ("gazette", site.url("/feed.xml")), ("dead", dead))
    done = editions("run", "--once", "--sources", str(path),
                    "--database", f"sqlite:///{tmp_path / 'a.db'}",
                    env={"EDITIONS_ALLOW_PRIVATE_ADDRESSES": "1", "EDITIONS_HOST_DELAY": "0",
                         "EDITIONS_MAX_RETRIES": "0"})
    assert done.returncode == EXIT_PARTIAL, done.stderr
    assert "Traceback" not in done.stderr
    # The dead source: once, on stderr, and not as a robots verdict.
    def lines_naming(url: str) -> int:
        return sum(1 for line in done.stderr.splitlines() if url in line)

    assert lines_naming(dead) == 1, done.stderr
    assert dead not in done.stdout
    assert "connection_error" in done.stderr and "robots.txt disallows" not in done.stderr
    # The 404 article: once, on stderr.
    assert lines_naming(gone) == 1, done.stderr
    assert gone not in done.stdout
    assert "gazette: ok" in done.stdout and "1 new" in done.stdout and "1 failed" in done.stdout


def test_all_fine_exits_0(gazette: dict[str, str]) -> None:
    code, _, err = invoke("run", "--once", "-s", gazette["sources"], "-d", gazette["database"])
    assert code == 0, err
    assert err == ""


def test_bad_sources_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "x"\nurl = "https://e.org/f"\nkind = "fed"\nevery = "1m"\n')
    code, _, err = invoke("run", "--once", "-s", str(path), "-d", f"sqlite:///{tmp_path / 'a.db'}")
    assert code == EXIT_USAGE
    assert "kind" in err and str(path) in err


# --- logs -------------------------------------------------------------------------------


def test_per_article_lines_at_v_and_json_log_lines(gazette: dict[str, str]) -> None:
    code, _, err = invoke("run", "--once", "-v", "-s", gazette["sources"], "-d", gazette["database"])
    assert code == 0
    assert f"new v1 {gazette['url']}" in err
    assert "alembic" not in err  # library internals only at -vv
    code, _, err = invoke("revisit", "--all", "--log-format", "json", "-v",
                          "-d", gazette["database"])
    assert code == 0
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records, err
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(gazette["url"] in r["message"] and r["level"] == "info" for r in records)


def test_the_long_running_mode_tells_its_lifecycle(gazette: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDITIONS_ALLOW_PRIVATE_ADDRESSES": "1",
           "EDITIONS_HOST_DELAY": "0"}
    log_file = tmp_path / "run.log"
    with log_file.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "editions.cli", "run", "-s", gazette["sources"],
             "-d", gazette["database"]],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while "polled gazette" not in log_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    text = log_file.read_text()
    assert "started: 1 sources" in text
    assert "polled gazette: ok, 1 links, 1 new" in text
    assert "stopped:" in text and "1 polls" in text
    assert "apscheduler" not in text  # library internals only at -vv
    assert process.returncode == 0


def test_scheduler_without_a_broker_url_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "EDITIONS_BROKER_URL"}
    path = sources_file(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "editions.cli", "scheduler", "-s", str(path),
         "-d", f"sqlite:///{tmp_path / 'a.db'}"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == EXIT_USAGE
    assert "EDITIONS_BROKER_URL is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_scheduler_waits_for_an_unreachable_broker(tmp_path: Path) -> None:
    path = sources_file(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "EDITIONS_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    log_file = tmp_path / "scheduler.log"
    with log_file.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "editions.cli", "scheduler", "-s", str(path),
             "-d", f"sqlite:///{tmp_path / 'a.db'}"],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while "waiting for the broker" not in log_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # long enough for a second attempt, which must not log again
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = log_file.read_text()
    assert text.count("waiting for the broker") == 1, text
    assert "leader" not in text and "connected" not in text


# --- papercuts -----------------------------------------------------------------------------


def test_papercuts(gazette: dict[str, str]) -> None:
    db = gazette["database"]
    code, _, err = invoke("run", "--json", "-s", gazette["sources"], "-d", db)
    assert code == EXIT_USAGE and "--json needs --once" in err
    assert invoke("run", "--once", "-s", gazette["sources"], "-d", db)[0] == 0
    code, out, _ = invoke("export", "-d", db)
    assert code == 0 and json.loads(out.splitlines()[0])["canonical_url"] == gazette["url"]
    code, _, err = invoke("diff", gazette["url"], "-d", db)
    assert code == 1 and "only one version" in err
    code, _, err = invoke("diff", gazette["url"], "--from", "0", "-d", db)
    assert code == EXIT_USAGE and "--from" in err
    code, _, err = invoke("search", "ferry", "--source", "nosuch", "-d", db)
    assert code == 1 and "unknown source 'nosuch'" in err and "gazette" in err
    code, out, _ = invoke("search", "--", "-ferry", "-d", db)
    assert code in (0, 2)  # a query may start with a dash after --
    help_text = invoke("search", "--help")[1]
    assert "--json" in help_text and "Print JSON" in help_text and "after `--`" in help_text
