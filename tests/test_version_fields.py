"""One record per stage: what extraction yields is what the archive stores and shows.

Adding a metadata field to what is archived means adding it to the extractor's
``Extracted`` and to the model ``storage.models.VersionContent`` (with its
migration); these tests fail until both agree, and prove that such a field then
flows through ingest, storage and ``Editions.show`` with no other change.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa

from editions.api import Editions
from editions.demo.site import LocalSite
from editions.settings import Settings
from storage.models import Version, VersionContent
from worker.extract import Extracted, extract_article
from worker.pipeline import ingest_article

# What an extraction yields that is not content of a version: the URL it was
# extracted from (the fetch log keeps it) and the site's name (not archived).
NOT_ARCHIVED = {"url", "site_name"}

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Ferry fares rise again | The Harbour Gazette</title>
<meta property="og:title" content="Ferry fares rise again">
<meta property="og:description" content="The island ferry raises its fares for the third time.">
<meta property="og:image" content="{base}/img/ferry.jpg">
<meta property="og:site_name" content="The Harbour Gazette">
<meta property="article:section" content="Transport">
<meta property="article:published_time" content="2026-03-14T09:30:00+00:00">
<meta property="article:modified_time" content="2026-03-15T10:00:00+00:00">
<meta name="author" content="Dana Whitfield">
<link rel="canonical" href="{base}/news/ferry-fares">
</head><body>
<main><article>
<h1>Ferry fares rise again</h1>
<p class="byline">By Dana Whitfield</p>
<p>The island ferry company announced on Monday that fares will rise by eight percent
from April, the third increase in two years, citing fuel costs and crew wages.</p>
<p>Commuters who cross the strait every day said the rise would cost them more than two
hundred pounds a year, and the council asked the company to publish its accounts.</p>
<p>The company said a season ticket would still be cheaper than a monthly parking
permit on the mainland, and that the timetable would not change this summer.</p>
</article></main></body></html>
"""


def content_fields() -> set[str]:
    return set(VersionContent.model_fields)


def test_every_extracted_field_is_version_content_and_back() -> None:
    extracted = {f.name for f in dataclasses.fields(Extracted)}
    assert extracted - content_fields() == NOT_ARCHIVED
    assert content_fields() <= extracted
    columns = {c.key for c in sa.inspect(Version).columns}
    assert content_fields() <= columns


def test_extracted_fields_flow_through_to_show(site: LocalSite, database_url: str) -> None:
    url = site.url("/news/ferry-fares")
    page = PAGE.format(base=site.url("").rstrip("/"))
    site.add("/news/ferry-fares", page)
    extracted = extract_article(page, url)
    for name in content_fields():
        # Every field is set on this page, so a field lost on the way would show.
        assert getattr(extracted, name) is not None, name
    settings = Settings(allow_private_addresses=True, host_delay=0.0, max_retries=0)
    with Editions(database_url, settings=settings) as ed:
        result = ingest_article(ed.pipeline, url)
        assert result.action == "new"
        stored = ed.archive.get_version(result.article_id)  # type: ignore[arg-type]
        shown = ed.show(url)
    assert stored is not None
    for name in content_fields():
        value = getattr(extracted, name)
        assert getattr(stored, name) == value, name
        if name == "canonical_url":
            continue  # show's canonical_url is the article's key, the same URL here
        assert shown[name] == (value.isoformat() if isinstance(value, datetime) else value), name
    assert shown["canonical_url"] == url
