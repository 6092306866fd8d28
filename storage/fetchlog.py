"""The fetch log: one row per HTTP request the worker made."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session

from .db import Database
from .models import Fetch


@dataclass
class FetchEntry:
    """One request as the worker saw it; ``row()`` turns it into the logged ``Fetch``."""

    url: str
    source: str | None
    kind: str
    started_at: datetime
    duration: float
    status: int | None
    size: int
    outcome: str
    error: str | None = None
    article_id: int | None = None
    capture_sha256: str | None = None
    headers: Mapping[str, str] | None = None

    def row(self) -> Fetch:
        return Fetch(
            url=self.url,
            host=(urlsplit(self.url).hostname or "").lower(),
            source=self.source,
            kind=self.kind,
            article_id=self.article_id,
            started_at=self.started_at,
            duration_ms=round(self.duration * 1000),
            status_code=self.status,
            bytes=self.size,
            outcome=self.outcome,
            error=self.error,
            capture_sha256=self.capture_sha256,
            headers=(
                json.dumps(dict(self.headers), ensure_ascii=False)
                if self.headers is not None
                else None
            ),
        )


class FetchLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, entry: FetchEntry) -> int:
        """Log one request in its own transaction; returns the fetch id."""
        with self.db.write() as session:
            return self.add(session, entry)

    @staticmethod
    def add(session: Session, entry: FetchEntry) -> int:
        """Log one request inside the caller's transaction; returns the fetch id."""
        fetch = entry.row()
        session.add(fetch)
        session.flush()
        assert fetch.id is not None
        return fetch.id
