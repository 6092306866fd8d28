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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from editions.errors import SearchQueryError

from .db import Database
from .models import Article, UTCDateTime, Version

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


# Snippet highlight markers: private-use characters that never occur in article
# text, so "did the text match?" is a reliable test; swapped for [ ] at the end.
_OPEN, _CLOSE = "\ue000", "\ue001"
# FTS5 bm25 column weights (title, byline, text): a title hit outranks a body hit.
_BM25 = "bm25(article_fts, 10.0, 2.0, 1.0)"
_HEADLINE = f'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=30, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "'


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
        params = {
            "id": article_id,
            "version_id": version.id,
            "title": version.title or "",
            "byline": version.byline or "",
            "text": version.text,
        }
        if self.db.dialect == "sqlite":
            session.execute(sa.text("DELETE FROM article_fts WHERE rowid = :id"), params)
            session.execute(
                sa.text(
                    "INSERT INTO article_fts(rowid, title, byline, text)"
                    " VALUES (:id, :title, :byline, :text)"
                ),
                params,
            )
            return
        session.execute(
            sa.text(
                "INSERT INTO article_search(article_id, version_id, document) VALUES (:id, :version_id,"
                " setweight(to_tsvector('simple', :title), 'A')"
                " || setweight(to_tsvector('simple', :byline), 'B')"
                " || setweight(to_tsvector('simple', :text), 'C'))"
                " ON CONFLICT (article_id) DO UPDATE"
                " SET version_id = excluded.version_id, document = excluded.document"
            ),
            params,
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
        with self.db.read() as session:
            articles = {
                a.id: a
                for a in session.scalars(
                    sa.select(Article).where(Article.id.in_([r[0] for r in rows]))
                )
            }
        hits = []
        for article_id, score, text_snippet, title_snippet in rows:
            article = articles.get(article_id)
            if article is None:  # deleted between the two reads
                continue
            snippet = text_snippet or ""
            if _OPEN not in snippet and title_snippet and _OPEN in title_snippet:
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
    ) -> list[tuple[int, float, str, str]]:
        params = {
            **params,
            "match": to_fts5(parsed),
            "open": _OPEN,
            "close": _CLOSE,
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
                if not ranked:
                    return []
                # Snippets only for the hits we return, not for every match.
                snippet_sql = sa.text(
                    "SELECT rowid, snippet(article_fts, 2, :open, :close, '…', 12),"
                    " snippet(article_fts, 0, :open, :close, '…', 12)"
                    " FROM article_fts WHERE article_fts MATCH :match AND rowid IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True))
                snippets = {
                    row[0]: (row[1], row[2])
                    for row in session.execute(
                        snippet_sql, {**params, "ids": [r[0] for r in ranked]}
                    )
                }
            except sa.exc.OperationalError as exc:
                # parse_query should make this unreachable; never leak a raw SQLite error.
                raise SearchQueryError(
                    f"cannot search for {params['match']!r}: {exc.orig}"
                ) from exc
        return [(i, s, *snippets.get(i, ("", ""))) for i, s in ranked]

    def _search_postgres(
        self, parsed: Query, filters: str, params: dict[str, Any], binds: list[Any]
    ) -> list[tuple[int, float, str, str]]:
        tsquery, query_params = to_tsquery_sql(parsed)
        # Rank and limit first; ts_headline is costly, so only the top hits get one.
        # Three steps, each bounded: the newest SEARCH_RANK_WINDOW matches (the GIN
        # index finds them without reading documents), ranking within those (reading
        # each tsvector is the costly part), then headlines for the top hits only.
        join = " JOIN article a ON a.id = s.article_id" if filters else ""
        tsquery = f"({tsquery})"
        sql = sa.text(
            # MATERIALIZED keeps the planner on the GIN index: without the fence it may
            # walk the primary key backwards, reading every document, for a rare word.
            "WITH matches AS MATERIALIZED ("
            f"  SELECT s.article_id FROM article_search s{join}"
            f"  WHERE s.document @@ {tsquery}{filters}),"
            " window_ AS (SELECT article_id FROM matches ORDER BY article_id DESC LIMIT :window),"
            " top AS ("
            f"  SELECT s.article_id, s.version_id, ts_rank_cd(s.document, {tsquery}) AS score"
            "   FROM article_search s JOIN window_ w ON w.article_id = s.article_id"
            "   ORDER BY score DESC, s.article_id LIMIT :limit)"
            " SELECT top.article_id, top.score,"
            f" ts_headline('simple', v.text, {tsquery}, :headline),"
            f" ts_headline('simple', coalesce(v.title, ''), {tsquery}, :headline)"
            " FROM top JOIN version v ON v.id = top.version_id"
            " ORDER BY top.score DESC, top.article_id"
        ).bindparams(*binds, sa.bindparam("window", type_=sa.Integer))
        values = {
            **params,
            **query_params,
            "headline": _HEADLINE,
            "window": int(self.db.settings.search_rank_window),
        }
        with self.db.read() as session:
            rows = session.execute(sql, values).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]
