"""The change decision: typographic noise never makes a version, real edits always do.

Each noise kind a site produces on its own is applied to real article texts from
the shared corpus; the fingerprint (what decides a version) must not move, while
the stored text (``normalize_text``) still keeps every character.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from worker.version import (
    decision_lines,
    decision_text,
    fingerprint,
    fold_text,
    normalize_text,
    same_decision,
)

TITLE = "Council approves 2027 budget after late-night vote"
BYLINE = "Maren Holt"
TEXT = (
    'The council voted 7-2 on Tuesday. "It\'s a fair budget," said Mayor Ana Ruiz - '
    "to applause.\n\n"
    "The plan includes money for road repairs... and a coop office for efficient filing.\n\n"
    "\u00abC'est un bon budget\u00bb, a déclaré l'adjoint. Opponents said \"no\"."
)

# Each kind of noise a CMS, a template or a copy-paste produces without any edit.
NOISE = {
    "curly quotes": lambda t: (
        t.replace('"', "\u201c", 1).replace('"', "\u201d", 1).replace("'", "\u2019")
    ),
    "low and angle quotes": lambda t: t.replace('"no"', "\u201eno\u201c"),
    "guillemets with spaces": lambda t: t.replace("\u00abC", "\u00ab\u202fC").replace(
        "budget\u00bb", "budget\u00a0\u00bb"
    ),
    "en dash": lambda t: t.replace("7-2", "7\u20132"),
    "em dash": lambda t: t.replace(" - ", " \u2014 "),
    "double hyphen": lambda t: t.replace(" - ", " -- "),
    "minus sign": lambda t: t.replace("7-2", "7\u22122"),
    "non-breaking spaces": lambda t: t.replace("Ana Ruiz", "Ana\u00a0Ruiz").replace(
        "7-2 on", "7-2\u202fon"
    ),
    "soft hyphens": lambda t: t.replace("applause", "ap\u00adplause").replace(
        "office", "of\u00adfice"
    ),
    "zero-width characters": lambda t: t.replace("budget", "bud\u200bget").replace(
        "Mayor", "\u2060Mayor\u200d"
    ),
    "byte order mark": lambda t: "\ufeff" + t,
    "bidi marks": lambda t: t.replace("Tuesday", "\u200eTuesday\u200f"),
    "ligatures (NFKC)": lambda t: t.replace("efficient filing", "e\ufb03cient \ufb01ling"),
    "full-width digits (NFKC)": lambda t: t.replace("7-2", "\uff17-\uff12"),
    "ellipsis character": lambda t: t.replace("repairs...", "repairs\u2026"),
    "decomposed accents": lambda t: t.replace("\u00e9", "e\u0301"),
}

REAL_EDITS = {
    "a word": lambda t: t.replace("road repairs", "bridge repairs"),
    "a digit": lambda t: t.replace("7-2", "7-3"),
    "a quotation changed": lambda t: t.replace("fair budget", "good budget"),
    "a sentence removed": lambda t: t.replace(' Opponents said "no".', ""),
    "a correction": lambda t: t + "\n\nCorrection: the vote was 7-2, not 6-3.",
    "hyphen removed from a word": lambda t: t.replace("coop", "co-op"),
    "case": lambda t: t.replace("Mayor", "mayor"),
}


@pytest.mark.parametrize("name", sorted(NOISE))
def test_noise_makes_no_version(name: str) -> None:
    noisy = NOISE[name](TEXT)
    assert noisy != TEXT, "the noise must really change the characters"
    assert fingerprint(TITLE, BYLINE, noisy) == fingerprint(TITLE, BYLINE, TEXT)
    assert same_decision((TITLE, BYLINE, TEXT), (TITLE, BYLINE, noisy))


TITLE_WITH_MARKS = TITLE + ' - "7-2" Ana Ruiz\'s budget, Tuesday'


@pytest.mark.parametrize(
    "name", sorted(n for n, noise in NOISE.items() if noise(TITLE_WITH_MARKS) != TITLE_WITH_MARKS)
)
def test_noise_in_title_and_byline_makes_no_version(name: str) -> None:
    title = NOISE[name](TITLE_WITH_MARKS)
    byline = NOISE[name]("Ana Ruiz - Tuesday")
    assert fingerprint(title, byline, TEXT) == fingerprint(
        TITLE_WITH_MARKS, "Ana Ruiz - Tuesday", TEXT
    )


@pytest.mark.parametrize("name", sorted(REAL_EDITS))
def test_real_edits_still_make_a_version(name: str) -> None:
    edited = REAL_EDITS[name](TEXT)
    assert edited != TEXT
    assert fingerprint(TITLE, BYLINE, edited) != fingerprint(TITLE, BYLINE, TEXT)
    assert not same_decision((TITLE, BYLINE, TEXT), (TITLE, BYLINE, edited))


def test_stored_text_keeps_the_original_characters() -> None:
    noisy = NOISE["curly quotes"](NOISE["em dash"](TEXT))
    assert "\u201c" in normalize_text(noisy) and "\u2014" in normalize_text(noisy)
    assert "\u201c" not in fold_text(noisy) and "\u2014" not in fold_text(noisy)


def test_headline_never_counts_as_body_text() -> None:
    # A redesign moves the headline from <article><header> into or out of the body.
    with_headline = TITLE + "\n\n" + TEXT
    assert fingerprint(TITLE, BYLINE, with_headline) == fingerprint(TITLE, BYLINE, TEXT)
    curly_headline = "\u201c" + TITLE + "\u201d"
    assert decision_text(curly_headline + "\n\n" + TEXT, title=curly_headline) == decision_text(
        TEXT, title=curly_headline
    )
    # A body paragraph that merely contains the headline's words is body text.
    longer = TITLE + " was the front page story.\n\n" + TEXT
    assert fingerprint(TITLE, BYLINE, longer) != fingerprint(TITLE, BYLINE, TEXT)


def test_ignore_rules_cut_matching_text_before_the_decision() -> None:
    ignore = [re.compile(r"Updated \d+ (?:minutes?|hours?) ago"), re.compile(r"^Advertisement$")]
    first = "Updated 5 minutes ago\n\n" + TEXT + "\n\nAdvertisement"
    later = "Updated 2 hours ago\n\n" + TEXT
    assert fingerprint(TITLE, BYLINE, first, ignore=ignore) == fingerprint(
        TITLE, BYLINE, later, ignore=ignore
    )
    assert fingerprint(TITLE, BYLINE, first) != fingerprint(TITLE, BYLINE, later)
    # Inside a paragraph only the matched words go; the rest still decides.
    inline = TEXT.replace("to applause.", "to applause. Updated 1 minute ago")
    assert decision_text(inline, ignore=ignore) == decision_text(TEXT, ignore=ignore)
    edited = REAL_EDITS["a word"](first)
    assert fingerprint(TITLE, BYLINE, edited, ignore=ignore) != fingerprint(
        TITLE, BYLINE, first, ignore=ignore
    )
    # "Advertisement" is anchored, so the word inside a sentence still counts.
    prose = TEXT + "\n\nAdvertisement revenue fell."
    assert "Advertisement revenue fell." in decision_lines(prose, ignore=ignore)


def test_boilerplate_predicate_drops_template_paragraphs() -> None:
    template = {"Sign up for our newsletter", "Share this article"}
    first = TEXT + "\n\nSign up for our newsletter"
    later = TEXT + "\n\nShare this article"
    assert fingerprint(TITLE, BYLINE, first, boilerplate=template.__contains__) == fingerprint(
        TITLE, BYLINE, later, boilerplate=template.__contains__
    )
    assert fingerprint(TITLE, BYLINE, first) != fingerprint(TITLE, BYLINE, later)


def test_real_corpus_texts_survive_every_noise_kind(corpus: Path) -> None:
    texts = []
    for truth in sorted((corpus / "articles").glob("*/ground_truth.json"))[:40]:
        data = json.loads(truth.read_text(encoding="utf-8"))
        if data.get("text"):
            texts.append((data.get("title"), data["text"]))
    assert len(texts) >= 20
    noisy_kinds = 0
    for title, text in texts:
        base = fingerprint(title, None, text)
        for name, noise in NOISE.items():
            noisy = noise(text)
            noisy_kinds += noisy != text
            assert fingerprint(title, None, noisy) == base, (name, title)
        # Every text still tells a real one-word edit apart.
        words = text.split()
        edited = text.replace(words[len(words) // 2], words[len(words) // 2] + "x", 1)
        assert fingerprint(title, None, edited) != base
    assert noisy_kinds > 0
