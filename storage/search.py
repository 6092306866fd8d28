"""Full-text search: the user query grammar and its translation for each dialect.

The grammar is that of Postgres ``websearch_to_tsquery``: words (all required),
``"quoted phrases"`` (an unbalanced quote closes at the end), ``-word`` or
``-"phrase"`` to exclude, ``OR`` between two terms, plus ``word*`` for a prefix.
Nothing the user types reaches the FTS5 or tsquery parser unquoted, so any
input either searches or raises ``SearchQueryError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from editions.errors import SearchQueryError

# Word characters as FTS5's unicode61 and Postgres' parser see them (no '_').
_WORD = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")



@dataclass(frozen=True)
class Term:
    """One searchable unit: a word, a phrase or a prefix, maybe excluded."""

    text: str
    negated: bool = False
    prefix: bool = False

    @property
    def words(self) -> list[str]:
        return _WORD.findall(self.text)


class _Or(str):
    """A bare 'or' word: the OR operator between two terms, else an ordinary word."""


# A query is a disjunction (OR) of clauses; a clause is a conjunction of terms.
Query = list[list[Term]]


def parse_query(text: str, *, max_length: int = 1000) -> Query:
    """Parse a user's search string; raise SearchQueryError if nothing is searchable."""
    if not isinstance(text, str):
        raise SearchQueryError(f"search query must be text, not {type(text).__name__}")
    if len(text) > max_length:
        raise SearchQueryError(
            f"search query is {len(text)} characters long; the limit is {max_length}"
        )
    tokens = _tokenise(_CONTROL.sub(" ", text))
    clauses: Query = [[]]
    for index, token in enumerate(tokens):
        if isinstance(token, _Or):
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if clauses[-1] and following is not None:
                clauses.append([])
            else:
                clauses[-1].append(
                    Term(str(token))
                )  # as in Postgres: a word when not between terms
        elif token.words:
            clauses[-1].append(token)
    clauses = [c for c in clauses if c]
    if not clauses:
        raise SearchQueryError(f"search query {_shorten(text)} has no words to search for")
    searchable = [c for c in clauses if any(not t.negated for t in c)]
    if not searchable:
        raise SearchQueryError(
            f"search query {_shorten(text)} only excludes words; add at least one word to look for"
        )
    return searchable


def _shorten(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _tokenise(text: str) -> list[Term | _Or]:
    """Split into Terms, and _Or where the user wrote a bare 'or' (any case)."""
    tokens: list[Term | _Or] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = False
        if text[i] == "-":
            negated = True
            i += 1
            if i >= n or text[i].isspace():
                continue  # a dangling '-' excludes nothing
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end == -1 else end
            tokens.append(Term(text[i + 1 : end], negated=negated))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] != '"':
            i += 1
        word = text[start:i]
        if not negated and word.lower() == "or":
            tokens.append(_Or(word))
            continue
        prefix = word.endswith("*")
        tokens.append(Term(word.rstrip("*"), negated=negated, prefix=prefix))
    return tokens


def to_fts5(query: Query) -> str:
    """An FTS5 MATCH expression: every term a quoted string, operators added by us."""
    clauses = []
    for clause in query:
        positive = " AND ".join(_fts5_term(t) for t in clause if not t.negated)
        negative = "".join(f" NOT {_fts5_term(t)}" for t in clause if t.negated)
        clauses.append(f"({positive}){negative}" if negative else f"({positive})")
    return " OR ".join(clauses)


def _fts5_term(term: Term) -> str:
    if term.prefix:
        # Inside quotes FTS5 applies its own tokenizer; the '*' makes the last token a prefix.
        return '"' + " ".join(term.words) + '"*'
    return '"' + term.text.replace('"', '""') + '"'


def to_tsquery_sql(query: Query) -> tuple[str, dict[str, Any]]:
    """A Postgres tsquery expression (SQL text + bind parameters), config 'simple'."""
    params: dict[str, Any] = {}
    clauses = []
    for clause in query:
        parts = []
        for term in clause:
            name = f"q{len(params)}"
            if term.prefix:
                # Lexemes are plain word characters, so this to_tsquery input is always valid.
                words = [w.lower() for w in term.words]
                params[name] = " <-> ".join([*words[:-1], words[-1] + ":*"])
                sql = f"to_tsquery('simple', :{name})"
            else:
                params[name] = term.text
                sql = f"phraseto_tsquery('simple', :{name})"
            parts.append(f"!!{sql}" if term.negated else sql)
        clauses.append("(" + " && ".join(parts) + ")")
    return " || ".join(clauses), params
