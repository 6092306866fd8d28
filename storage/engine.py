"""Database engines for SQLite (embedded default) and Postgres (psycopg 3).

Engines are built on demand, never at import time, so each process (and each
forked worker) makes its own.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from editions.errors import DatabaseURLError
from editions.settings import Settings

log = logging.getLogger(__name__)

# Execution option naming how a SQLite transaction begins; write sessions use
# IMMEDIATE so that a read-then-write transaction never fails with 'database is
# locked' halfway, read-only sessions use a plain (deferred) BEGIN.
SQLITE_BEGIN = "sqlite_begin"



def database_url(url: str | None = None, settings: Settings | None = None) -> str:
    """The URL to use: the given one, else ``EDITIONS_DATABASE_URL``."""
    if url:
        return url
    return (settings or Settings.defaults()).database_url


def create_engine(url: str | None = None, *, settings: Settings | None = None) -> sa.Engine:
    """An engine configured for concurrent use of the archive."""
    settings = settings or Settings.defaults()
    url = database_url(url, settings)
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseURLError(f"not a database URL: {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, float(settings.sqlite_busy_timeout))
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise DatabaseURLError(
        f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}: "
        "use sqlite:///path.db or postgresql+psycopg://user@host/db"
    )


def _sqlite_engine(url: sa.URL, busy_timeout: float) -> sa.Engine:
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": busy_timeout},
    }
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every connection would see its own empty database.
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's 'begin' event below instead of
        # letting pysqlite emit its own deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

    return engine
