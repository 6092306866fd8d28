"""schedules.sources: the TOML sources file and its error messages."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from editions.settings import Settings
from schedules.sources import (
    MIN_EVERY,
    Source,
    SourcesError,
    add_source,
    default_sources_path,
    load_sources,
    parse_duration,
    parse_sources,
    remove_source,
    write_sources_text,
)

ROOT = Path(__file__).resolve().parent.parent

VALID = """\
# two sources
[[source]]
name = "gazette-feed"
url = "https://www.gazette.example/feed.xml"
kind = "feed"
every = "10m"

[[source]]
name = "gazette-map"
url = "https://www.gazette.example/sitemap.xml"
kind = "sitemap"
every = "1h30m"
allow = "/news/"
deny = "/live/"

[[source]]
name = "front"
url = "https://www.gazette.example/"
kind = "page"
every = "1d"
"""


def test_valid_file(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(VALID, encoding="utf-8")
    feed, sitemap, page = load_sources(path)
    assert feed == Source(
        name="gazette-feed",
        url="https://www.gazette.example/feed.xml",
        kind="feed",
        every=timedelta(minutes=10),
    )
    assert (sitemap.kind, sitemap.every, sitemap.allow, sitemap.deny) == (
        "sitemap",
        timedelta(hours=1, minutes=30),
        "/news/",
        "/live/",
    )
    assert (page.kind, page.every) == ("page", timedelta(days=1))


def test_matches_applies_allow_and_deny():
    [_, sitemap, page] = parse_sources(VALID)
    assert sitemap.matches("https://www.gazette.example/news/2024/a")
    assert not sitemap.matches("https://www.gazette.example/news/live/a")
    assert not sitemap.matches("https://www.gazette.example/sport/a")
    assert page.matches("https://anything.example/")


def test_as_dict_round_trips_through_json():
    for source in parse_sources(VALID):
        data = json.loads(json.dumps(source.as_dict()))
        assert data["every"] == source.every.total_seconds()
        again = Source.from_dict(data)
        assert again == source
        assert again.matches("https://www.gazette.example/news/x") == source.matches(
            "https://www.gazette.example/news/x"
        )


def test_from_dict_accepts_duration_strings_and_reports_fields():
    source = Source.from_dict(
        {"name": "a", "url": "https://e.example/", "kind": "feed", "every": "5m"}
    )
    assert source.every == timedelta(minutes=5)
    with pytest.raises(SourcesError, match="source 'a': field 'kind'"):
        Source.from_dict({"name": "a", "url": "https://e.example/", "kind": "rss", "every": 600})


def _uncommented(text: str) -> str:
    entry = re.compile(r"^# (\[\[source\]\]|\w+ = )")
    return "\n".join(line[2:] if entry.match(line) else line for line in text.splitlines())


def test_shipped_example_reaches_nothing_until_uncommented():
    # The shipped file must not send anyone's first `editions run` to the internet.
    assert load_sources(ROOT / "schedules" / "sources.toml") == []


def test_shipped_example_parses():
    text = _uncommented((ROOT / "schedules" / "sources.toml").read_text())
    sources = parse_sources(text, "sources.toml")
    assert len(sources) >= 3
    assert {s.kind for s in sources} == {"feed", "sitemap", "page"}
    assert len({s.name for s in sources}) == len(sources)


def test_shipped_example_parses_from_its_relative_path(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert load_sources("schedules/sources.toml") == []


def test_default_sources_path(tmp_path, monkeypatch):
    shipped = (ROOT / "schedules" / "sources.toml").resolve()
    monkeypatch.chdir(tmp_path)  # found from anywhere, not just the project root
    assert default_sources_path(Settings.from_env({})).resolve() == shipped
    mine = tmp_path / "mine.toml"
    monkeypatch.setenv("EDITIONS_SOURCES", str(mine))
    assert default_sources_path(Settings.from_env()) == mine
    assert default_sources_path(Settings.from_env({}, sources=str(mine))) == mine


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d 2h", timedelta(days=1, hours=2)),
        (" 90M ", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "often", "10 minutes", "m", "1.5h", "-5m", "10m30h"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def _source(*lines: str) -> str:
    return "\n".join(["[[source]]", *lines]) + "\n"


GOOD_A = _source('name = "a"', 'url = "https://e.example/a"', 'kind = "feed"', 'every = "10m"')

# (text, line, field, words in the message). Line numbers are 1-based in the text.
ERRORS = [
    # missing field: reported at the table header
    (
        GOOD_A + "\n" + _source('name = "b"', 'url = "https://e.example/b"', 'kind = "feed"'),
        7,
        "every",
        "missing",
    ),
    (
        _source('url = "https://e.example/a"', 'kind = "feed"', 'every = "10m"'),
        1,
        "name",
        "missing",
    ),
    # bad kind
    (
        _source('name = "a"', 'url = "https://e.example/a"', 'kind = "blog"', 'every = "10m"'),
        4,
        "kind",
        "'blog' is not one of feed, sitemap, page",
    ),
    # bad duration
    (
        _source('name = "a"', 'url = "https://e.example/a"', 'kind = "feed"', 'every = "often"'),
        5,
        "every",
        "not a duration",
    ),
    # too often
    (
        _source('name = "a"', 'url = "https://e.example/a"', 'kind = "feed"', 'every = "30s"'),
        5,
        "every",
        "minimum is 1m",
    ),
    # bad regexes
    (
        _source(
            'name = "a"',
            'url = "https://e.example/a"',
            'kind = "feed"',
            'every = "10m"',
            'allow = "(news"',
        ),
        6,
        "allow",
        "not a valid regular expression",
    ),
    (
        _source(
            'name = "a"',
            'url = "https://e.example/a"',
            'kind = "feed"',
            'every = "10m"',
            'deny = "*live"',
        ),
        6,
        "deny",
        "not a valid regular expression",
    ),
    # duplicate name: at the second table's name line
    (GOOD_A + "\n" + GOOD_A, 8, "name", "duplicate name"),
    # non-http URLs
    (
        _source('name = "a"', 'url = "ftp://e.example/a"', 'kind = "feed"', 'every = "10m"'),
        3,
        "url",
        "scheme 'ftp'",
    ),
    (
        _source('name = "a"', 'url = "/feed.xml"', 'kind = "feed"', 'every = "10m"'),
        3,
        "url",
        "not an absolute http(s) URL",
    ),
    # unknown key (a typo), with a suggestion
    (
        _source('name = "a"', 'url = "https://e.example/a"', 'kind = "feed"', 'evry = "10m"'),
        5,
        "evry",
        "did you mean 'every'?",
    ),
    # wrong types
    (
        _source('name = "a"', 'url = "https://e.example/a"', 'kind = "feed"', "every = true"),
        5,
        "every",
        "boolean",
    ),
    (
        _source("name = 7", 'url = "https://e.example/a"', 'kind = "feed"', 'every = "10m"'),
        2,
        "name",
        "expected a string",
    ),
    (
        _source('name = ""', 'url = "https://e.example/a"', 'kind = "feed"', 'every = "10m"'),
        2,
        "name",
        "non-empty",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), ERRORS)
def test_errors_name_file_line_and_field(tmp_path, text, line, field, words):
    path = tmp_path / "my-sources.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ")
    assert f"field {field!r}" in message
    assert words in message
    assert (caught.value.line, caught.value.field) == (line, field)


def test_error_names_the_source():
    text = (
        GOOD_A
        + "\n"
        + _source('name = "second"', 'url = "https://e.example/b"', 'kind = "x"', 'every = "1h"')
    )
    with pytest.raises(SourcesError, match=r"^feeds\.toml:10: source 'second': field 'kind': "):
        parse_sources(text, "feeds.toml")


def test_every_problem_is_reported_at_once(tmp_path):
    # Three bad fields in one table and one in another: all four, each with line and field.
    path = tmp_path / "s.toml"
    path.write_text(
        _source('name = "a"', 'url = "ftp://e.example/a"', 'kind = "rss"', 'every = "often"')
        + _source('name = "b"', 'url = "https://e.example/b"', 'kind = "feed"', 'every = "5s"'),
        encoding="utf-8",
    )
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    error = caught.value
    located = [(p.line, p.source, p.field) for p in error.problems]
    assert located == [(3, "a", "url"), (4, "a", "kind"), (5, "a", "every"), (10, "b", "every")]
    message = str(error)
    assert message.startswith(f"{path}: 4 problems")
    for line, _, field in located:
        assert f"{path}:{line}: " in message and f"field {field!r}" in message
    assert all(p.path == str(path) for p in error.problems)


def test_one_problem_is_its_own_only_problem():
    with pytest.raises(SourcesError) as caught:
        parse_sources(_source('name = "a"', 'url = "https://e.example/"', 'kind = "x"'), "s.toml")
    # kind is wrong and every is missing: two problems, the missing one at the header line.
    assert [(p.line, p.field) for p in caught.value.problems] == [(1, "every"), (4, "kind")]
    with pytest.raises(SourcesError) as caught:
        parse_sources(GOOD_A.replace('"feed"', '"x"'), "s.toml")
    assert caught.value.problems == [caught.value] and caught.value.field == "kind"


@pytest.mark.parametrize("every", ["often", "10 minutes", "5s"])
def test_every_hints_are_valid(every):
    text = _source(
        'name = "a"', 'url = "https://e.example/"', 'kind = "feed"', f'every = "{every}"'
    )
    with pytest.raises(SourcesError) as caught:
        parse_sources(text, "s.toml")
    hinted = re.findall(r"'(\d\w*)'", str(caught.value))
    assert hinted, str(caught.value)
    # Every duration the message suggests must itself be accepted.
    for hint in hinted:
        parse_sources(text.replace(f'"{every}"', f'"{hint}"'), "s.toml")


def test_toml_syntax_error_has_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(GOOD_A + '[[source]]\nname = "b\n', encoding="utf-8")
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}:7: not valid TOML")


def test_single_table_instead_of_array():
    with pytest.raises(SourcesError, match=r"^s\.toml:2: 'source' must be an array of tables"):
        parse_sources('# x\n[source]\nname = "a"\n', "s.toml")


def test_unknown_top_level_key():
    with pytest.raises(SourcesError, match=r"^s\.toml:1: unknown top-level key 'sources'"):
        parse_sources('[[sources]]\nname = "a"\n', "s.toml")


def test_missing_file(tmp_path):
    with pytest.raises(SourcesError, match="no such sources file"):
        load_sources(tmp_path / "nope.toml")


def test_file_not_utf8(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[[source]]\nname = "caf\xe9"\n')
    with pytest.raises(SourcesError, match="not UTF-8"):
        load_sources(path)


def test_empty_file_has_no_sources():
    assert parse_sources("# nothing yet\n") == []


def test_source_constructor_validates():
    with pytest.raises(SourcesError, match="field 'every'"):
        Source(name="a", url="https://e.example/", kind="feed", every=MIN_EVERY / 2)
    with pytest.raises(SourcesError, match="field 'allow'"):
        Source(name="a", url="https://e.example/", kind="feed", every=MIN_EVERY, allow="[")


def test_sources_error_is_a_value_error():
    assert issubclass(SourcesError, ValueError)


def test_sources_watcher_notices_edits_once(tmp_path):
    from schedules.sources import SourcesWatcher

    path = tmp_path / "sources.toml"
    path.write_text("")
    watcher = SourcesWatcher(path)
    assert watcher.changed() is False
    path.write_text(
        '[[source]]\nname = "a"\nurl = "https://example.com/f"\nkind = "feed"\nevery = "5m"\n'
    )
    assert watcher.changed() is True
    assert watcher.changed() is False
    path.unlink()
    assert watcher.changed() is True


# --- editing the file: add_source / remove_source (issue 12 item 9) ----------------------

COMMENTED = """\
# my sources: keep this header

# The gazette, polled often
[[source]]
name = "gazette"   # the local paper
url = "https://gazette.example/feed.xml"
kind = "feed"
every = "10m"

# The harbour board's sitemap
[[source]]
name = "harbour"
url = "https://harbour.example/sitemap.xml"
kind = "sitemap"
every = "1h"
deny = '/archive/\\d+'
"""


def _new(name: str = "tide", **fields: object) -> Source:
    values: dict[str, object] = {
        "name": name,
        "url": "https://tide.example/rss",
        "kind": "feed",
        "every": "15m",
    }
    values.update(fields)
    return Source.from_dict(values)


def test_add_source_keeps_everything_and_appends():
    source = _new(allow=r"/news/\d+")
    text = add_source(COMMENTED, source)
    assert text.startswith(COMMENTED.rstrip("\n"))  # byte for byte, comments included
    assert parse_sources(text) == [*parse_sources(COMMENTED), source]
    assert '\n\n[[source]]\nname = "tide"' in text  # a blank line before the new table
    assert 'every = "15m"' in text and "allow = '/news/\\d+'" in text


def test_add_source_to_an_empty_or_commented_file():
    assert parse_sources(add_source("", _new())) == [_new()]
    shipped = (ROOT / "schedules" / "sources.toml").read_text(encoding="utf-8")
    text = add_source(shipped, _new())
    assert text.startswith(shipped.rstrip("\n")) and parse_sources(text) == [_new()]


def test_add_source_refuses_a_duplicate_name():
    with pytest.raises(SourcesError, match="already") as caught:
        add_source(COMMENTED, _new("harbour"))
    assert caught.value.field == "name" and caught.value.line == 12


def test_add_source_refuses_to_edit_a_broken_file():
    broken = COMMENTED.replace('kind = "sitemap"', 'kind = "atlas"')
    with pytest.raises(SourcesError, match="field 'kind'"):
        add_source(broken, _new(), "s.toml")


def test_remove_source_takes_its_comment_and_keeps_the_rest():
    text = remove_source(COMMENTED, "gazette")
    assert [s.name for s in parse_sources(text)] == ["harbour"]
    assert "gazette" not in text and "polled often" not in text
    assert text.startswith("# my sources: keep this header\n\n# The harbour board's sitemap\n")
    text = remove_source(COMMENTED, "harbour")
    assert [s.name for s in parse_sources(text)] == ["gazette"]
    assert "harbour" not in text and text.endswith('every = "10m"\n')
    assert "# The gazette, polled often" in text


def test_remove_then_add_round_trips():
    text = add_source(remove_source(COMMENTED, "harbour"), parse_sources(COMMENTED)[1])
    assert parse_sources(text) == parse_sources(COMMENTED)


def test_remove_source_unknown_name():
    with pytest.raises(SourcesError, match=r"no source named 'nosuch'.*gazette, harbour"):
        remove_source(COMMENTED, "nosuch")


def test_write_sources_is_atomic_and_keeps_the_mode(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    path.chmod(0o640)
    write_sources_text(path, add_source(COMMENTED, _new()))
    assert [s.name for s in load_sources(path)] == ["gazette", "harbour", "tide"]
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # no temp file left
# --- issue 9: per-source ignore rules ---------------------------------------------------

IGNORING = _source(
    'name = "a"',
    'url = "https://e.example/a"',
    'kind = "feed"',
    'every = "10m"',
    "ignore = ['Updated [0-9]+ minutes? ago', '^Advertisement$']",
)


def test_ignore_rules_are_parsed_and_compiled():
    (source,) = parse_sources(IGNORING)
    assert source.ignore == ("Updated [0-9]+ minutes? ago", "^Advertisement$")
    assert [p.pattern for p in source.ignore_patterns] == list(source.ignore)
    assert source.ignore_patterns[0].search("Updated 5 minutes ago")
    # Without the field there are no rules, and the decision is untouched.
    (plain,) = parse_sources(GOOD_A)
    assert plain.ignore == () and plain.ignore_patterns == ()


def test_ignore_rules_keep_real_edits_and_drop_noise():
    from worker.version import fingerprint

    (source,) = parse_sources(IGNORING)
    text = "The council met.\n\nUpdated 5 minutes ago\n\nAdvertisement"
    churned = "The council met.\n\nUpdated 2 minutes ago"
    rules = source.ignore_patterns
    assert fingerprint("T", None, text, ignore=rules) == fingerprint("T", None, churned, ignore=rules)
    edited = churned.replace("met", "adjourned")
    assert fingerprint("T", None, edited, ignore=rules) != fingerprint("T", None, text, ignore=rules)


def test_ignore_round_trips_through_as_dict():
    (source,) = parse_sources(IGNORING)
    again = Source.from_dict(json.loads(json.dumps(source.as_dict())))
    assert again == source and again.ignore_patterns[1].pattern == "^Advertisement$"
    # A single regex on its own is one rule.
    single = Source.from_dict({**source.as_dict(), "ignore": "^Advertisement$"})
    assert single.ignore == ("^Advertisement$",)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("['(unclosed']", "not a valid regular expression"),
        ("[7]", "expected a list of regex strings, found int"),
        ("7", "expected a list of regex strings, got int"),
        ("['']", "an empty pattern would match everywhere"),
    ],
)
def test_bad_ignore_rules_name_the_line_and_field(tmp_path, value, words):
    text = _source(
        'name = "a"', 'url = "https://e.example/a"', 'kind = "feed"', 'every = "10m"',
        f"ignore = {value}",
    )  # fmt: skip
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    assert (caught.value.line, caught.value.field) == (6, "ignore")
    assert words in str(caught.value)
