"""Datasette opens an archive usefully: the reading views, their search, the metadata file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from datasette.app import Datasette

from editions.demo.run import run_demo

METADATA = Path(__file__).resolve().parent.parent / "storage" / "datasette" / "metadata.json"


def _get(ds: Datasette, path: str) -> Any:
    async def fetch() -> Any:
        response = await ds.client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        return response.json()

    return asyncio.run(fetch())


def test_datasette_searches_the_latest_versions_and_lists_edits(tmp_path: Path) -> None:
    # The metadata file names the database after the default archive file, editions.db.
    database = tmp_path / "editions.db"
    figures = run_demo(database_url=f"sqlite:///{database}", echo=lambda *a, **k: None)
    ds = Datasette([str(database)], metadata=json.loads(METADATA.read_text()))

    tables = _get(ds, "/editions.json")
    views = {v["name"] for v in tables["views"]}
    assert {"latest_version", "edits"} <= views

    latest = _get(ds, "/editions/latest_version.json?_shape=array&_size=max")
    assert len(latest) == figures["articles"]
    assert all(row["text"] for row in latest)

    found = _get(ds, "/editions/latest_version.json?_shape=array&_search=bridge")
    assert found and all("bridge" in (row["title"] + row["text"]).lower() for row in found)
    assert any(row["url"] in figures["changed"] for row in found)  # type: ignore[operator]

    edits = _get(ds, "/editions/edits.json?_shape=array")
    assert sorted(row["url"] for row in edits) == sorted(figures["changed"])  # type: ignore[arg-type]
    assert all(row["version"] == 2 and row["change"] for row in edits)

    info = _get(ds, "/-/metadata.json")
    assert info["title"] == "editions news archive"
