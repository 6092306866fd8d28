"""The same story across outlets: syndicated and wire copies clustered with MinHash LSH.

A story cluster is a relation of its own, apart from the two the archive already
keeps: the versions of one URL (edits over time) and the aliases of one article
(URLs that turned out to be the same page). Two *different* articles, usually on
different sites, are one story when their texts share most of their word
shingles: a wire copy with a new dateline, a trimmed last paragraph, a few words
changed. Two stories on the same topic that merely share a background paragraph
are not.

``StoryIndex`` holds one MinHash signature per article (its latest text) in a
``datasketch`` LSH index: ``add`` returns the articles already indexed that are the
same story, ``clusters`` groups everything. Signatures are bytes
(``signature``/``StoryIndex.add_signature``) so the storage layer can keep them.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from worker.version import fold_text

__all__ = ["StoryIndex", "cluster_texts", "minhash", "shingles", "signature"]

NUM_PERM = 128
# Named explicitly so stored signatures stay comparable across datasketch releases.
SCHEME = "affine64"
SHINGLE = 5
# Estimated Jaccard similarity of 5-word shingles above which two texts are one story.
THRESHOLD = 0.5
# Texts with fewer words than this are too short to call copies (a stub, a caption).
MIN_WORDS = 40

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(fold_text(text).casefold())


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    """The text's overlapping ``size``-word shingles (folded, case-folded, no punctuation)."""
    words = _words(text)
    if len(words) < size:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def minhash(text: str, *, num_perm: int = NUM_PERM, size: int = SHINGLE) -> MinHash:
    """The MinHash of a text's word shingles (seeded: equal texts give equal signatures)."""
    sketch = MinHash(num_perm=num_perm, seed=1, scheme=SCHEME)
    found = shingles(text, size)
    if found:
        sketch.update_batch(list(found))
    return sketch


def signature(text: str, *, num_perm: int = NUM_PERM, size: int = SHINGLE) -> bytes:
    """A MinHash signature as bytes, for storage (``num_perm`` * 8 bytes)."""
    return np.asarray(minhash(text, num_perm=num_perm, size=size).hashvalues, np.uint64).tobytes()


def _from_signature(data: bytes, num_perm: int) -> MinHash:
    values = np.frombuffer(data, dtype=np.uint64)
    if len(values) != num_perm:
        raise ValueError(f"a signature of {len(values)} values, expected {num_perm}")
    return MinHash(num_perm=num_perm, seed=1, hashvalues=values.copy(), scheme=SCHEME)


@dataclass
class StoryIndex:
    """Articles indexed by the MinHash of their text; near copies are one story."""

    threshold: float = THRESHOLD
    num_perm: int = NUM_PERM
    min_words: int = MIN_WORDS
    _lsh: MinHashLSH = field(init=False, repr=False)
    _sketches: dict[Hashable, MinHash] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must be between 0 and 1")
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)

    def __len__(self) -> int:
        return len(self._sketches)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sketches

    def _matches(self, sketch: MinHash, exclude: Hashable | None = None) -> list[Hashable]:
        found = []
        for key in self._lsh.query(sketch):
            # LSH gives candidates; keep those whose estimated similarity passes.
            if key != exclude and self._sketches[key].jaccard(sketch) >= self.threshold:
                found.append(key)
        return sorted(found, key=repr)

    def add(self, key: Hashable, text: str) -> list[Hashable]:
        """Index ``key``'s text (replacing an older one); the keys already indexed it copies.

        A text under ``min_words`` words is not indexed (too short to tell copies apart).
        """
        if len(_words(text)) < self.min_words:
            self.remove(key)
            return []
        return self.add_signature(key, signature(text, num_perm=self.num_perm))

    def add_signature(self, key: Hashable, data: bytes) -> list[Hashable]:
        """``add`` for a stored signature (``signature(text)``)."""
        sketch = _from_signature(data, self.num_perm)
        self.remove(key)
        matches = self._matches(sketch)
        self._lsh.insert(key, sketch)
        self._sketches[key] = sketch
        return matches

    def query(self, text: str) -> list[Hashable]:
        """The indexed keys that are the same story as ``text`` (nothing is added)."""
        if len(_words(text)) < self.min_words:
            return []
        return self._matches(minhash(text, num_perm=self.num_perm))

    def similar(self, key: Hashable) -> list[Hashable]:
        """The other indexed keys of ``key``'s story."""
        sketch = self._sketches.get(key)
        return [] if sketch is None else self._matches(sketch, exclude=key)

    def remove(self, key: Hashable) -> None:
        if key in self._sketches:
            self._lsh.remove(key)
            del self._sketches[key]

    def clusters(self) -> list[set[Hashable]]:
        """Every story of two or more indexed articles (connected near copies)."""
        parent: dict[Hashable, Hashable] = {key: key for key in self._sketches}

        def root(key: Hashable) -> Hashable:
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        for key in self._sketches:
            for other in self.similar(key):
                a, b = root(key), root(other)
                if a != b:
                    parent[b] = a
        groups: dict[Hashable, set[Hashable]] = {}
        for key in self._sketches:
            groups.setdefault(root(key), set()).add(key)
        return [group for group in groups.values() if len(group) > 1]


def cluster_texts(items: Iterable[tuple[Hashable, str]], **options: Any) -> list[set[Hashable]]:
    """Stories among (key, text) pairs: the clusters of a fresh ``StoryIndex``."""
    index = StoryIndex(**options)
    for key, text in items:
        index.add(key, text)
    return index.clusters()
