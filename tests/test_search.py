"""Full-text search over the archive, on SQLite (FTS5) and Postgres (tsvector)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from storage import Archive, NewVersion, SearchQueryError
from storage.search import Term, parse_query, to_fts5, to_tsquery_sql

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def publish(
    archive: Archive,
    url: str,
    *,
    title: str,
    text: str,
    source: str = "wire",
    language: str = "en",
    published: datetime | None = T0,
    byline: str | None = None,
) -> int:
    article, _ = archive.get_or_create_article(url, source=source, seen_at=T0)
    version = archive.add_version(
        article.id,
        NewVersion(
            fetched_at=T0,
            title=title,
            byline=byline,
            published=published,
            modified=None,
            language=language,
            section=None,
            image_url=None,
            canonical_url=url,
            description=None,
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            fingerprint=hashlib.sha256(f"{title}\n{text}".encode()).hexdigest(),
            capture_sha256=None,
            fetch_id=None,
        ),
    )
    assert version is not None
    return article.id


@pytest.fixture
def archive(database_url: str) -> Iterator[Archive]:
    with Archive(database_url) as a:
        yield a


@pytest.fixture
def newsroom(archive: Archive) -> dict[str, int]:
    """A few articles in two languages, from two sources, published on different days."""
    return {
        "flood": publish(
            archive,
            "https://news.test/flood",
            title="River flood closes the old bridge",
            text="Heavy rain overnight. The council closed the bridge after the river rose. "
            "Engineers will inspect it tomorrow.",
            byline="Maya Lindqvist",
        ),
        "budget": publish(
            archive,
            "https://news.test/budget",
            title="Council approves the budget",
            text="The new budget funds repairs to the bridge, the library and two schools. "
            "The vote was close.",
            published=T0 - timedelta(days=3),
        ),
        "election": publish(
            archive,
            "https://other.test/election",
            title="Élection municipale : le conseil sortant réélu",
            text="Le maire a remercié les électeurs. Le pont sera réparé cette année.",
            source="gazette",
            language="fr",
            published=None,  # falls back to first_seen_at (T0) for date filters
        ),
        "football": publish(
            archive,
            "https://news.test/football",
            title="Local team wins the cup",
            text="Supporters celebrated in the streets until late. The match ended 2-1.",
            published=T0 - timedelta(days=10),
        ),
    }


def ids(hits: list) -> list[int]:
    return [hit.article_id for hit in hits]


def test_title_hit_ranks_above_body_only_hit(archive: Archive, newsroom: dict[str, int]) -> None:
    hits = archive.search("bridge")
    assert ids(hits) == [newsroom["flood"], newsroom["budget"]]
    assert hits[0].score > hits[1].score > 0
    assert hits[0].url == "https://news.test/flood"
    assert hits[0].title == "River flood closes the old bridge"
    assert (hits[0].source, hits[0].language, hits[0].versions) == ("wire", "en", 1)
    assert hits[0].published == T0


def test_snippets_highlight_matches(archive: Archive, newsroom: dict[str, int]) -> None:
    (hit,) = archive.search("library")
    assert "[library]" in hit.snippet
    (hit,) = archive.search("Supporters")
    assert "[Supporters]" in hit.snippet


def test_snippet_falls_back_to_the_title(archive: Archive, newsroom: dict[str, int]) -> None:
    (hit,) = archive.search("cup")  # only in the title
    assert "[cup]" in hit.snippet


def test_byline_is_searchable(archive: Archive, newsroom: dict[str, int]) -> None:
    assert ids(archive.search("Lindqvist")) == [newsroom["flood"]]


def test_filters(archive: Archive, newsroom: dict[str, int]) -> None:
    assert ids(archive.search("bridge", source="wire", limit=1)) == [newsroom["flood"]]
    assert archive.search("bridge", source="gazette") == []
    assert ids(archive.search("conseil OR council", language="fr")) == [newsroom["election"]]
    assert set(ids(archive.search("conseil OR council", language="EN"))) == {
        newsroom["budget"],
        newsroom["flood"],
    }
    # since/until use `published`, or first_seen_at when the page had no date.
    recent = archive.search("the OR le", since=T0 - timedelta(days=1), limit=10)
    assert set(ids(recent)) == {newsroom["flood"], newsroom["election"]}
    older = archive.search("the", until=T0 - timedelta(days=2), limit=10)
    assert set(ids(older)) == {newsroom["budget"], newsroom["football"]}
    window = archive.search(
        "the", since=T0 - timedelta(days=5), until=T0 - timedelta(days=1), limit=10
    )
    assert ids(window) == [newsroom["budget"]]


def test_diacritics_and_case_are_folded(archive: Archive, newsroom: dict[str, int]) -> None:
    assert ids(archive.search("ÉLECTEURS")) == [newsroom["election"]]
    assert ids(archive.search("electeurs")) == [newsroom["election"]]
    assert ids(archive.search("réélu")) == ids(archive.search("reelu")) == [newsroom["election"]]


def test_grammar_phrases_exclusion_prefix_or(archive: Archive, newsroom: dict[str, int]) -> None:
    assert ids(archive.search('"the river rose"')) == [newsroom["flood"]]
    assert archive.search('"river the rose"') == []
    assert ids(archive.search('"river rose')) == [newsroom["flood"]]  # unbalanced quote
    assert ids(archive.search("bridge -flood")) == [newsroom["budget"]]
    assert ids(archive.search('bridge -"heavy rain"')) == [newsroom["budget"]]
    assert ids(archive.search("engin*")) == [newsroom["flood"]]
    assert ids(archive.search("libr* OR cup")) == [newsroom["budget"], newsroom["football"]] or ids(
        archive.search("libr* OR cup")
    ) == [newsroom["football"], newsroom["budget"]]
    assert set(ids(archive.search("cup or maire"))) == {newsroom["football"], newsroom["election"]}
    assert set(ids(archive.search("council bridge"))) == {newsroom["flood"], newsroom["budget"]}


def test_only_the_latest_version_is_indexed(archive: Archive) -> None:
    article_id = publish(
        archive,
        "https://news.test/edit",
        title="Minister resigns",
        text="The minister quit on Monday.",
    )
    assert ids(archive.search("Monday")) == [article_id]
    article, _ = archive.get_or_create_article("https://news.test/edit", source="wire", seen_at=T0)
    version = archive.add_version(
        article.id,
        NewVersion(
            fetched_at=T0 + timedelta(hours=2),
            title="Minister resigns after inquiry",
            byline=None,
            published=T0,
            modified=T0 + timedelta(hours=2),
            language="en",
            section=None,
            image_url=None,
            canonical_url=None,
            description=None,
            text="The minister quit on Tuesday after the inquiry report.",
            text_sha256="x",
            fingerprint="edited",
            capture_sha256=None,
            fetch_id=None,
        ),
    )
    assert version is not None and version.number == 2
    assert archive.search("Monday") == []
    (hit,) = archive.search("Tuesday")
    assert (hit.article_id, hit.versions, hit.title) == (
        article_id,
        2,
        "Minister resigns after inquiry",
    )
    assert len(archive.search("minister")) == 1  # one row per article, not per version


# Every one of these must either search or raise SearchQueryError, on both dialects.
HOSTILE = [
    '"unbalanced',
    "it's",
    "O'Brien's \"quote",
    '""',
    '"',
    "AND",
    "OR",
    "NOT",
    "bridge AND",
    "OR bridge",
    "bridge OR",
    "bridge OR OR flood",
    "NOT bridge",
    "bridge NOT",
    "*",
    "**",
    "bridge*",
    "*bridge",
    "-",
    "- -",
    "-bridge",
    "--bridge",
    "(",
    ")",
    "(bridge",
    "bridge)",
    ":",
    "title:bridge",
    "text:",
    "^bridge",
    "bridge^",
    "NEAR",
    "NEAR(bridge flood)",
    "NEAR(bridge flood, 2)",
    "bridge + flood",
    "{title}: bridge",
    "a & b | c ! d <-> e",
    "'; DROP TABLE article; --",
    "\\",
    "\x00bridge\x01",
    "🌊",
    "🌊 flood",
    "flood🌊",
    "中文 搜索",
    "مرحبا",
    "שלום",
    "ñandú",
    "x" * 900,
    "bridge " * 140,
    " ",
    "",
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_never_crash(
    archive: Archive, newsroom: dict[str, int], query: str
) -> None:
    try:
        hits = archive.search(query)
    except SearchQueryError as exc:
        assert str(exc)  # a message a user can read
        return
    assert isinstance(hits, list)
    for hit in hits:
        assert hit.article_id in newsroom.values()


def test_bad_queries_raise_search_query_error(archive: Archive, newsroom: dict[str, int]) -> None:
    for query in ["", "   ", "*", "-", '""', "🌊", "- -", "(", ":"]:
        with pytest.raises(SearchQueryError, match="no words to search for"):
            archive.search(query)
    with pytest.raises(SearchQueryError, match="only excludes"):
        archive.search("-bridge")
    with pytest.raises(SearchQueryError, match="limit is 1000"):
        archive.search("x" * 1001)
    with pytest.raises(SearchQueryError, match="limit must be"):
        archive.search("bridge", limit=0)
    with pytest.raises(SearchQueryError, match="must be text"):
        archive.search(None)  # type: ignore[arg-type]


def test_operator_words_are_ordinary_words(archive: Archive) -> None:
    article_id = publish(
        archive, "https://news.test/ops", title="To be or not to be", text="And near."
    )
    assert ids(archive.search("NOT")) == [article_id]
    assert ids(archive.search("near AND")) == [article_id]
    assert ids(archive.search('"or not"')) == [article_id]


# --- the parser itself (pure) -----------------------------------------------------


def test_parse_query_grammar() -> None:
    assert parse_query('fox "brown dog" -cat jump* OR wolf') == [
        [Term("fox"), Term("brown dog"), Term("cat", negated=True), Term("jump", prefix=True)],
        [Term("wolf")],
    ]
    # 'or' at either end is a word, as websearch_to_tsquery treats it.
    assert parse_query("Or fox or") == [[Term("Or"), Term("fox"), Term("or")]]
    assert parse_query("fox or or wolf") == [[Term("fox")], [Term("or"), Term("wolf")]]
    # A clause that only excludes cannot be searched by FTS5; it is dropped on both dialects.
    assert parse_query("fox or -wolf") == [[Term("fox")]]
    assert parse_query('"open quote') == [[Term("open quote")]]
    assert parse_query("- * fox") == [[Term("fox")]]


def test_translations_quote_every_term() -> None:
    # Terms reach both dialects as folded tokens: letters and digits only, quoted.
    query = parse_query('fox "say ""hi""" -title:x NEAR* OR ^y')
    assert to_fts5(query) == '("fox" AND "say" AND "hi" AND "near"*) NOT "title x" OR ("y")'
    sql, params = to_tsquery_sql(parse_query('jump* -Café OR "brown dog"'))
    assert sql == ("(CAST(:q0 AS tsquery) && !!CAST(:q1 AS tsquery)) || (CAST(:q2 AS tsquery))")
    assert params == {"q0": "'jump':*", "q1": "'cafe'", "q2": "'brown' <-> 'dog'"}


# Prefix-free queries whose clauses all contain a word: our translation must
# select exactly what Postgres' own websearch_to_tsquery selects.
WEBSEARCH_QUERIES = [
    "bridge",
    "bridge council",
    '"the river rose"',
    "bridge -flood",
    'bridge -"heavy rain"',
    "cup or maire",
    "cup OR bridge -library",
    "or bridge",
    "bridge or",
    "the -bridge -cup",
    "it's",
    "title:bridge",
]


# websearch_to_tsquery is a Postgres function: this comparison runs there only.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("query", WEBSEARCH_QUERIES)
def test_translation_agrees_with_websearch_to_tsquery(
    archive: Archive, newsroom: dict[str, int], query: str
) -> None:
    assert archive.dialect == "postgresql"
    import sqlalchemy as sa

    with archive.engine.connect() as conn:
        expected = set(
            conn.execute(
                sa.text(
                    "SELECT article_id FROM article_search"
                    " WHERE document @@ websearch_to_tsquery('simple', :q)"
                ),
                {"q": query},
            ).scalars()
        )
    assert set(ids(archive.search(query, limit=50))) == expected


def test_broad_queries_rank_within_the_newest_window(database_url: str) -> None:
    # A query matching more articles than SEARCH_RANK_WINDOW ranks the newest ones,
    # so its cost stays bounded as the archive grows.
    from editions.settings import Settings

    with Archive(database_url, settings=Settings(search_rank_window=3)) as small:
        for i in range(5):
            # The oldest articles are the best matches (the word in the title too).
            title = "harbour harbour" if i < 2 else f"story {i}"
            publish(small, f"https://news.test/{i}", title=title, text=f"harbour news {i}")
        hits = small.search("harbour")
        assert sorted(h.url for h in hits) == [f"https://news.test/{i}" for i in (2, 3, 4)]
        # A query with fewer matches than the window is ranked over all of them.
        assert [h.url for h in small.search("harbour news 0")] == ["https://news.test/0"]
