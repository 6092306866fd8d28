"""Full-text search: the user query grammar, its translation for each dialect,
and the index and queries of the two dialects (``SearchIndex``).

The grammar is that of Postgres ``websearch_to_tsquery``: words (all required),
``"quoted phrases"`` (an unbalanced quote closes at the end), ``-word`` or
``-"phrase"`` to exclude, ``OR`` between two terms, plus ``word*`` for a prefix.
Nothing the user types reaches the FTS5 or tsquery parser unquoted, so any
input either searches or raises ``SearchQueryError``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import islice
from typing import Any

import regex
import sqlalchemy as sa
from sqlmodel import Session

from editions.errors import SearchQueryError

from .db import Database
from .models import Article, UTCDateTime, Version

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# --- folding and segmentation: one tokenizer for both dialects ------------------------
#
# Both databases index the same token stream, produced here, so they answer a query
# alike: FTS5 gets the tokens joined by spaces (unicode61 then finds exactly them) and
# Postgres a tsvector built from them (its parser and locale never run). A query's
# words go through the same function.

# Scripts written without spaces between words: every character is a token, and a
# query's run of them is a phrase, so a word is found inside any longer run.
_SPACELESS = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Bopomofo}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
)
_TOKEN = regex.compile(
    rf"(?P<one>[[\p{{L}}\p{{N}}]&&[{_SPACELESS}]]\p{{M}}*)|[[\p{{L}}\p{{N}}]--[{_SPACELESS}]][[\p{{L}}\p{{N}}\p{{M}}]--[{_SPACELESS}]]*",
    regex.V1,
)
_MARKS = regex.compile(r"\p{M}+")
_ALNUM = regex.compile(r"[\p{L}\p{N}]+")
# Letters with a stroke have no Unicode decomposition; fold them as unaccent does.
_STROKES = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ŧ": "t", "ƀ": "b", "ı": "i", "ŀ": "l"}
)
_STROKED = [(chr(k), v) for k, v in _STROKES.items()]
# Postgres refuses lexemes over 2046 bytes; no real word is this long.
_MAX_TOKEN_CHARS = 500


@lru_cache(maxsize=65536)
def _fold(word: str, spaceless: bool) -> tuple[str, ...]:
    """Case-, accent- and width-folded tokens of one span of text."""
    if word.isascii():  # the common case, and the same answer as below
        return (word.lower(),) if len(word) <= _MAX_TOKEN_CHARS else ()
    if spaceless:
        # NFKC keeps kana voicing marks composed (が stays が); Thai marks go, as
        # FTS5's unicode61 treats combining marks as separators.
        word = _MARKS.sub("", unicodedata.normalize("NFKC", word))
        return (word,) if word else ()
    word = _MARKS.sub("", unicodedata.normalize("NFKD", word))
    word = unicodedata.normalize("NFC", word).casefold().lower().translate(_STROKES)
    return tuple(t for t in _ALNUM.findall(word) if len(t) <= _MAX_TOKEN_CHARS)


_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+")


def spans(text: str) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(start, end, folded tokens) for each word of ``text``, in order."""
    if text.isascii():  # the same spans as the general pattern, found faster
        for match in _ASCII_TOKEN.finditer(text):
            tokens = _fold(match.group(), False)
            if tokens:
                yield match.start(), match.end(), tokens
        return
    for match in _TOKEN.finditer(text):
        tokens = _fold(match.group(), match.group("one") is not None)
        if tokens:
            yield match.start(), match.end(), tokens


def tokens(text: str) -> list[str]:
    """The folded tokens of ``text``: what the index holds and what a query looks for.

    Case, accents and width are folded (``Café`` -> ``cafe``, ``Łódź`` -> ``lodz``);
    punctuation separates words (``e-mail`` -> ``e mail``, ``example.com/a_b`` ->
    ``example com a b``); Chinese, Japanese, Korean and Thai are one token per character.
    """
    return [t for _, _, folded in spans(text) for t in folded]


@dataclass(frozen=True)
class Term:
    """One searchable unit: a word, a phrase or a prefix, maybe excluded."""

    text: str
    negated: bool = False
    prefix: bool = False

    @property
    def words(self) -> list[str]:
        """The folded tokens this term looks for, in order (a phrase when several)."""
        return tokens(self.text)


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
    # Folded tokens are letters and digits only, so the quoted phrase needs no escaping
    # and unicode61 splits it exactly where tokens() did; '*' makes the last a prefix.
    return '"' + " ".join(term.words) + ('"*' if term.prefix else '"')


def to_tsquery_sql(query: Query) -> tuple[str, dict[str, Any]]:
    """A Postgres tsquery expression (SQL text + bind parameters).

    Each term is a tsquery literal of folded tokens (``'a' <-> 'b':*``), cast without
    a text search configuration, so Postgres' parser never re-splits what tokens() made.
    """
    params: dict[str, Any] = {}
    clauses = []
    for clause in query:
        parts = []
        for term in clause:
            name = f"q{len(params)}"
            lexemes = [f"'{w}'" for w in term.words]
            if term.prefix:
                lexemes[-1] += ":*"
            params[name] = " <-> ".join(lexemes)
            sql = f"CAST(:{name} AS tsquery)"
            parts.append(f"!!{sql}" if term.negated else sql)
        clauses.append("(" + " && ".join(parts) + ")")
    return " || ".join(clauses), params


# The most a document's tsvector may hold: Postgres refuses one over 1 MB and numbers
# positions up to 16383; both dialects index the same prefix of an article (see
# index_tokens), so both answer alike for an article of any size.
_TSVECTOR_BUDGET = 900_000
MAX_POSITIONS = 16383


def index_tokens(fields: list[str], max_words: int) -> list[list[str]]:
    """The tokens indexed for each field (title, byline, text), in field order.

    The index holds an article's first ``max_words`` tokens (title first), fewer if
    their distinct tokens would make Postgres' tsvector pass its size limit; the
    archived text itself is never cut. Fields are one position apart so no phrase
    spans two of them, as in FTS5's separate columns.
    """
    out: list[list[str]] = []
    budget = min(max_words, MAX_POSITIONS)
    position = 0
    size = 0
    seen: dict[str, int] = {}
    for field in fields:
        taken: list[str] = []
        out.append(taken)
        if position:
            position += 1  # the gap between fields
        for _, _, folded in spans(field):
            for token in folded:
                if position >= budget:
                    return out
                # A tsvector entry: 4-byte header + lexeme + padding, then 2 bytes per position.
                count = seen.get(token, 0)
                cost = (len(token.encode()) + 8) if count == 0 else (2 if count < 256 else 0)
                if size + cost > _TSVECTOR_BUDGET:
                    return out
                size += cost
                seen[token] = count + 1
                position += 1
                taken.append(token)
    return out


def tsvector_literal(fields: list[list[str]], weights: str = "ABC") -> str:
    """The tsvector of index_tokens()'s output, positions and weights as FTS5 sees them."""
    positions: dict[str, list[str]] = {}
    position = 0
    for weight, taken in zip(weights, fields, strict=True):
        if position:
            position += 1
        for token in taken:
            position += 1
            positions.setdefault(token, []).append(f"{position}{weight}")
    # Tokens are letters and digits only, so quoting them needs no escapes.
    return " ".join(f"'{t}':{','.join(p[:256])}" for t, p in positions.items())


# Snippet highlight markers: private-use characters that never occur in article
# text, so "did the text match?" is a reliable test; swapped for [ ] at the end.
_OPEN, _CLOSE = "\ue000", "\ue001"
# FTS5 bm25 column weights (title, byline, text): a title hit outranks a body hit.
_BM25 = "bm25(article_fts, 10.0, 2.0, 1.0)"
_SNIPPET_WORDS = 12


def _wanted(query: Query) -> list[tuple[list[str], bool]]:
    """What a snippet highlights: each searched term's tokens, and whether it is a prefix."""
    return [(term.words, term.prefix) for clause in query for term in clause if not term.negated]


def _scan(
    text: str, lo: int, hi: int, wanted: list[tuple[list[str], bool]]
) -> tuple[list[list[Any]], int]:
    """The words of text[lo:hi] as [start, end, hit], and the index of the first hit."""
    found: list[list[Any]] = []
    flat: list[tuple[int, str]] = []  # (index in found, token)
    first = -1
    longest = max((len(words) for words, _ in wanted), default=1)
    for start, end, folded in spans(text[lo:hi]):
        if first >= 0 and len(found) >= first + _SNIPPET_WORDS:
            break
        found.append([start + lo, end + lo, False])
        for token in folded:
            flat.append((len(found) - 1, token))
            for words, prefix in wanted:
                if not (token == words[-1] or (prefix and token.startswith(words[-1]))):
                    continue
                tail = flat[-len(words) :]
                if len(tail) == len(words) and [t for _, t in tail[:-1]] == words[:-1]:
                    for index, _ in tail:
                        found[index][2] = True
                    if first < 0:
                        first = tail[0][0]
        if len(flat) > 2 * longest + 4096:
            del flat[:-longest]  # only the last phrase's length is ever looked at
    return found, first


def _rough(text: str) -> list[str]:
    """``text`` folded as a whole, at C speed, in the ways tokens fold their words (for
    Latin words and for CJK), with offsets near the original ones: where to look."""
    if text.isascii():
        return [text.lower()]
    latin = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    latin = unicodedata.normalize("NFC", latin).casefold().lower()
    for letter, plain in _STROKED:  # str.translate would walk every character in Python
        if letter in latin:
            latin = latin.replace(letter, plain)
    return [latin, unicodedata.normalize("NFKC", text)]


_REACH = 400  # characters scanned around a likely match


def _candidates(text: str, wanted: list[tuple[list[str], bool]], limit: int = 16) -> list[int]:
    """Where the first word of a searched term occurs in a rough fold of the text."""
    places: set[int] = set()
    for rough in _rough(text):
        for words, _ in wanted:
            at = rough.find(words[0])
            while at >= 0 and len(places) < limit * 4:
                places.add(at)
                at = rough.find(words[0], at + 1)
    return sorted(places)[:limit]


def _snippet(text: str, wanted: list[tuple[list[str], bool]]) -> str:
    """A dozen words of ``text`` around its first match, matches between markers; made
    here from the archived text so both dialects show the same snippet."""
    wanted = [(words, prefix) for words, prefix in wanted if words]
    places = _candidates(text, wanted) if wanted else []
    found: list[list[Any]] = []
    first = -1
    # Scan the words around each likely place rather than the whole text; a rough
    # fold's offsets drift a little from the text's, hence the margin.
    for place in places:
        lo = max(place - _REACH, 0)
        space = text.find(" ", lo, place) if lo else -1
        lo = space + 1 if space >= 0 else lo
        hi = min(place + _REACH, len(text))
        space = text.rfind(" ", place, hi) if hi < len(text) else -1
        hi = space if space > 0 else hi
        found, first = _scan(text, lo, hi, wanted)
        if first >= 0:
            break
    else:
        if places:  # the rough fold misled us: look everywhere
            found, first = _scan(text, 0, len(text), wanted)
        else:  # no searched word occurs: the beginning
            found = [[a, b, False] for a, b, _ in islice(spans(text), _SNIPPET_WORDS)]
    # No match in this text: its beginning, as FTS5's snippet() would give.
    begin = max(first - 4, 0)  # a little context before the first match
    window = found[begin : begin + _SNIPPET_WORDS]
    if not window:
        return ""
    cursor, last = window[0][0], window[-1][1]
    parts = ["…"] if text[:cursor].strip() else []
    open_ = False
    for start, end, hit in window:
        between = text[cursor:start]
        if open_ and (not hit or between):
            parts.append(_CLOSE)
            open_ = False
        parts.append(between)
        if hit and not open_:
            parts.append(_OPEN)
            open_ = True
        parts.append(text[start:end])
        cursor = end
    if open_:
        parts.append(_CLOSE)
    if text[last:].strip():
        parts.append("…")
    return "".join(parts)


@dataclass
class SearchHit:
    """One search result; ``score`` is higher for better matches on both dialects."""

    article_id: int
    url: str
    title: str | None
    snippet: str
    score: float
    published: datetime | None
    source: str | None
    versions: int
    language: str | None


class SearchIndex:
    """The full-text index of every article's latest version, in the database's own dialect:
    FTS5 on SQLite, a weighted tsvector table on Postgres."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def index(self, session: Session, article_id: int, version: Version) -> None:
        """Make ``version`` the indexed text of its article (inside the caller's transaction)."""
        title, byline, text = index_tokens(
            [version.title or "", version.byline or "", version.text],
            int(self.db.settings.search_index_max_words),
        )
        params = {"id": article_id, "version_id": version.id}
        if self.db.dialect == "sqlite":
            session.execute(sa.text("DELETE FROM article_fts WHERE rowid = :id"), params)
            session.execute(
                sa.text(
                    "INSERT INTO article_fts(rowid, title, byline, text)"
                    " VALUES (:id, :title, :byline, :text)"
                ),
                {
                    **params,
                    "title": " ".join(title),
                    "byline": " ".join(byline),
                    "text": " ".join(text),
                },
            )
            return
        session.execute(
            sa.text(
                "INSERT INTO article_search(article_id, version_id, document)"
                " VALUES (:id, :version_id, CAST(:document AS tsvector))"
                " ON CONFLICT (article_id) DO UPDATE"
                " SET version_id = excluded.version_id, document = excluded.document"
            ),
            {**params, "document": tsvector_literal([title, byline, text])},
        )

    def forget(self, session: Session, article_id: int) -> None:
        """Drop an article deleted by a merge (Postgres' index row goes by cascade)."""
        if self.db.dialect == "sqlite":
            session.execute(
                sa.text("DELETE FROM article_fts WHERE rowid = :id"), {"id": article_id}
            )

    def search(
        self,
        query: str,
        *,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        language: str | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """Full-text search over the latest version of every article, best first."""
        parsed = parse_query(query, max_length=int(self.db.settings.search_max_query_length))
        if not isinstance(limit, int) or limit < 1:
            raise SearchQueryError(f"limit must be a positive whole number, got {limit!r}")
        where = []
        params: dict[str, Any] = {"limit": limit}
        binds = [sa.bindparam("limit", type_=sa.Integer)]
        if source is not None:
            where.append("a.source = :source")
            params["source"] = source
        if language is not None:
            # Languages are stored as lower-case codes; comparing the bare column lets
            # Postgres use its statistics (lower(column) has none and misleads the planner).
            where.append("a.language = lower(:language)")
            params["language"] = language
        for name, value, op in (("since", since, ">="), ("until", until, "<=")):
            if value is not None:
                where.append(f"coalesce(a.published, a.first_seen_at) {op} :{name}")
                params[name] = value
                binds.append(sa.bindparam(name, type_=UTCDateTime))
        filters = "".join(f" AND {w}" for w in where)
        if self.db.dialect == "sqlite":
            rows = self._search_sqlite(parsed, filters, params, binds)
        else:
            rows = self._search_postgres(parsed, filters, params, binds)
        if not rows:
            return []
        found = [r[0] for r in rows]
        # The snippet is cut from the indexed part of the text, no further.
        reach = int(self.db.settings.search_index_max_words) * 12
        with self.db.read() as session:
            articles = {
                a.id: a for a in session.scalars(sa.select(Article).where(Article.id.in_(found)))
            }
            texts = {
                row[0]: (row[1], row[2])
                for row in session.execute(
                    sa.select(
                        Version.article_id, Version.title, sa.func.substr(Version.text, 1, reach)
                    )
                    .join(Article, Article.id == Version.article_id)
                    .where(Version.article_id.in_(found), Version.number == Article.latest_version)
                )
            }
        wanted = _wanted(parsed)
        hits = []
        for article_id, score in rows:
            article = articles.get(article_id)
            if article is None:  # deleted between the two reads
                continue
            title, text = texts.get(article_id, (None, ""))
            snippet = _snippet(text or "", wanted)
            if _OPEN not in snippet and title:
                title_snippet = _snippet(title, wanted)
                if _OPEN in title_snippet:
                    snippet = title_snippet
            hits.append(
                SearchHit(
                    article_id=article_id,
                    url=article.canonical_url,
                    title=article.title,
                    snippet=snippet.replace(_OPEN, "[").replace(_CLOSE, "]"),
                    score=float(score),
                    published=article.published,
                    source=article.source,
                    versions=article.latest_version,
                    language=article.language,
                )
            )
        return hits

    def _search_sqlite(
        self, parsed: Query, filters: str, params: dict[str, Any], binds: list[Any]
    ) -> list[tuple[int, float]]:
        params = {
            **params,
            "match": to_fts5(parsed),
            "window": int(self.db.settings.search_rank_window),
        }
        # Rank within the newest SEARCH_RANK_WINDOW matches: a very broad query then
        # costs the same at 100k articles as at 10k (see the setting's comment).
        ranked_sql = sa.text(
            f"SELECT a.id, -{_BM25} AS score FROM article_fts JOIN article a ON a.id = article_fts.rowid"
            # The window is a rowid floor, a range FTS5 applies while it scans; an
            # `IN (ids)` list would re-run the full-text query once per id.
            f" WHERE article_fts MATCH :match{filters} AND article_fts.rowid >="
            " (SELECT coalesce(min(w.id), 0) FROM (SELECT article_fts.rowid AS id"
            "  FROM article_fts JOIN article a ON a.id = article_fts.rowid"
            f"  WHERE article_fts MATCH :match{filters}"
            "  ORDER BY article_fts.rowid DESC LIMIT :window) AS w)"
            f" ORDER BY {_BM25}, a.id LIMIT :limit"
        ).bindparams(*binds, sa.bindparam("window", type_=sa.Integer))
        with self.db.read() as session:
            try:
                ranked = session.execute(ranked_sql, params).all()
            except sa.exc.OperationalError as exc:
                # parse_query should make this unreachable; never leak a raw SQLite error.
                raise SearchQueryError(
                    f"cannot search for {params['match']!r}: {exc.orig}"
                ) from exc
        return [(i, s) for i, s in ranked]

    def _search_postgres(
        self, parsed: Query, filters: str, params: dict[str, Any], binds: list[Any]
    ) -> list[tuple[int, float]]:
        tsquery, query_params = to_tsquery_sql(parsed)
        # Two steps, each bounded: the newest SEARCH_RANK_WINDOW matches (the GIN
        # index finds them without reading documents), then ranking within those
        # (reading each tsvector is the costly part).
        join = " JOIN article a ON a.id = s.article_id" if filters else ""
        tsquery = f"({tsquery})"
        sql = sa.text(
            # MATERIALIZED keeps the planner on the GIN index: without the fence it may
            # walk the primary key backwards, reading every document, for a rare word.
            "WITH matches AS MATERIALIZED ("
            f"  SELECT s.article_id FROM article_search s{join}"
            f"  WHERE s.document @@ {tsquery}{filters}),"
            " window_ AS (SELECT article_id FROM matches ORDER BY article_id DESC LIMIT :window)"
            f" SELECT s.article_id, ts_rank_cd(s.document, {tsquery}) AS score"
            " FROM article_search s JOIN window_ w ON w.article_id = s.article_id"
            " ORDER BY score DESC, s.article_id LIMIT :limit"
        ).bindparams(*binds, sa.bindparam("window", type_=sa.Integer))
        values = {
            **params,
            **query_params,
            "window": int(self.db.settings.search_rank_window),
        }
        with self.db.read() as session:
            rows = session.execute(sql, values).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]
