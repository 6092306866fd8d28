"""The session helper every repository of the archive shares.

Writes run in one short transaction each. On SQLite they begin with
``BEGIN IMMEDIATE`` (see ``storage.engine``), which serialises writers; on
Postgres, per-article work locks the article row (``SELECT ... FOR UPDATE``)
and inserts that may race use ``ON CONFLICT``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from editions.settings import Settings

from .engine import SQLITE_BEGIN


class Database:
    """One engine, its settings, and the two kinds of session the archive uses."""

    def __init__(self, engine: sa.Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.dialect: str = engine.dialect.name
        self._read_engine = engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction, committed on success."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session that never takes SQLite's write lock."""
        with Session(self._read_engine, expire_on_commit=False) as session:
            yield session

    def insert(self, model: type[SQLModel]) -> Any:
        """An INSERT with this dialect's ``ON CONFLICT`` support."""
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(model)
