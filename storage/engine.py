"""Database engines for SQLite (embedded default) and Postgres (psycopg 3).

Engines are built on demand, never at import time, so each process (and each
forked worker) makes its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from editions.errors import ArchiveNotFoundError, DatabaseUnavailableError, DatabaseURLError
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


def redact(url: str | sa.URL) -> str:
    """The URL as it may be shown: the password hidden."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return str(url)


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The file of an SQLite URL, or None (another database, or in memory)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def require_existing(url: str) -> None:
    """ArchiveNotFoundError if ``url`` names an SQLite file that does not exist."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise ArchiveNotFoundError(
            f"no archive at {path}: run `editions run --once` or `editions db upgrade` to "
            "create one, or point --database / EDITIONS_DATABASE_URL at an existing archive"
        )


def _hint(url: sa.URL, reason: str) -> str:
    text = reason.lower()
    if "does not exist" in text and url.get_backend_name() == "postgresql":
        return f"create the database (createdb {url.database}) or fix the URL"
    if "connection refused" in text or "could not connect" in text or "timeout" in text:
        return f"is the server running on {url.host or 'localhost'}:{url.port or 5432}?"
    if "password authentication failed" in text or "authentication" in text:
        return "check the user name and password"
    if "unable to open database file" in text:
        return "the folder must exist and be writable"
    if "file is not a database" in text:
        return "that file is not an SQLite database"
    return "check --database / EDITIONS_DATABASE_URL"


@contextmanager
def database_errors(url: str | sa.URL) -> Iterator[None]:
    """Turn a driver's connection failure into one DatabaseUnavailableError line."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DatabaseError) as exc:
        orig = getattr(exc, "orig", None) or exc
        reason = " ".join(str(orig).split()) or exc.__class__.__name__
        parsed = sa.make_url(url) if isinstance(url, str) else url
        raise DatabaseUnavailableError(
            f"cannot open the archive at {redact(parsed)}: {reason} ({_hint(parsed, reason)})"
        ) from None


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
