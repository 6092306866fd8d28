"""The sources' rows: what to poll, and what the last poll found."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from editions.errors import InvalidInputError, UnknownSourceError
from editions.records import Source as SourceRecord

from .db import Database
from .models import Source


class Sources:
    def __init__(self, db: Database) -> None:
        self.db = db

    def sync(self, sources: Iterable[SourceRecord]) -> None:
        """Insert or update the sources' rows by name."""
        rows = []
        for source in sources:
            every = getattr(source, "every", None)
            if not isinstance(every, timedelta):
                raise InvalidInputError(
                    f"source {getattr(source, 'name', source)!r}: .every must be a timedelta, "
                    f"got {every!r}"
                )
            rows.append(
                {
                    "name": source.name,
                    "url": source.url,
                    "kind": source.kind,
                    "every_seconds": every.total_seconds(),
                }
            )
        if not rows:
            return
        with self.db.write() as session:
            for row in rows:
                stmt = self.db.insert(Source).values(**row)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["name"],
                    set_={k: stmt.excluded[k] for k in ("url", "kind", "every_seconds")},
                )
                session.execute(stmt)

    def get(self, name: str) -> Source | None:
        with self.db.read() as session:
            return session.scalars(sa.select(Source).where(Source.name == name)).first()

    def all(self) -> list[Source]:
        with self.db.read() as session:
            return list(session.scalars(sa.select(Source).order_by(Source.name)))

    def mark_polled(
        self,
        name: str,
        *,
        at: datetime,
        etag: str | None,
        last_modified: str | None,
        next_poll_at: datetime | None,
        outcome: str,
    ) -> None:
        with self.db.write() as session:
            result = session.execute(
                sa.update(Source)
                .where(Source.name == name)
                .values(
                    last_polled_at=at,
                    etag=etag,
                    last_modified=last_modified,
                    next_poll_at=next_poll_at,
                    last_outcome=outcome,
                )
            )
            if result.rowcount == 0:
                raise UnknownSourceError(f"no source named {name!r}; sync_sources() it first")
