"""The public surface, pinned: what users import is listed here, and changes on purpose only.

A name added to or removed from these lists is an API change: update the
README and this file together.
"""

from __future__ import annotations

import inspect
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import editions.api
import editions.errors
import worker
from editions.api import Editions
from editions.settings import Settings
from tests.pages import article_html
from worker.pipeline import ingest_article
from worker.response import FetchResult, Outcome

ROOT = Path(__file__).resolve().parent.parent

API_NAMES = {
    "ArticleNotFoundError",
    "Editions",
    "RunReport",
    "SearchQueryError",
    "VersionNotFoundError",
    "extract_file",
}
EDITIONS_METHODS = {
    "add_source",
    "archive",
    "articles",
    "broker_status",
    "capture",
    "changes",
    "close",
    "compare",
    "diff",
    "export",
    "export_wacz",
    "export_warc",
    "extract_file",
    "fetch_errors",
    "history",
    "import_warc",
    "notify",
    "pipeline",
    "poll_and_ingest",
    "revisit",
    "revisit_due",
    "run_forever",
    "run_once",
    "run_scheduler",
    "search",
    "remove_source",
    "show",
    "source_names",
    "sources",
    "sources_file",
    "status",
}
OUTCOMES = {
    "ok",
    "not_modified",
    "http_error",
    "timeout",
    "too_large",
    "blocked",
    "robots",
    "parse_error",
    "connection_error",
    "redirect_error",
    "bad_content",
}


def test_the_api_module_exports_exactly_these_names() -> None:
    assert set(editions.api.__all__) == API_NAMES
    for name in API_NAMES:
        assert hasattr(editions.api, name)


def test_editions_methods_are_pinned() -> None:
    public = {name for name in vars(Editions) if not name.startswith("_")}
    assert public == EDITIONS_METHODS


def test_editions_constructor_takes_clock_and_fetcher() -> None:
    params = inspect.signature(Editions).parameters
    assert list(params) == ["database_url", "sources_path", "settings", "clock", "fetcher", "create"]
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in list(params)[1:])


def test_fetch_result_and_outcomes_are_importable_from_worker() -> None:
    assert worker.FetchResult is FetchResult
    assert worker.Outcome is Outcome
    assert {o.value for o in Outcome} == OUTCOMES


def test_every_error_is_exported_and_rooted() -> None:
    for name in editions.errors.__all__:
        cls = getattr(editions.errors, name)
        assert issubclass(cls, editions.errors.EditionsError)


def test_bench_is_in_the_repository_but_not_installed() -> None:
    assert (ROOT / "bench" / "__main__.py").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not any(pattern.startswith("bench") for pattern in include)
    assert {"editions*", "worker*", "schedules*", "storage*"} <= set(include)


class ReplayFetcher:
    """A fetcher that answers from memory: what a simulation hands to Editions."""

    def __init__(self, pages: dict[str, str], clock: list[datetime]) -> None:
        self.pages, self.clock = pages, clock
        self.asked: list[str] = []

    def fetch(self, url: str, **options: object) -> FetchResult:
        self.asked.append(url)
        body = self.pages[url].encode()
        return FetchResult(
            url=url,
            final_url=url,
            outcome=Outcome.OK,
            status=200,
            headers={"content-type": "text/html; charset=utf-8"},
            body=body,
            started_at=self.clock[0],
            duration=0.01,
        )


def test_a_simulated_clock_and_fetcher_drive_the_real_pipeline(tmp_path: Path) -> None:
    url = "https://news.example.org/2026/03/council-budget"
    now = [datetime(2026, 3, 14, 8, 0, tzinfo=UTC)]
    paragraphs = [f"The council met on day {i} to talk about the budget." for i in range(8)]
    fetcher = ReplayFetcher({url: article_html(title="Council passes the budget", paragraphs=paragraphs)}, now)
    settings = Settings.defaults(database_url=f"sqlite:///{tmp_path / 'sim.db'}")
    with Editions(settings=settings, clock=lambda: now[0], fetcher=fetcher) as ed:
        result = ingest_article(ed.pipeline, url)
        assert result.action == "new"
        fetcher.pages[url] = article_html(title="Council passes the amended budget", paragraphs=paragraphs)
        now[0] = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
        changed = ingest_article(ed.pipeline, url)
        assert changed.action == "changed" and changed.version == 2
        history = ed.history(url)
    assert fetcher.asked == [url, url]
    fetched = [v["fetched_at"][:16] for v in history["versions"]]
    assert fetched == ["2026-03-14T08:00", "2026-03-14T09:30"]
