"""Versioning logic: text normalisation, fingerprints, change summaries and word diffs.

Everything here is a pure function. An article gets a new version only when its
fingerprint changes, and the fingerprint is taken over normalised text, so that
re-indented HTML, doubled spaces or extra blank lines never count as an edit.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "ChangeSummary",
    "decision_lines",
    "decision_text",
    "fingerprint",
    "fold_text",
    "normalize_text",
    "render_diff",
    "render_field_change",
    "same_decision",
    "summarize_change",
    "text_sha256",
    "word_diff",
]

# Invisible characters that editors and CMSs sprinkle into text without any visible change.
_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"),
    None,
)
# Line and paragraph separators other than \n.
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_PARAGRAPH_BREAK = re.compile(r"\n+")
PARAGRAPH_BREAK = "\n\n"


def normalize_text(text: str | None) -> str:
    """The text with every whitespace-only difference removed (and nothing else)."""
    if not text:
        return ""
    return _normalize(text)


# The pipeline hashes, fingerprints and compares the same text one after another:
# remember the last few results instead of normalising it three times.
@functools.lru_cache(maxsize=16)
def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    text = _LINE_BREAKS.sub("\n", text)
    # [^\S\n] is every Unicode space (tabs, nbsp, thin and em spaces ...) except newline.
    text = _HORIZONTAL_SPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    # A single newline and a run of blank lines both mean "new paragraph": extractors
    # differ on which one they emit, and adding a blank line is not an edit.
    return _PARAGRAPH_BREAK.sub(PARAGRAPH_BREAK, text).strip()


# --- the change decision -----------------------------------------------------------
#
# Stored text keeps every character the site sent; only the *decision* whether an
# article changed looks at a folded form, so that typography a CMS rewrites on its own
# (curly vs straight quotes, en vs em dashes, NBSP, soft hyphens, compatibility forms)
# never makes a version.

_QUOTES = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u02bc\u02b9\u00b4`\uff07", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u2039\u203a", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        # Invisible characters NFKC leaves alone (zero-width, soft hyphen, word joiner,
        # bidi marks) and the invisible operators some editors paste in.
        **dict.fromkeys(
            "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
            "\u180e\u034f",
            None,
        ),
    }
)
# A run of hyphens (an ASCII "--" for an em dash) and a spaced dash are one dash.
_DASH_RUN = re.compile(r"-{2,}")
# Guillemets come with (narrow, non-breaking) spaces inside them in French: "« mot »"
# and "«mot»" are the same quotation, and both fold to '"mot"'.
_GUILLEMET_SPACE = re.compile(r"(?<=[\u00ab\u2039])[^\S\n]+|[^\S\n]+(?=[\u00bb\u203a])")


def fold_text(text: str | None) -> str:
    """Normalised text with typographic noise folded away: for the change decision only.

    NFKC (NBSP, ligatures, full-width forms, "…"), curly and angle quotes to straight
    ones, every dash and minus to "-", soft hyphens and zero-width characters removed.
    Never store this: the archive keeps what the site published.
    """
    if not text:
        return ""
    return _fold(text)


@functools.lru_cache(maxsize=16)
def _fold(text: str) -> str:
    folded = _GUILLEMET_SPACE.sub("", text)
    # Fold before and after NFKC: invisibles must go before composition ("co\u00adop"
    # composes like "coop"), and NFKC itself can produce new dashes or quotes.
    folded = unicodedata.normalize("NFKC", folded.translate(_QUOTES)).translate(_QUOTES)
    return normalize_text(_DASH_RUN.sub("-", folded))


def decision_lines(
    text: str | None,
    *,
    title: str | None = None,
    ignore: tuple[re.Pattern[str], ...] | list[re.Pattern[str]] = (),
    boilerplate: Callable[[str], bool] | None = None,
) -> list[str]:
    """The folded paragraphs that decide whether the text changed.

    ``ignore`` patterns (a source's ignore rules, written against folded text) are
    cut out of each paragraph, and a paragraph left empty is dropped; a paragraph
    equal to the headline is dropped (the headline never counts as body text, so a
    template that moves it in or out of the body is no edit); ``boilerplate`` (a host
    template's ``is_boilerplate``) drops paragraphs that recur across the host's pages.
    """
    headline = fold_text(title)
    lines: list[str] = []
    for line in fold_text(text).split("\n"):
        for pattern in ignore:
            line = pattern.sub("", line)
        line = _HORIZONTAL_SPACE.sub(" ", line).strip()
        if not line or (headline and line == headline):
            continue
        if boilerplate is not None and boilerplate(line):
            continue
        lines.append(line)
    return lines


def decision_text(
    text: str | None,
    *,
    title: str | None = None,
    ignore: tuple[re.Pattern[str], ...] | list[re.Pattern[str]] = (),
    boilerplate: Callable[[str], bool] | None = None,
) -> str:
    """``decision_lines`` joined: equal decision texts mean "no new version"."""
    lines = decision_lines(text, title=title, ignore=ignore, boilerplate=boilerplate)
    return PARAGRAPH_BREAK.join(lines)


def same_decision(
    old: tuple[str | None, str | None, str | None],
    new: tuple[str | None, str | None, str | None],
    *,
    ignore: tuple[re.Pattern[str], ...] | list[re.Pattern[str]] = (),
    boilerplate: Callable[[str], bool] | None = None,
) -> bool:
    """Whether two (title, byline, text) versions are the same for the change decision.

    The pipeline can call this with the stored previous version before storing a new
    one: unlike comparing stored fingerprints, it also applies rules (ignore patterns,
    a host template) that were learnt or configured after the old version was stored.
    """
    if fold_text(old[0]) != fold_text(new[0]) or fold_text(old[1]) != fold_text(new[1]):
        return False
    rules: dict[str, Any] = {"ignore": ignore, "boilerplate": boilerplate}
    return decision_text(old[2], title=old[0], **rules) == decision_text(
        new[2], title=new[0], **rules
    )


def text_sha256(text: str) -> str:
    """Hex sha256 of the normalised text."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def fingerprint(
    title: str | None,
    byline: str | None,
    text: str | None,
    *,
    ignore: tuple[re.Pattern[str], ...] | list[re.Pattern[str]] = (),
    boilerplate: Callable[[str], bool] | None = None,
) -> str:
    """Hex sha256 deciding whether content changed: title, byline and decision text.

    Taken over the folded text (``fold_text``) with the headline, ``ignore`` matches
    and ``boilerplate`` paragraphs left out, so only a real edit changes it.
    """
    # A JSON array cannot be confused across field boundaries, unlike a separator
    # character that might also occur inside a field.
    body = decision_text(text, title=title, ignore=ignore, boilerplate=boilerplate)
    payload = json.dumps([fold_text(title), fold_text(byline), body], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- word diff -------------------------------------------------------------------

# A word or a single punctuation mark with the whitespace after it (or leading
# whitespace alone): joining the tokens gives the text back.
_TOKEN = re.compile(r"\w+\s*|[^\w\s]\s*|\s+")

Op = tuple[str, str]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _diff_tokens(old: list[str], new: list[str]) -> list[Op]:
    # Tokens are compared without their trailing whitespace: a stand-alone " " token
    # would be the most repeated item and make SequenceMatcher quadratic, and a word
    # followed by a paragraph break is still the same word.
    old_keys = [token.rstrip() or token for token in old]
    new_keys = [token.rstrip() or token for token in new]
    matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.extend(_equal_tokens(old[i1:i2], new[j1:j2]))
            continue
        if tag in ("delete", "replace"):
            ops.append(("delete", "".join(old[i1:i2])))
        if tag in ("insert", "replace"):
            ops.append(("insert", "".join(new[j1:j2])))
    return ops


def _equal_tokens(old: list[str], new: list[str]) -> list[Op]:
    """Ops for tokens whose words match; differing trailing whitespace becomes a change."""
    ops: list[Op] = []
    for old_token, new_token in zip(old, new, strict=True):
        if old_token == new_token:
            ops.append(("equal", old_token))
            continue
        word = old_token.rstrip()
        ops += [("equal", word), ("delete", old_token[len(word) :])]
        ops.append(("insert", new_token[len(word) :]))
    return ops


def _merge(ops: list[Op]) -> list[Op]:
    """Drop empty ops and join neighbours of the same kind (deletes before inserts)."""
    merged: list[Op] = []
    for op, text in ops:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        elif op == "delete" and merged and merged[-1][0] == "insert":
            # Keep the "[-old-]{+new+}" order when two changes touch.
            if len(merged) > 1 and merged[-2][0] == "delete":
                merged[-2] = ("delete", merged[-2][1] + text)
            else:
                merged.insert(len(merged) - 1, (op, text))
        else:
            merged.append((op, text))
    return merged


# Units diffed before words, coarsest first: paragraphs, then sentences. Only the
# stretches that differ at one level are split into the next, which keeps long
# articles with a few edits fast (SequenceMatcher is quadratic in repeated items).
_LEVELS = (
    re.compile(r"[^\n]*\n+|[^\n]+"),
    re.compile(r".*?(?:[.!?]+[\"'”’)\]]*(?:[ \t]+|(?=\n)|$)|\n+|$)", re.S),
)


def _split(pattern: re.Pattern[str], text: str) -> list[str]:
    return [unit for unit in pattern.findall(text) if unit]


def _diff_units(old: str, new: str, level: int) -> list[Op]:
    if level == len(_LEVELS):
        return _diff_tokens(_tokens(old), _tokens(new))
    old_units = _split(_LEVELS[level], old)
    new_units = _split(_LEVELS[level], new)
    matcher = difflib.SequenceMatcher(None, old_units, new_units, autojunk=False)
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old_part = "".join(old_units[i1:i2])
        new_part = "".join(new_units[j1:j2])
        if tag == "equal":
            ops.append(("equal", old_part))
        elif not old_part or not new_part:
            ops.append(("delete", old_part) if old_part else ("insert", new_part))
        else:
            ops.extend(_diff_units(old_part, new_part, level + 1))
    return ops


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Word-level diff as ("equal" | "insert" | "delete", text) ops.

    Joining the equal and delete texts gives ``old`` back; equal and insert give ``new``.
    """
    return _merge(_factor_whitespace(_merge(_diff_units(old, new, 0))))


def _common_space(a: str, b: str, *, suffix: bool) -> str:
    step = -1 if suffix else 1
    shared = []
    for x, y in zip(a[::step], b[::step], strict=False):
        if x != y or not x.isspace():
            break
        shared.append(x)
    return "".join(shared[::step])


def _factor_whitespace(ops: list[Op]) -> list[Op]:
    """Move whitespace shared by both sides of a replacement out into equal text."""
    out: list[Op] = []
    index = 0
    while index < len(ops):
        op, text = ops[index]
        if op == "delete" and index + 1 < len(ops) and ops[index + 1][0] == "insert":
            old, new = text, ops[index + 1][1]
            head = _common_space(old, new, suffix=False)
            old, new = old[len(head) :], new[len(head) :]
            tail = _common_space(old, new, suffix=True)
            if tail:
                old, new = old[: -len(tail)], new[: -len(tail)]
            out += [("equal", head), ("delete", old), ("insert", new), ("equal", tail)]
            index += 2
        else:
            out.append((op, text))
            index += 1
    return out


# --- change summary ---------------------------------------------------------------

_WORD = re.compile(r"\S+")


def _touched_words(text: str, changed: list[tuple[int, int]]) -> int:
    """How many whitespace-separated words of ``text`` overlap a changed span.

    ``changed`` holds sorted, non-overlapping, non-empty (start, end) spans.
    """
    count, index = 0, 0
    for word in _WORD.finditer(text):
        while index < len(changed) and changed[index][1] <= word.start():
            index += 1
        if index == len(changed):
            break
        if changed[index][0] < word.end():
            count += 1
    return count


def _changed_word_counts(old: str, new: str) -> tuple[int, int]:
    """(words added, words removed), counting a word once however many tokens changed in it."""
    old_spans: list[tuple[int, int]] = []
    new_spans: list[tuple[int, int]] = []
    old_pos = new_pos = 0
    for op, text in word_diff(old, new):
        if op == "equal":
            old_pos += len(text)
            new_pos += len(text)
        elif op == "delete":
            if text.strip():
                old_spans.append((old_pos, old_pos + len(text)))
            old_pos += len(text)
        else:
            if text.strip():
                new_spans.append((new_pos, new_pos + len(text)))
            new_pos += len(text)
    return _touched_words(new, new_spans), _touched_words(old, old_spans)


@dataclass(frozen=True)
class ChangeSummary:
    """What changed between two versions, in numbers a person can read."""

    first: bool
    title_changed: bool
    byline_changed: bool
    words_added: int
    words_removed: int

    @property
    def text_changed(self) -> bool:
        return bool(self.words_added or self.words_removed)

    @property
    def changed(self) -> bool:
        return self.first or self.title_changed or self.byline_changed or self.text_changed

    def describe(self) -> str:
        """E.g. "first version", "title changed; +42/-3 words", "text: +12/-0 words"."""
        if self.first:
            return "first version"
        parts = []
        if self.title_changed:
            parts.append("title changed")
        if self.byline_changed:
            parts.append("byline changed")
        if self.text_changed:
            words = f"+{self.words_added}/-{self.words_removed} words"
            parts.append(words if parts else f"text: {words}")
        return "; ".join(parts) or "no change"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.describe()}


def summarize_change(
    old: tuple[str | None, str | None, str] | None,
    new: tuple[str | None, str | None, str],
) -> ChangeSummary:
    """Compare two (title, byline, text) versions; ``old`` is None for the first one."""
    if old is None:
        words = len(_WORD.findall(normalize_text(new[2])))
        return ChangeSummary(True, False, False, words, 0)
    old_title, old_byline, old_text = (normalize_text(field) for field in old)
    new_title, new_byline, new_text = (normalize_text(field) for field in new)
    added, removed = _changed_word_counts(old_text, new_text)
    return ChangeSummary(
        first=False,
        title_changed=old_title != new_title,
        byline_changed=old_byline != new_byline,
        words_added=added,
        words_removed=removed,
    )


# --- rendering -----------------------------------------------------------------

RED = "\x1b[31m"
GREEN = "\x1b[32m"
STRIKE = "\x1b[9m"
BOLD = "\x1b[1m"
RESET = "\x1b[0m"
ELLIPSIS = " … "


def _mark(op: str, text: str, color: bool) -> str:
    if not color:
        return f"[-{text}-]" if op == "delete" else f"{{+{text}+}}"
    style = RED + STRIKE if op == "delete" else GREEN
    # Colour each line on its own so pagers and terminals never bleed it across lines.
    return "\n".join(f"{style}{line}{RESET}" if line else line for line in text.split("\n"))


def _mark_trimmed(op: str, text: str, color: bool) -> str:
    """Mark a lone insert or delete, leaving its outer whitespace (paragraph breaks) unmarked."""
    core = text.strip()
    if not core:
        return text
    start = text.index(core)
    return text[:start] + _mark(op, core, color) + text[start + len(core) :]


def _paired(ops: list[Op], index: int) -> bool:
    """Whether this op is half of a replacement (a delete right next to an insert)."""
    neighbours = ops[index - 1 : index] + ops[index + 1 : index + 2]
    return any(op not in ("equal", ops[index][0]) for op, _ in neighbours)


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+|\s+", text)


def _head(text: str, words: int) -> tuple[str, str]:
    """Split after the first ``words`` words: (kept, rest)."""
    pieces, seen = _pieces(text), 0
    for index, piece in enumerate(pieces):
        if not piece.isspace():
            seen += 1
            if seen > words:
                return "".join(pieces[:index]).rstrip(), "".join(pieces[index:])
    return text, ""


def _tail(text: str, words: int) -> tuple[str, str]:
    """Split before the last ``words`` words: (rest, kept)."""
    pieces, seen = _pieces(text), 0
    for index in range(len(pieces) - 1, -1, -1):
        if not pieces[index].isspace():
            seen += 1
            if seen > words:
                return "".join(pieces[: index + 1]), "".join(pieces[index + 1 :]).lstrip()
    return "", text


def _elide(text: str, context: int, *, before: bool, after: bool) -> str:
    """Keep ``context`` words at the ends that touch a change; elide the rest."""
    if before and after:
        head, rest = _head(text, context)
        if len(_WORD.findall(rest)) <= context:
            return text
        elided, tail = _tail(rest, context)
        # Keep the reader aware that the skipped text spans paragraphs.
        marker = " …\n\n… " if "\n" in elided else ELLIPSIS
        return head + marker + tail
    if after:  # text precedes the first change
        rest, tail = _tail(text, context)
        return ("…" + (" " if not tail.startswith(" ") else "") + tail) if rest.strip() else text
    if before:  # text follows the last change
        head, rest = _head(text, context)
        return (head + (" " if not head.endswith(" ") else "") + "…") if rest.strip() else text
    return ""


def render_diff(old: str, new: str, *, color: bool, context: int | None = 12) -> str:
    """Word diff of two texts for people: git --word-diff style, or ANSI colours.

    Both texts are normalised first, so whitespace noise never shows. ``context`` is how
    many unchanged words to keep around each change (None keeps the whole text).
    """
    ops = word_diff(normalize_text(old), normalize_text(new))
    changes = [i for i, (op, _) in enumerate(ops) if op != "equal"]
    if not changes:
        return "" if context is not None else normalize_text(new)
    out: list[str] = []
    for index, (op, text) in enumerate(ops):
        if op != "equal":
            paired = _paired(ops, index)
            out.append(_mark(op, text, color) if paired else _mark_trimmed(op, text, color))
        elif context is None:
            out.append(text)
        else:
            before = index > changes[0]
            after = index < changes[-1]
            out.append(_elide(text, context, before=before, after=after))
    return "".join(out)


def render_field_change(name: str, old: str | None, new: str | None, *, color: bool) -> str | None:
    """One line such as ``title: [-Old-]{+New+} headline``; None when the field is unchanged."""
    old_text, new_text = normalize_text(old), normalize_text(new)
    if old_text == new_text:
        return None
    label = f"{BOLD}{name}:{RESET}" if color else f"{name}:"
    return f"{label} {render_diff(old_text, new_text, color=color, context=None)}"
