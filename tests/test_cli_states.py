"""Article states through the real CLI: removed (404/410), moved, restored; the
`articles` listing; `status`, `history` and `show` telling each state (issue 12
item 6, issue 9 item 1)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from editions.cli import EXIT_PARTIAL, cli
from tests.pages import article_html, paragraphs, rss


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def gazette(site, tmp_path: Path) -> dict[str, str]:
    """A feed with one good article and one that answers 404 from the start."""
    ferry, never = site.url("/news/ferry"), site.url("/news/never")
    site.add("/news/ferry", article_html(title="Ferry fares rise", paragraphs=paragraphs("ferry")))
    site.add("/feed.xml", rss([("a", ferry), ("b", never)]), content_type="application/rss+xml")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "gazette"\nurl = "{site.url("/feed.xml")}"\nkind = "feed"\n'
        'every = "10m"\n',
        encoding="utf-8",
    )
    database = f"sqlite:///{tmp_path / 'a.db'}"
    code, _, err = invoke("run", "--once", "-s", str(sources), "-d", database)
    assert code == EXIT_PARTIAL, err  # the 404 from the start is a failure
    return {"database": database, "ferry": ferry, "never": never, "sources": str(sources)}


def history(gazette: dict[str, str], url: str) -> dict:
    code, out, err = invoke("history", url, "--json", "-d", gazette["database"])
    assert code == 0, err
    return json.loads(out)


def test_a_page_that_starts_answering_404_is_removed_then_restored(site, gazette) -> None:
    db, ferry = gazette["database"], gazette["ferry"]
    page = site.pages["/news/ferry"]
    site.add("/news/ferry", b"gone", status=404, content_type="text/plain")
    code, out, err = invoke("revisit", ferry, "-d", db)
    assert code == 0, err  # a removed page is news, not a failed run
    assert f"removed v1: {ferry}" in out
    data = history(gazette, ferry)
    assert (data["state"], data["last_error"]) == ("removed", "HTTP 404 Not Found")
    assert [(e["event"], e["detail"]) for e in data["events"]] == [("removed", "HTTP 404")]
    assert [item["event"] for item in data["timeline"]] == ["version", "removed"]
    removed_at = datetime.fromisoformat(data["events"][0]["at"])
    # Revisits continue, sparsely: a day later, not never and not in minutes.
    next_check = datetime.fromisoformat(data["next_check_at"])
    assert timedelta(hours=23) < next_check - removed_at <= timedelta(days=1, minutes=1)
    # The same removal seen again is not a second event; a 410 is a removal too.
    invoke("revisit", ferry, "-d", db)
    assert len(history(gazette, ferry)["events"]) == 1

    code, out, _ = invoke("history", ferry, "-d", db)
    assert code == 0
    assert "state: removed  last error: HTTP 404 Not Found" in out
    lines = out.splitlines()
    assert "v1" in lines[2] and "removed (HTTP 404)" in lines[3], out
    code, out, _ = invoke("show", ferry, "-d", db)
    assert code == 0 and "state: removed  last error: HTTP 404 Not Found" in out
    code, out, _ = invoke("show", ferry, "--json", "-d", db)
    assert (json.loads(out)["state"], json.loads(out)["version"]) == ("removed", 1)

    site.pages["/news/ferry"] = page  # it comes back
    code, out, _ = invoke("revisit", ferry, "-d", db)
    assert code == 0 and ferry in out
    data = history(gazette, ferry)
    assert [e["event"] for e in data["events"]] == ["removed", "restored"]
    assert (data["state"], data["last_error"]) == ("active", None)
    assert len(data["versions"]) == 1  # the same text came back: no new version


def test_410_marks_removed(site, gazette) -> None:
    site.add("/news/ferry", b"", status=410, content_type="text/plain")
    invoke("revisit", gazette["ferry"], "-d", gazette["database"])
    data = history(gazette, gazette["ferry"])
    assert data["state"] == "removed"
    assert data["events"][0]["detail"] == "HTTP 410"


def test_a_redirect_to_another_article_is_moved(site, gazette) -> None:
    db, ferry = gazette["database"], gazette["ferry"]
    other = site.url("/news/harbour-dredging")
    site.add(
        "/news/harbour-dredging",
        article_html(title="Harbour to be dredged", paragraphs=[
            "Dredging of the inner basin starts in May and lasts eleven weeks, the port said.",
            "Barges will carry the silt to a licensed site beyond the breakwater at night.",
            "Yacht owners must move their boats to the visitor pontoons before the works begin.",
            "A public meeting on noise and lorry traffic is planned at the sailing club.",
        ]),
    )
    site.add("/news/ferry", b"", status=301, headers={"Location": "/news/harbour-dredging"})
    code, out, err = invoke("revisit", ferry, "-d", db)
    assert code == 0, err
    assert f"moved v1: {ferry}" in out
    data = history(gazette, ferry)
    assert data["state"] == "removed"
    assert data["last_error"] == f"moved to {other}"
    assert [(e["event"], e["detail"]) for e in data["events"]] == [("moved", other)]
    assert len(data["versions"]) == 1  # the other page's text is no version of this article
    code, out, _ = invoke("history", ferry, "-d", db)
    assert f"moved to {other}" in out


def test_a_slug_change_after_a_headline_edit_stays_the_same_article(site, gazette) -> None:
    db, ferry = gazette["database"], gazette["ferry"]
    site.add(
        "/news/ferry-fares-soar",
        article_html(title="Ferry fares soar", paragraphs=paragraphs("ferry"),
                     canonical=site.url("/news/ferry-fares-soar")),
    )
    site.add("/news/ferry", b"", status=301, headers={"Location": "/news/ferry-fares-soar"})
    code, out, err = invoke("revisit", ferry, "-d", db)
    assert code == 0, err
    assert f"changed v2: {ferry}" in out
    data = history(gazette, ferry)
    assert (data["state"], data["events"]) == ("active", [])
    assert [v["title"] for v in data["versions"]] == ["Ferry fares rise", "Ferry fares soar"]
    assert site.url("/news/ferry-fares-soar") in data["aliases"]


def test_history_and_show_of_a_url_never_fetched_successfully(gazette) -> None:
    db, never = gazette["database"], gazette["never"]
    code, out, _ = invoke("history", never, "-d", db)
    assert code == 0
    assert "state: pending  last error: HTTP 404 Not Found" in out
    assert "never fetched successfully" in out
    data = history(gazette, never)
    assert (data["state"], data["versions"], data["last_error"]) == (
        "pending", [], "HTTP 404 Not Found"
    )
    code, _, err = invoke("show", never, "-d", db)
    assert code == 1
    assert "not been fetched successfully yet (pending, last error: HTTP 404 Not Found)" in err


def test_status_counts_every_state(site, gazette) -> None:
    db = gazette["database"]
    site.add("/news/ferry", b"gone", status=404, content_type="text/plain")
    invoke("revisit", gazette["ferry"], "-d", db)
    code, out, _ = invoke("status", "-d", db)
    assert code == 0
    assert "articles: 0 archived, 1 pending, 0 failed, 1 removed (2 tracked)" in out
    code, out, _ = invoke("status", "--json", "-d", db)
    data = json.loads(out)
    assert {k: data[k] for k in ("archived", "pending", "failed", "removed", "tracked")} == {
        "archived": 0, "pending": 1, "failed": 0, "removed": 1, "tracked": 2,
    }


def test_articles_lists_state_last_fetch_outcome_and_error(site, gazette) -> None:
    db, ferry, never = gazette["database"], gazette["ferry"], gazette["never"]
    code, out, _ = invoke("articles", "--json", "-d", db)
    assert code == 0
    rows = {r["url"]: r for r in json.loads(out)}
    assert set(rows) == {ferry, never}
    assert (rows[ferry]["state"], rows[ferry]["versions"], rows[ferry]["last_outcome"]) == (
        "active", 1, "ok"
    )
    assert rows[never]["state"] == "pending"
    assert (rows[never]["last_outcome"], rows[never]["last_http_status"]) == ("http_error", 404)
    assert rows[never]["last_error"] == "HTTP 404 Not Found"
    assert rows[never]["last_fetch_at"] is not None

    code, out, _ = invoke("articles", "--state", "pending", "-d", db)
    assert code == 0
    assert out.splitlines() == [line for line in out.splitlines() if never in line]
    assert "pending" in out and "http_error  HTTP 404 Not Found" in out

    code, out, _ = invoke("articles", "--state", "active", "--csv", "--source", "gazette", "-d", db)
    assert code == 0
    rows_csv = list(csv.DictReader(io.StringIO(out)))
    assert [(r["url"], r["state"], r["last_outcome"]) for r in rows_csv] == [(ferry, "active", "ok")]

    code, out, err = invoke("articles", "--state", "removed", "-d", db)
    assert code == 0 and out == "" and "no articles in state removed" in err
    code, out, err = invoke("articles", "--limit", "1", "-d", db)
    assert code == 0 and len(out.splitlines()) == 1 and "--limit N shows more" in err
    code, _, err = invoke("articles", "--source", "nosuch", "-d", db)
    assert code == 1 and "unknown source 'nosuch'" in err
    code, _, err = invoke("articles", "--state", "archived", "-d", db)
    assert code == 2
