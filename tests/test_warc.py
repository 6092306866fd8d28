"""WARC out and in: editions' WARC passes warcio's own checks and round-trips into a fresh archive."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from editions.api import Editions
from editions.cli import cli
from editions.demo.run import run_demo
from editions.errors import WarcError
from editions.settings import Settings

WARCIO = str(Path(sys.executable).with_name("warcio"))


def _quiet(*args: object, **kwargs: object) -> None:
    pass


def _snapshot(database_url: str) -> dict[str, list[tuple]]:
    """Every article's versions, as the comparison of two archives needs them."""
    with Editions(database_url, settings=Settings.defaults()) as ed:
        return {
            a["canonical_url"]: [
                (v["number"], v["title"], v["byline"], v["text_sha256"], v["fetched_at"])
                for v in a["versions"]
            ]
            for a in ed.export()
            if a["versions"]
        }


def _fresh(database_url: str, tmp_path: Path) -> str:
    """A second, empty archive of the same dialect."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'imported.db'}"
    import uuid

    import sqlalchemy as sa

    base, _, _ = database_url.partition("?")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{schema}"


def test_export_passes_warcio_and_round_trips(database_url: str, tmp_path: Path) -> None:
    figures = run_demo(database_url=database_url, echo=_quiet)
    assert figures["changed"], "the demo must produce edits for this test to mean anything"
    warc = tmp_path / "archive.warc.gz"
    runner = CliRunner()
    result = runner.invoke(cli, ["--database", database_url, "export", "--warc", str(warc)])
    assert result.exit_code == 0, result.output

    check = subprocess.run([WARCIO, "check", "-v", str(warc)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    index = subprocess.run([WARCIO, "index", str(warc)], capture_output=True, text=True)
    assert index.returncode == 0, index.stderr
    entries = [json.loads(line) for line in index.stdout.splitlines()]
    kinds = [e["warc-type"] for e in entries]
    assert kinds[0] == "warcinfo"
    assert kinds.count("response") == kinds.count("request") == kinds.count("metadata") > 0

    cdxj = subprocess.run(
        [str(Path(sys.executable).with_name("cdxj-indexer")), str(warc)],
        capture_output=True,
        text=True,
    )
    assert cdxj.returncode == 0, cdxj.stderr
    indexed = [line for line in cdxj.stdout.splitlines() if '"mime": "text/html"' in line]
    assert len(indexed) == kinds.count("response")

    with open(warc, "rb") as stream:
        records = list(_read_all(stream))
    responses = [r for r in records if r["type"] == "response"]
    assert all(r["warc_version"] == "WARC/1.1" for r in records)
    # Real headers and fetch times: the demo site's Content-Type, an ISO date with fractions.
    assert all("text/html" in (r["content_type"] or "") for r in responses)
    assert all("." in r["date"] for r in responses)
    metadata = [json.loads(r["payload"]) for r in records if r["type"] == "metadata"]
    changed = set(figures["changed"])
    assert {m["article"] for m in metadata if m["version"] == 2} == changed

    imported = _fresh(database_url, tmp_path)
    result = runner.invoke(
        cli, ["--database", imported, "import", "--warc", str(warc), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["changed"] == len(changed)
    assert _snapshot(imported) == _snapshot(database_url)
    with Editions(imported, settings=Settings.defaults()) as ed:
        # The source travels in the metadata records.
        assert {a["source"] for a in ed.export()} <= {"demo-feed", "demo-sitemap", "demo-front"}
        assert {c["url"] for c in ed.changes()} == changed


def _read_all(stream: io.BufferedReader):
    for record in ArchiveIterator(stream):
        yield {
            "type": record.rec_type,
            "warc_version": record.rec_headers.protocol,
            "date": record.rec_headers.get_header("WARC-Date"),
            "content_type": record.http_headers.get_header("Content-Type")
            if record.http_headers
            else None,
            "payload": record.content_stream().read(),
        }


def _page(title: str, text: str) -> bytes:
    paragraphs = "".join(f"<p>{text} Sentence {i} of the story goes on.</p>" for i in range(12))
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{paragraphs}</article></body></html>"
    ).encode()


def _foreign_warc(path: Path) -> None:
    """A crawl written by another tool: gzip-encoded bodies, an image, a 404, out of order."""
    url = "https://news.example/2026/story"
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)

        def response(target: str, when: str, status: str, ctype: str, body: bytes, gz: bool = False) -> None:
            headers = [("Content-Type", ctype)]
            if gz:
                body = gzip.compress(body)
                headers.append(("Content-Encoding", "gzip"))
            headers.append(("Content-Length", str(len(body))))
            record = writer.create_warc_record(
                target,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": when},
            )
            writer.write_record(record)

        # The later capture comes first in the file: import must follow capture time.
        response(url, "2026-03-02T10:00:00Z", "200 OK", "text/html; charset=utf-8",
                 _page("Storm closes harbour", "The harbour stays closed until Friday."), gz=True)
        response(url, "2026-03-01T10:00:00Z", "200 OK", "text/html",
                 _page("Storm closes harbour", "The harbour stays closed until Thursday."))
        response("https://news.example/logo.png", "2026-03-01T10:00:01Z", "200 OK", "image/png",
                 b"\x89PNG\r\n\x1a\n")
        response("https://news.example/gone", "2026-03-01T10:00:02Z", "404 Not Found", "text/html",
                 b"<html>gone</html>")


def test_import_follows_capture_time_and_skips_what_is_not_a_page(tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc.gz"
    _foreign_warc(warc)
    database_url = f"sqlite:///{tmp_path / 'a.db'}"
    with Editions(database_url, settings=Settings.defaults()) as ed:
        report = ed.import_warc([warc], source="crawl")
        assert report["responses"] == 2
        assert report["counts"] == {"new": 1, "changed": 1}
        history = ed.history("https://news.example/2026/story")
        assert [v["version"] for v in history["versions"]] == [1, 2]
        assert history["source"] == "crawl"
        assert history["versions"][0]["fetched_at"].startswith("2026-03-01T10:00:00")
        assert "Thursday" in ed.show("https://news.example/2026/story", 1)["text"]
        assert "Friday" in ed.show("https://news.example/2026/story", 2)["text"]
        diff = ed.diff("https://news.example/2026/story")
        assert "Thursday" in diff["rendered"] and "Friday" in diff["rendered"]
        # Importing the same crawl again changes nothing.
        again = ed.import_warc([warc], source="crawl")
        assert again["counts"] == {"older": 2}
        assert len(ed.history("https://news.example/2026/story")["versions"]) == 2


def test_export_filters_by_source_and_time(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_demo(database_url=database_url, echo=_quiet)
    with Editions(database_url, settings=Settings.defaults()) as ed:
        everything = ed.export_warc(io.BytesIO())["responses"]
        sources = {a["source"] for a in ed.export()}
        per_source = [ed.export_warc(io.BytesIO(), source=s)["responses"] for s in sources]
        nowhere = ed.export_warc(io.BytesIO(), source="no-such-source")["responses"]
        future = ed.export_warc(io.BytesIO(), since=datetime(2100, 1, 1, tzinfo=UTC))
    assert everything > 0 and all(per_source)
    assert sum(per_source) == everything
    assert nowhere == 0
    assert future["responses"] == 0


def test_a_file_that_is_not_warc_is_reported(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.warc"
    bogus.write_bytes(b"this is not a WARC file\r\n\r\n")
    with (
        Editions(f"sqlite:///{tmp_path / 'a.db'}", settings=Settings.defaults()) as ed,
        pytest.raises(WarcError),
    ):
        ed.import_warc([bogus])
    result = CliRunner().invoke(
        cli, ["--database", f"sqlite:///{tmp_path / 'a.db'}", "import", "--warc", str(bogus)]
    )
    assert result.exit_code == 1
    assert "not a valid WARC" in result.output or "cannot read WARC" in result.output


def test_wacz_packages_the_warc_with_index_and_pages(tmp_path: Path) -> None:
    import hashlib
    import zipfile

    database_url = f"sqlite:///{tmp_path / 'demo.db'}"
    figures = run_demo(database_url=database_url, echo=_quiet)
    wacz = tmp_path / "archive.wacz"
    result = CliRunner().invoke(cli, ["--database", database_url, "export", "--wacz", str(wacz)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(wacz) as package:
        names = set(package.namelist())
        assert names == {
            "archive/data.warc.gz",
            "indexes/index.cdxj",
            "pages/pages.jsonl",
            "datapackage.json",
            "datapackage-digest.json",
        }
        assert package.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        meta = json.loads(package.read("datapackage.json"))
        assert meta["wacz_version"] == "1.1.1"
        for resource in meta["resources"]:
            data = package.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
        digest = json.loads(package.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(package.read("datapackage.json")).hexdigest()
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
        assert pages[0]["format"] == "json-pages-1.0"
        assert len(pages) - 1 == figures["versions"]  # one page per capture that made a version
        index = package.read("indexes/index.cdxj").decode().splitlines()
        assert index == sorted(index)
        html = [line for line in index if '"mime": "text/html"' in line]
        assert {json.loads(line.split(" ", 2)[2])["url"] for line in html} >= {
            p["url"] for p in pages[1:]
        }
        (tmp_path / "inner.warc.gz").write_bytes(package.read("archive/data.warc.gz"))
    check = subprocess.run([WARCIO, "check", str(tmp_path / "inner.warc.gz")], capture_output=True)
    assert check.returncode == 0
