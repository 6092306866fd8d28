"""What kind of change a new version is: cosmetic, metadata or substantive, and how.

Pure functions over two snapshots of an article (the stored previous version and
what was just extracted), run after the change decision has said "new version":

- ``classify_change`` gives the stage record ``ChangeClass``: the class, the
  metadata fields that changed, sentence-level additions, deletions, edits and
  moves, a correction or update note (English, French, German, Spanish), and the
  **stealth** flag (a substantive change with no ``dateModified`` bump, no update
  marker and no correction note);
- ``find_revert`` says which older version a new text returns to (A -> B -> A);
- ``extraction_suspect`` is the guard against extraction failures: a body that
  shrinks by more than half, or shares almost nothing with the previous one, is
  re-fetched before it is stored as an edit.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from worker.version import decision_lines, fold_text

__all__ = [
    "ChangeClass",
    "Note",
    "SentenceChange",
    "Snapshot",
    "classify_change",
    "extraction_suspect",
    "find_note",
    "find_revert",
    "split_sentences",
]

Kind = Literal["first", "cosmetic", "metadata", "substantive"]
METADATA_FIELDS = ("title", "byline", "published", "modified", "canonical_url")
# Two sentences at least this alike (difflib ratio over their loose forms) are one
# sentence edited; below, one deleted and another added.
EDIT_SIMILARITY = 0.5


@dataclass(frozen=True)
class Snapshot:
    """The parts of one version that classification reads."""

    title: str | None = None
    byline: str | None = None
    text: str = ""
    published: datetime | None = None
    modified: datetime | None = None
    canonical_url: str | None = None

    @classmethod
    def of(cls, record: Any) -> Snapshot:
        """A Snapshot of anything with these attributes (a stored Version, an Extracted)."""
        return cls(**{name: getattr(record, name, None) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SentenceChange:
    """One sentence ``added``, ``deleted``, ``edited`` (old -> new) or ``moved``."""

    kind: Literal["added", "deleted", "edited", "moved"]
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True)
class Note:
    """A correction or update note found in the new text, and its language."""

    kind: Literal["correction", "update"]
    language: str
    text: str


@dataclass(frozen=True)
class ChangeClass:
    """The classification stage's record for one new version."""

    kind: Kind
    metadata: tuple[str, ...] = ()
    sentences: tuple[SentenceChange, ...] = ()
    note: Note | None = None
    modified_bumped: bool = False
    stealth: bool = False
    revert_of: int | None = None
    suspect: str | None = None

    def count(self, kind: str) -> int:
        return sum(1 for change in self.sentences if change.kind == kind)

    @property
    def hidden(self) -> bool:
        """Cosmetic versions are kept but hidden from history by default."""
        return self.kind == "cosmetic"

    def describe(self) -> str:
        """E.g. "substantive: 2 sentences edited, 1 added; correction note (fr); stealth"."""
        if self.kind == "first":
            return "first version"
        parts = [self.kind]
        if self.kind == "substantive":
            counts = [
                f"{n} {kind}"
                for kind in ("added", "deleted", "edited", "moved")
                if (n := self.count(kind))
            ]
            if counts:
                unit = "sentence" if self.count(counts[0].split()[1]) == 1 else "sentences"
                counts[0] = counts[0].replace(" ", f" {unit} ", 1)
                parts = [f"substantive: {', '.join(counts)}"]
        if self.metadata:
            fields = f"metadata: {', '.join(self.metadata)}"
            if self.kind == "metadata":
                parts = [fields]
            else:
                parts.append(fields)
        if self.note is not None:
            parts.append(f"{self.note.kind} note ({self.note.language})")
        if self.revert_of is not None:
            parts.append(f"revert to v{self.revert_of}")
        if self.stealth:
            parts.append("stealth edit")
        if self.suspect:
            parts.append(f"suspect: {self.suspect}")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "metadata": list(self.metadata),
            "added": self.count("added"),
            "deleted": self.count("deleted"),
            "edited": self.count("edited"),
            "moved": self.count("moved"),
            "note": None if self.note is None else self.note.kind,
            "note_language": None if self.note is None else self.note.language,
            "stealth": self.stealth,
            "revert_of": self.revert_of,
            "suspect": self.suspect,
            "description": self.describe(),
        }


# --- sentences ----------------------------------------------------------------------

# A sentence ends at . ! ? (with closing quotes or brackets) before a space, whatever
# the case of the next word: a cosmetic "Mayor" -> "mayor" must not merge two
# sentences. Abbreviations ("Dr. Smith") split too, the same way in both versions.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_PUNCT = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def split_sentences(text: str | None, *, title: str | None = None) -> list[str]:
    """The sentences of a text's decision lines (folded, headline left out)."""
    sentences: list[str] = []
    for line in decision_lines(text, title=title):
        sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


def _loose(text: str) -> str:
    """Text with case, punctuation and spacing ignored: what a cosmetic edit leaves alone."""
    return _SPACES.sub(" ", _PUNCT.sub(" ", fold_text(text).casefold())).strip()


def _sentence_changes(old: list[str], new: list[str]) -> list[SentenceChange]:
    old_keys = [_loose(s) for s in old]
    new_keys = [_loose(s) for s in new]
    matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    changes: list[SentenceChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed = list(range(i1, i2))
        added = list(range(j1, j2))
        # Pair the most alike old and new sentences of a replaced stretch as edits.
        for i in list(removed):
            best, best_ratio = None, EDIT_SIMILARITY
            for j in added:
                ratio = difflib.SequenceMatcher(None, old_keys[i], new_keys[j]).ratio()
                if ratio >= best_ratio:
                    best, best_ratio = j, ratio
            if best is not None:
                if old_keys[i] != new_keys[best] or old[i] != new[best]:
                    changes.append(SentenceChange("edited", old[i], new[best]))
                removed.remove(i)
                added.remove(best)
        changes += [SentenceChange("deleted", old[i], None) for i in removed]
        changes += [SentenceChange("added", None, new[j]) for j in added]
    return _find_moves(changes)


def _find_moves(changes: list[SentenceChange]) -> list[SentenceChange]:
    """A sentence deleted in one place and added unchanged in another was moved."""
    added_at: dict[str, list[int]] = {}
    for index, change in enumerate(changes):
        if change.kind == "added" and change.new is not None:
            added_at.setdefault(_loose(change.new), []).append(index)
    moved_to: dict[int, str | None] = {}
    dropped: set[int] = set()
    for index, change in enumerate(changes):
        if change.kind == "deleted" and change.old is not None:
            slots = added_at.get(_loose(change.old))
            if slots:
                target = slots.pop(0)
                dropped.add(target)
                moved_to[index] = changes[target].new
    out: list[SentenceChange] = []
    for index, change in enumerate(changes):
        if index in dropped:
            continue
        if index in moved_to:
            out.append(SentenceChange("moved", change.old, moved_to[index]))
        else:
            out.append(change)
    return out


# --- correction and update notes ------------------------------------------------------

_NOTES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (kind, language, re.compile(pattern, re.IGNORECASE))
    for kind, language, pattern in (
        (
            "correction",
            "en",
            r"\b(?:corrections?|clarification)\s*[:.-]|\ban earlier version of this\b"
            r"|\bthis (?:article|story|post) (?:has been|was) (?:corrected|amended)"
            r"|\bwe (?:have )?corrected\b|\bincorrectly (?:stated|reported|said)\b",
        ),
        (
            "correction",
            "fr",
            r"\b(?:rectificatif|erratum|correction)\s*[:.-]|\bune (?:pr[ée]c[ée]dente|premi[èe]re)"
            r" version de cet article\b|\bcet article a [ée]t[ée] (?:corrig[ée]|rectifi[ée])",
        ),
        (
            "correction",
            "de",
            r"\b(?:korrektur|berichtigung|richtigstellung|korrekturhinweis)\s*[:.-]"
            r"|\bin einer (?:fr[üu]heren|ersten|vorherigen) (?:version|fassung)\b"
            r"|\b(?:wurde|haben wir) (?:korrigiert|berichtigt)\b",
        ),
        (
            "correction",
            "es",
            r"\b(?:fe de erratas|correcci[óo]n|rectificaci[óo]n|aclaraci[óo]n)\s*[:.-]"
            r"|\buna versi[óo]n anterior de (?:este|esta)\b"
            r"|\b(?:este art[íi]culo|esta (?:noticia|nota)) (?:ha sido|fue) (?:corregid[oa])",
        ),
        (
            "update",
            "en",
            r"\bupdated?\s*(?:\([^)]*\)\s*)?[:.-]|\b(?:this (?:article|story|post) "
            r"(?:has been|was) updated)|\bupdated (?:at|on)\b|\beditor'?s note\b",
        ),
        (
            "update",
            "fr",
            r"\bmis(?:e)? [àa] jour\b|\bactualis[ée]e?\b|\bmise [àa] jour\s*:|\bnote de la r[ée]daction\b",
        ),
        (
            "update",
            "de",
            r"\baktualisiert\b|\baktualisierung\s*:|\bupdate\s*:|\banmerkung der redaktion\b",
        ),
        (
            "update",
            "es",
            r"\bactualizad[oa]\b|\bactualizaci[óo]n\s*:|\bnota (?:de la redacci[óo]n|del editor)\b",
        ),
    )
)


def find_note(sentences: Iterable[str]) -> Note | None:
    """The first correction note, else the first update note, among ``sentences``."""
    found: Note | None = None
    for sentence in sentences:
        for kind, language, pattern in _NOTES:
            if pattern.search(sentence):
                if kind == "correction":
                    return Note("correction", language, sentence)
                found = found or Note("update", language, sentence)
    return found


# --- reverts and the extraction guard ------------------------------------------------


def find_revert(fingerprint: str, history: Sequence[tuple[int, str]]) -> int | None:
    """The newest older version whose fingerprint the new content has again, or None.

    ``history`` holds (version number, fingerprint) of the article's versions except
    the latest one (a fingerprint equal to the latest is no change at all).
    """
    matches = [number for number, older in history if older == fingerprint]
    return max(matches) if matches else None


_CONTENT_WORD = re.compile(r"[^\W\d_]{3,}")


def _content_words(text: str) -> set[str]:
    return set(_CONTENT_WORD.findall(fold_text(text).casefold()))


def extraction_suspect(
    old_text: str | None,
    new_text: str | None,
    *,
    shrink: float = 0.5,
    min_overlap: float = 0.2,
    min_words: int = 30,
) -> str | None:
    """Why ``new_text`` looks like an extraction failure rather than an edit, or None.

    A body that lost more than ``shrink`` of its words, or whose vocabulary shares
    less than ``min_overlap`` with the previous one's, is suspect: re-fetch and
    confirm before storing it as an edit. Bodies under ``min_words`` are not judged.
    """
    old_words = len(fold_text(old_text).split())
    new_words = len(fold_text(new_text).split())
    if old_words < min_words:
        return None
    if new_words < old_words * (1 - shrink):
        return f"body shrank from {old_words} to {new_words} words"
    old_vocab, new_vocab = _content_words(old_text or ""), _content_words(new_text or "")
    smaller = min(len(old_vocab), len(new_vocab))
    if smaller:
        overlap = len(old_vocab & new_vocab) / smaller
        if overlap < min_overlap:
            return f"shares only {overlap:.0%} of its words with the previous version"
    return None


# --- the stage ----------------------------------------------------------------------------


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _metadata_changes(old: Snapshot, new: Snapshot) -> tuple[str, ...]:
    changed = []
    for name in METADATA_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if isinstance(before, datetime) or isinstance(after, datetime):
            if _as_utc(before) != _as_utc(after):
                changed.append(name)
        elif fold_text(before) != fold_text(after):
            changed.append(name)
    return tuple(changed)


def classify_change(
    old: Snapshot | None,
    new: Snapshot,
    *,
    fingerprint: str | None = None,
    history: Sequence[tuple[int, str]] = (),
    guard: Callable[[str | None, str | None], str | None] | None = extraction_suspect,
) -> ChangeClass:
    """Classify ``new`` against the previous version ``old`` (None for the first one).

    ``fingerprint`` and ``history`` (see ``find_revert``) detect a revert; ``guard``
    (``extraction_suspect`` by default, None to skip) flags a suspect body.
    """
    if old is None:
        return ChangeClass("first")
    metadata = _metadata_changes(old, new)
    sentences = tuple(
        _sentence_changes(
            split_sentences(old.text, title=old.title), split_sentences(new.text, title=new.title)
        )
    )
    substantive = any(
        change.kind != "edited" or _loose(change.old or "") != _loose(change.new or "")
        for change in sentences
    )
    content = [c for c in sentences if c.kind in ("added", "edited", "moved")]
    note = find_note(c.new for c in content if c.new)
    if note is None and "title" in metadata:
        note = find_note([new.title or ""])
    old_modified, new_modified = _as_utc(old.modified), _as_utc(new.modified)
    bumped = new_modified is not None and (old_modified is None or new_modified > old_modified)
    kind: Kind
    if substantive:
        kind = "substantive"
    elif metadata and set(metadata) != {"modified"}:
        kind = "metadata"
    else:
        kind = "cosmetic"
    revert = find_revert(fingerprint, history) if fingerprint else None
    return ChangeClass(
        kind=kind,
        metadata=metadata,
        sentences=sentences if kind == "substantive" else tuple(
            c for c in sentences if c.kind == "edited"
        ),
        note=note,
        modified_bumped=bumped,
        stealth=kind == "substantive" and not bumped and note is None and revert is None,
        revert_of=revert,
        suspect=guard(old.text, new.text) if guard is not None else None,
    )
