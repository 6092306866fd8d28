"""Versioning logic: whitespace never makes a version, real edits always do."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from worker.version import (
    ChangeSummary,
    fingerprint,
    normalize_text,
    render_diff,
    render_field_change,
    summarize_change,
    text_sha256,
    word_diff,
)

TITLE = "Council approves 2027 budget after late-night vote"
BYLINE = "Maren Holt and Tobias Kerr"
TEXT = (
    "The Harwick city council voted 7-2 on Tuesday to approve a budget of $48.5 million.\n\n"
    "The plan includes money for road repairs, two new parks and longer library hours. "
    "Mayor Ana Ruiz said the budget was fair to every neighbourhood.\n\n"
    "Opponents said the property tax rise, 3.1 percent, was too steep for retirees."
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

WHITESPACE_EDITS = {
    "doubled spaces": TEXT.replace(" ", "  "),
    "tabs": TEXT.replace(" the ", "\tthe\t"),
    "non-breaking spaces": TEXT.replace("7-2 on", "7-2\u00a0on").replace("$48.5 ", "$48.5\u202f"),
    "extra blank lines": TEXT.replace("\n\n", "\n\n\n\n  \n"),
    "single line breaks": TEXT.replace("\n\n", "\n"),
    "CRLF": TEXT.replace("\n", "\r\n"),
    "trailing spaces": TEXT.replace("\n", "   \n") + "  \n",
    "leading indentation": "\n".join("        " + line for line in TEXT.split("\n")),
    "zero-width characters": TEXT.replace("budget", "bud\u200bget").replace("Mayor", "\ufeffMayor"),
}

REAL_EDITS = {
    "a word": TEXT.replace("two new parks", "three new parks"),
    "a digit": TEXT.replace("7-2", "7-1"),
    "a comma": TEXT.replace("road repairs, two", "road repairs two"),
    "a full stop": TEXT.replace("retirees.", "retirees"),
    "a new paragraph": TEXT + "\n\nCorrection: An earlier version misstated the vote.",
    "merged paragraphs": TEXT.replace(".\n\nThe plan", ". The plan"),
    "case": TEXT.replace("Mayor", "mayor"),
}


@pytest.mark.parametrize("name", sorted(WHITESPACE_EDITS))
def test_whitespace_only_edits_keep_the_fingerprint(name: str) -> None:
    edited = WHITESPACE_EDITS[name]
    assert edited != TEXT
    assert normalize_text(edited) == normalize_text(TEXT)
    assert text_sha256(edited) == text_sha256(TEXT)
    assert fingerprint(TITLE, BYLINE, edited) == fingerprint(TITLE, BYLINE, TEXT)


@pytest.mark.parametrize("name", sorted(REAL_EDITS))
def test_real_edits_change_the_fingerprint(name: str) -> None:
    edited = REAL_EDITS[name]
    assert text_sha256(edited) != text_sha256(TEXT)
    assert fingerprint(TITLE, BYLINE, edited) != fingerprint(TITLE, BYLINE, TEXT)


def test_decomposed_characters_are_composed() -> None:
    assert normalize_text("Rui\u0301z") == "Ruíz"
    composed = TEXT.replace("Ruiz", "Ruíz")
    decomposed = TEXT.replace("Ruiz", "Rui\u0301z")
    assert fingerprint(TITLE, BYLINE, composed) == fingerprint(TITLE, BYLINE, decomposed)
    assert normalize_text("  a\u00a0 b\t c \r\n\r\n\r\n d\u200be  \n") == "a b c\n\nde"


def test_empty_and_none_normalise_to_empty() -> None:
    assert normalize_text(None) == ""
    assert normalize_text(" \n\t\u00a0 \r\n") == ""


def test_title_and_byline_are_part_of_the_fingerprint() -> None:
    base = fingerprint(TITLE, BYLINE, TEXT)
    assert fingerprint(TITLE + "!", BYLINE, TEXT) != base
    assert fingerprint(TITLE, "Maren Holt", TEXT) != base
    assert fingerprint(f"  {TITLE}\u00a0", f"{BYLINE}\n", TEXT) == base
    assert fingerprint(None, None, TEXT) == fingerprint("", "", TEXT)


def test_fields_cannot_bleed_into_each_other() -> None:
    assert fingerprint("a", "b c", "d") != fingerprint("a b", "c", "d")
    assert fingerprint("a", None, "b") != fingerprint(None, "a", "b")


def test_fingerprint_is_hex_sha256() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(TITLE, BYLINE, TEXT))
    assert re.fullmatch(r"[0-9a-f]{64}", text_sha256(TEXT))


# --- summaries -------------------------------------------------------------------


def test_first_version_summary() -> None:
    summary = summarize_change(None, (TITLE, BYLINE, TEXT))
    assert summary.first
    assert summary.words_added == len(TEXT.split())
    assert summary.describe() == "first version"


def test_summary_counts_changed_words() -> None:
    new_text = TEXT.replace("7-2", "6-3").replace("two new parks", "three new parks and a pool")
    summary = summarize_change((TITLE, BYLINE, TEXT), (TITLE, BYLINE, new_text))
    # "7-2" -> "6-3" is one word each way; "two" -> "three and a pool" is 1 removed, 4 added.
    assert (summary.words_added, summary.words_removed) == (5, 2)
    assert not summary.title_changed and not summary.byline_changed
    assert summary.describe() == "text: +5/-2 words"


def test_summary_of_an_added_correction() -> None:
    correction = "Correction: An earlier version of this article misstated the vote."
    summary = summarize_change((TITLE, BYLINE, TEXT), (TITLE, BYLINE, TEXT + "\n\n" + correction))
    assert (summary.words_added, summary.words_removed) == (len(correction.split()), 0)


def test_summary_of_title_and_byline_changes() -> None:
    summary = summarize_change(
        (TITLE, BYLINE, TEXT), ("Council passes budget", BYLINE, TEXT.replace("7-2", "7-1"))
    )
    assert summary.title_changed
    assert summary.describe() == "title changed; +1/-1 words"
    byline_only = summarize_change((TITLE, BYLINE, TEXT), (TITLE, "Maren Holt", TEXT))
    assert byline_only.describe() == "byline changed"
    assert byline_only.as_dict() == {
        "first": False,
        "title_changed": False,
        "byline_changed": True,
        "words_added": 0,
        "words_removed": 0,
        "description": "byline changed",
    }


def test_whitespace_edit_summarises_as_no_change() -> None:
    summary = summarize_change((TITLE, BYLINE, TEXT), (TITLE, BYLINE, WHITESPACE_EDITS["tabs"]))
    assert summary == ChangeSummary(False, False, False, 0, 0)
    assert not summary.changed
    assert summary.describe() == "no change"


def test_punctuation_changes_count_the_words_they_touch() -> None:
    dropped = summarize_change((TITLE, BYLINE, TEXT), (TITLE, BYLINE, REAL_EDITS["a full stop"]))
    # "retirees." lost its full stop: one word touched on the old side, nothing added.
    assert (dropped.words_added, dropped.words_removed) == (0, 1)
    swapped = summarize_change((TITLE, BYLINE, TEXT), (TITLE, BYLINE, TEXT.replace("7-2", "7:2")))
    assert (swapped.words_added, swapped.words_removed) == (1, 1)


# --- word diff --------------------------------------------------------------------


def _sides(ops: list[tuple[str, str]]) -> tuple[str, str]:
    old = "".join(text for op, text in ops if op in ("equal", "delete"))
    new = "".join(text for op, text in ops if op in ("equal", "insert"))
    return old, new


def test_word_diff_finds_the_changed_words() -> None:
    ops = word_diff("The vote was 7-2 on Tuesday.", "The vote was 6-3 on Tuesday night.")
    changes = [(op, text) for op, text in ops if op != "equal"]
    assert changes == [
        ("delete", "7"),
        ("insert", "6"),
        ("delete", "2"),
        ("insert", "3"),
        ("insert", " night"),
    ]
    assert {op for op, _ in ops} <= {"equal", "insert", "delete"}


def test_word_diff_of_identical_texts_is_one_equal_op() -> None:
    assert word_diff(TEXT, TEXT) == [("equal", TEXT)]
    assert word_diff("", "") == []


_WORDS = [
    "the",
    "a",
    "council",
    "vote",
    "mayor",
    "budget",
    "park",
    "road",
    ",",
    ".",
    "2026",
    "42",
    "library",
    "said",
    "was",
    "on",
    "in",
    "of",
]


def _random_edit(rng: random.Random, text: str) -> str:
    tokens = re.findall(r"\S+|\s+", text)
    for _ in range(rng.randint(1, 6)):
        position = rng.randrange(len(tokens) + 1)
        action = rng.choice(["insert", "delete", "replace", "space", "paragraph"])
        if action == "insert":
            tokens.insert(position, rng.choice(_WORDS) + " ")
        elif action == "delete" and tokens:
            del tokens[min(position, len(tokens) - 1)]
        elif action == "replace" and tokens:
            tokens[min(position, len(tokens) - 1)] = rng.choice(_WORDS)
        elif action == "space":
            tokens.insert(position, rng.choice(["  ", "\t", "\u00a0", " \n"]))
        else:
            tokens.insert(position, "\n\n")
    return "".join(tokens)


def test_word_diff_round_trips_random_edits() -> None:
    rng = random.Random(20260401)
    text = TEXT
    for _ in range(400):
        edited = _random_edit(rng, text)
        ops = word_diff(text, edited)
        assert _sides(ops) == (text, edited)
        assert all(t for _, t in ops), "no empty ops"
        # Neighbours never repeat a kind: ops are merged.
        assert all(a[0] != b[0] for a, b in itertools.pairwise(ops))
        text = edited if len(edited) < 3000 else TEXT


def test_word_diff_round_trips_unicode_and_empty_sides() -> None:
    cases = [
        ("", "Neue Brücke eröffnet"),
        ("La mairie a voté ; le budget passe.", ""),
        ("El alcalde dijo: «sí».", "La alcaldesa dijo: «no», y se fue."),
        ("  leading space", "leading space  "),
    ]
    for old, new in cases:
        assert _sides(word_diff(old, new)) == (old, new)


def test_word_diff_is_fast_enough_for_long_articles() -> None:
    # Not a timing assertion: a quadratic diff of 10k words would blow the test timeout.
    rng = random.Random(7)
    sentences = [" ".join(rng.choice(_WORDS) for _ in range(20)) + "." for _ in range(500)]
    old = "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, 500, 5))
    new = _random_edit(rng, old)
    assert _sides(word_diff(old, new)) == (old, new)
    rewritten = " ".join(rng.choice(_WORDS) for _ in range(10_000))
    assert _sides(word_diff(old, rewritten)) == (old, rewritten)


# --- rendering ----------------------------------------------------------------------


def test_render_diff_plain_uses_word_diff_brackets() -> None:
    rendered = render_diff(TEXT, REAL_EDITS["a word"], color=False, context=None)
    assert "[-two-]{+three+} new parks" in rendered
    assert not ANSI.search(rendered)
    # Without context elision the whole text is there, paragraph breaks included.
    assert ANSI.sub("", rendered).replace("[-two-]{+three+}", "three") == normalize_text(
        REAL_EDITS["a word"]
    )


def test_render_diff_colour_uses_ansi_and_no_brackets() -> None:
    rendered = render_diff(TEXT, REAL_EDITS["a word"], color=True)
    assert "\x1b[31m" in rendered and "\x1b[32m" in rendered
    assert "[-" not in rendered and "{+" not in rendered
    assert ANSI.sub("", rendered).count("twothree") == 1


def test_render_diff_keeps_paragraph_breaks() -> None:
    rendered = render_diff(TEXT, REAL_EDITS["a new paragraph"], color=False, context=None)
    assert rendered.count("\n\n") == 3
    assert rendered.endswith("\n\n{+Correction: An earlier version misstated the vote.+}")


def test_render_diff_elides_unchanged_text_beyond_context() -> None:
    old = " ".join(f"w{i}" for i in range(100))
    new = old.replace("w50", "CHANGED")
    rendered = render_diff(old, new, color=False, context=3)
    assert rendered == "… w47 w48 w49 [-w50-]{+CHANGED+} w51 w52 w53 …"
    two_changes = new.replace("w90", "LATER")
    rendered = render_diff(old, two_changes, color=False, context=2)
    assert rendered == "… w48 w49 [-w50-]{+CHANGED+} w51 w52 … w88 w89 [-w90-]{+LATER+} w91 w92 …"
    # Short gaps between changes are kept whole.
    close = new.replace("w53", "NEAR")
    assert "w51 w52 [-w53-]" in render_diff(old, close, color=False, context=3)


def test_render_diff_marks_elided_paragraph_breaks() -> None:
    old = "\n\n".join(" ".join(f"p{p}w{i}" for i in range(30)) for p in range(3))
    new = old.replace("p0w2 ", "").replace("p2w28", "END")
    rendered = render_diff(old, new, color=False, context=2)
    assert rendered.startswith("p0w0 p0w1 [-p0w2-] p0w3 p0w4 …\n\n… p2w26 p2w27 [-p2w28-]")


def test_render_diff_of_unchanged_text_is_empty() -> None:
    assert render_diff(TEXT, WHITESPACE_EDITS["doubled spaces"], color=False) == ""


def test_render_field_change() -> None:
    assert render_field_change("title", TITLE, f" {TITLE} ", color=False) is None
    line = render_field_change("title", TITLE, TITLE.replace("late-night", "dawn"), color=False)
    assert line == "title: Council approves 2027 budget after [-late-night-]{+dawn+} vote"
    coloured = render_field_change("byline", None, BYLINE, color=True)
    assert coloured is not None and "\x1b[32m" in coloured
    assert ANSI.sub("", coloured) == f"byline: {BYLINE}"
