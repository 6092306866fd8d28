"""Each change classified: cosmetic, metadata or substantive, notes, stealth edits,
reverts and the extraction-failure guard, on real article text from the corpus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from worker.classify import (
    ChangeClass,
    Snapshot,
    classify_change,
    extraction_suspect,
    find_note,
    find_revert,
    split_sentences,
)
from worker.version import fingerprint

PUBLISHED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEXT = (
    "The Harwick city council voted 7-2 on Tuesday to approve a budget of $48.5 million. "
    "The vote came after a four-hour debate.\n\n"
    "The plan includes money for road repairs and two new parks. "
    "Mayor Ana Ruiz said the budget was fair to every neighbourhood.\n\n"
    "Opponents said the property tax rise, 3.1 percent, was too steep for retirees. "
    "A second vote is planned for May."
)
BASE = Snapshot(
    title="Council approves budget",
    byline="Maren Holt",
    text=TEXT,
    published=PUBLISHED,
    modified=PUBLISHED,
    canonical_url="https://news.example/budget",
)


def _with(**changes: object) -> Snapshot:
    fields = {**BASE.__dict__, **changes}
    return Snapshot(**fields)  # type: ignore[arg-type]


def test_first_version() -> None:
    record = classify_change(None, BASE)
    assert record.kind == "first"
    assert record.describe() == "first version"


def test_one_sentence_edited_is_substantive_and_stealth() -> None:
    new = _with(text=TEXT.replace("two new parks", "three new parks"))
    record = classify_change(BASE, new)
    assert record.kind == "substantive"
    assert [c.kind for c in record.sentences] == ["edited"]
    assert "three new parks" in (record.sentences[0].new or "")
    # No dateModified bump, no note: a stealth edit.
    assert record.stealth
    assert record.describe() == "substantive: 1 sentence edited; stealth edit"


def test_a_modified_bump_is_not_stealth() -> None:
    new = _with(
        text=TEXT.replace("two new parks", "three new parks"),
        modified=PUBLISHED + timedelta(hours=2),
    )
    record = classify_change(BASE, new)
    assert record.kind == "substantive"
    assert record.modified_bumped and not record.stealth
    assert record.metadata == ("modified",)


def test_paragraph_removed() -> None:
    paragraphs = TEXT.split("\n\n")
    new = _with(text="\n\n".join(paragraphs[:1] + paragraphs[2:]))
    record = classify_change(BASE, new)
    assert record.kind == "substantive"
    assert record.count("deleted") == 2 and record.count("added") == 0


def test_sentence_added_and_moved() -> None:
    paragraphs = TEXT.split("\n\n")
    moved = "\n\n".join([paragraphs[2], paragraphs[0], paragraphs[1]])
    record = classify_change(BASE, _with(text=moved + " Police closed the road."))
    assert record.count("moved") >= 1
    assert record.count("added") == 1
    assert any(c.new == "Police closed the road." for c in record.sentences)


@pytest.mark.parametrize(
    ("language", "note"),
    [
        ("en", "Correction: An earlier version of this article misstated the vote."),
        ("fr", "Rectificatif : une précédente version de cet article indiquait 6 voix."),
        ("de", "Korrektur: In einer früheren Version dieses Artikels hieß es 6 Stimmen."),
        ("es", "Fe de erratas: una versión anterior de este artículo decía seis votos."),
    ],
)
def test_correction_notes_in_four_languages(language: str, note: str) -> None:
    new = _with(text=TEXT.replace("7-2", "7-3") + "\n\n" + note)
    record = classify_change(BASE, new)
    assert record.note is not None
    assert (record.note.kind, record.note.language) == ("correction", language)
    assert not record.stealth
    assert f"correction note ({language})" in record.describe()


@pytest.mark.parametrize(
    ("language", "note"),
    [
        ("en", "Updated at 14:05 with the mayor's comments."),
        ("fr", "Article mis à jour à 14 h 05 avec les propos du maire."),
        ("de", "Aktualisiert um 14.05 Uhr mit den Aussagen der Bürgermeisterin."),
        ("es", "Noticia actualizada a las 14.05 con las declaraciones de la alcaldesa."),
    ],
)
def test_update_markers_in_four_languages(language: str, note: str) -> None:
    new = _with(text=TEXT + "\n\n" + note)
    record = classify_change(BASE, new)
    assert record.note is not None
    assert (record.note.kind, record.note.language) == ("update", language)
    assert not record.stealth


def test_plain_text_has_no_note() -> None:
    assert find_note(split_sentences(TEXT)) is None
    # "updated" as an ordinary word is no marker.
    assert find_note(["The council updated its guidance last year and corrected course."]) is None


def test_headline_change_is_metadata() -> None:
    record = classify_change(BASE, _with(title="Council approves $48.5m budget"))
    assert record.kind == "metadata"
    assert record.metadata == ("title",)
    assert not record.stealth
    assert record.describe() == "metadata: title"


def test_byline_dates_and_canonical_are_metadata() -> None:
    record = classify_change(
        BASE,
        _with(
            byline="Maren Holt and Tobias Kerr",
            published=PUBLISHED + timedelta(minutes=5),
            canonical_url="https://news.example/2026/budget",
        ),
    )
    assert record.kind == "metadata"
    assert record.metadata == ("byline", "published", "canonical_url")


def test_case_and_punctuation_only_is_cosmetic() -> None:
    new = _with(
        text=TEXT.replace("Mayor Ana Ruiz", "mayor Ana Ruiz").replace("3.1 percent,", "3.1 percent")
    )
    record = classify_change(BASE, new)
    assert record.kind == "cosmetic"
    assert record.hidden and not record.stealth
    # A modified bump alone is cosmetic too: nothing a reader sees changed.
    assert classify_change(BASE, _with(modified=PUBLISHED + timedelta(hours=1))).kind == "cosmetic"


def test_headline_moving_into_the_body_is_not_an_edit() -> None:
    record = classify_change(BASE, _with(text=BASE.title + "\n\n" + TEXT))
    assert record.kind == "cosmetic"
    assert record.sentences == ()


def test_revert_names_the_version_returned_to() -> None:
    a = fingerprint(BASE.title, BASE.byline, TEXT)
    b_title = "Council narrowly approves budget"
    b = fingerprint(b_title, BASE.byline, TEXT)
    history = [(1, a), (2, b)]
    # A -> B -> A: the A/B headline test flips back to the first headline.
    assert find_revert(a, history[:1]) == 1
    record = classify_change(_with(title=b_title), BASE, fingerprint=a, history=history[:1])
    assert record.revert_of == 1
    assert "revert to v1" in record.describe()
    assert find_revert(fingerprint("Other", None, TEXT), history) is None
    assert find_revert(a, [(1, a), (3, a)]) == 3


def test_extraction_guard() -> None:
    assert extraction_suspect(TEXT, TEXT.replace("two", "three")) is None
    half = " ".join(TEXT.split()[: len(TEXT.split()) // 3])
    assert "shrank" in (extraction_suspect(TEXT, half) or "")
    unrelated = " ".join(["Subscribe to our newsletter and follow us on social media."] * 8)
    assert "shares only" in (extraction_suspect(TEXT, unrelated) or "")
    # Short bodies are not judged.
    assert extraction_suspect("A short stub.", "Another") is None
    record = classify_change(BASE, _with(text=half))
    assert record.suspect is not None and "suspect" in record.describe()


def test_record_as_dict() -> None:
    record = classify_change(BASE, _with(text=TEXT + " New sentence here."))
    data = record.as_dict()
    assert data["kind"] == "substantive" and data["added"] == 1 and data["stealth"] is True
    assert isinstance(record, ChangeClass)


def test_real_edit_kinds_on_corpus_articles(corpus: Path) -> None:
    """Headline, correction, one sentence, byline and paragraph removed, on real texts."""
    checked = 0
    for truth in sorted((corpus / "articles").glob("*/ground_truth.json")):
        data = json.loads(truth.read_text(encoding="utf-8"))
        text, title = data.get("text") or "", data.get("title") or "Untitled"
        paragraphs = [p for p in text.split("\n\n") if len(p.split()) > 12]
        if len(paragraphs) < 4 or data.get("lang") not in ("en", None):
            continue
        old = Snapshot(title=title, byline=data.get("byline"), text=text)
        words = paragraphs[1].split(" ")
        edited_paragraph = " ".join([*words[:5], "reportedly", *words[5:]])
        edits = {
            "headline": (
                Snapshot(title=title + " (updated)", byline=old.byline, text=text),
                "metadata",
            ),
            "byline": (Snapshot(title=title, byline="Someone Else", text=text), "metadata"),
            "one sentence": (
                Snapshot(
                    title=title,
                    byline=old.byline,
                    text=text.replace(paragraphs[1], edited_paragraph, 1),
                ),
                "substantive",
            ),
            "paragraph removed": (
                Snapshot(title=title, byline=old.byline, text=text.replace(paragraphs[2], "", 1)),
                "substantive",
            ),
            "correction": (
                Snapshot(
                    title=title,
                    byline=old.byline,
                    text=text
                    + "\n\nCorrection: An earlier version of this article misspelled a name.",
                ),
                "substantive",
            ),
        }
        for name, (new, kind) in edits.items():
            record = classify_change(old, new)
            assert record.kind == kind, (truth.parent.name, name, record.describe())
            assert record.suspect is None, (truth.parent.name, name, record.suspect)
        assert classify_change(old, edits["correction"][0]).note is not None
        assert classify_change(old, edits["one sentence"][0]).stealth
        checked += 1
        if checked == 15:
            break
    assert checked >= 10
