"""Per-host template learning on real article texts: template lines never decide a version."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from worker.boilerplate import HostTemplate
from worker.version import decision_lines, fingerprint

TEMPLATE = ["Sign up for our morning newsletter", "Share this article", "Most read"]
REDESIGN = "Listen to this article - 4 min"


def _articles(corpus: Path, limit: int = 60) -> list[tuple[str, str]]:
    found = []
    for truth in sorted((corpus / "articles").glob("*/ground_truth.json")):
        data = json.loads(truth.read_text(encoding="utf-8"))
        if data.get("text") and len(data["text"].split()) > 80:
            found.append((data.get("title") or truth.parent.name, data["text"]))
    assert len(found) >= 30
    return found[:limit]


def _page(text: str, extra: list[str]) -> str:
    return "\n\n".join([*extra[:1], text, *extra[1:]])


def test_template_lines_learnt_article_lines_not(corpus: Path) -> None:
    host = HostTemplate()
    articles = _articles(corpus)
    for index, (title, text) in enumerate(articles):
        host.observe(decision_lines(_page(text, TEMPLATE), title=title), page=f"/a/{index}")
    assert all(host.is_boilerplate(line) for line in TEMPLATE)
    article_lines = [line for _, text in articles for line in decision_lines(text)]
    flagged = [line for line in article_lines if host.is_boilerplate(line)]
    # Article text is (almost) never template: only lines several stories share verbatim.
    assert len(flagged) <= len(article_lines) * 0.01, flagged[:5]


def test_a_redesign_stops_making_versions_after_a_few_pages(corpus: Path) -> None:
    host = HostTemplate()
    articles = _articles(corpus)
    stored: dict[int, str] = {}
    for index, (title, text) in enumerate(articles[:30]):
        page = _page(text, TEMPLATE)
        host.observe(decision_lines(page, title=title), page=f"/a/{index}")
        stored[index] = fingerprint(title, None, page, boilerplate=host.is_boilerplate)
    # The redesign: every page now carries a new line. Revisit each archived article.
    false_versions = 0
    for index, (title, text) in enumerate(articles[:30]):
        page = _page(text, [*TEMPLATE, REDESIGN])
        host.observe(decision_lines(page, title=title), page=f"/a/{index}")
        now = fingerprint(title, None, page, boilerplate=host.is_boilerplate)
        old = fingerprint(title, None, _page(text, TEMPLATE), boilerplate=host.is_boilerplate)
        false_versions += now != old
    # Until min_pages pages carry the new line, it may still count.
    assert false_versions <= host.min_pages - 1
    assert host.is_boilerplate(REDESIGN)


def test_real_edits_still_count_on_a_learnt_host(corpus: Path) -> None:
    host = HostTemplate()
    articles = _articles(corpus)
    for index, (title, text) in enumerate(articles):
        host.observe(decision_lines(_page(text, TEMPLATE), title=title), page=f"/a/{index}")
    title, text = articles[3]
    page = _page(text, TEMPLATE)
    edited = page.replace(text, text + "\n\nThe mayor resigned on Friday.")
    check = host.is_boilerplate
    assert fingerprint(title, None, edited, boilerplate=check) != fingerprint(
        title, None, page, boilerplate=check
    )
    # The template churning (a line dropped) is no edit.
    churned = page.replace("Most read", "")
    assert fingerprint(title, None, churned, boilerplate=check) == fingerprint(
        title, None, page, boilerplate=check
    )


def test_revisits_of_one_page_count_once() -> None:
    host = HostTemplate(min_pages=3)
    for _ in range(10):
        host.observe(["Only on this page"], page="/one")
    assert host.pages == 1
    assert not host.is_boilerplate("Only on this page")
    host.observe(["Only on this page", "Added later"], page="/one")
    host.observe(["Only on this page"], page="/two")
    host.observe(["Only on this page"], page="/three")
    assert host.is_boilerplate("Only on this page")
    assert not host.is_boilerplate("Added later")


def test_memory_is_bounded() -> None:
    rng = random.Random(3)
    host = HostTemplate(max_lines=500, max_pages=100)
    for page in range(2_000):
        lines = [f"unique line {rng.random()}" for _ in range(20)] + TEMPLATE
        host.observe(lines, page=f"/p/{page}")
        assert len(host) <= 500
    assert len(host.to_dict()["seen"]) <= 100 and len(host._visits) <= 100
    # The template survives eviction: frequent lines are kept first.
    assert all(host.is_boilerplate(line) for line in TEMPLATE)


def test_round_trips_through_json() -> None:
    host = HostTemplate(min_pages=2)
    for page in range(5):
        host.observe([*TEMPLATE, f"story {page}"], page=f"/p/{page}")
    again = HostTemplate.from_dict(json.loads(json.dumps(host.to_dict())))
    assert again.to_dict() == host.to_dict()
    assert again.is_boilerplate("Share this article") and not again.is_boilerplate("story 1")
    # Folding: the same line with curly quotes or other case is the same line.
    assert again.is_boilerplate("share this  ARTICLE")
    again.observe(["story 1"], page="/p/1")
    assert again.pages == host.pages


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        HostTemplate(min_pages=1)
    with pytest.raises(ValueError):
        HostTemplate(min_share=0)
    with pytest.raises(ValueError):
        HostTemplate.from_dict({"format": 99})


def test_a_sentence_a_few_stories_share_is_not_template() -> None:
    # A busy host: 40 pages revisited round after round; five of them, in different
    # rounds, gain the same standard correction sentence. It is article text.
    host = HostTemplate()
    note = "Correction: An earlier version of this article misstated the date."
    for round_ in range(6):
        for page in range(40):
            lines = [*TEMPLATE, f"story {page} paragraph"]
            if page % 8 == 0 and page // 8 <= round_:
                lines.append(note)
            host.observe(lines, page=f"/p/{page}")
    assert not host.is_boilerplate(note)
    assert all(host.is_boilerplate(line) for line in TEMPLATE)
    assert host.pages == 40 and host.tick == 240
