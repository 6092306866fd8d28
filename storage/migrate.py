"""Alembic migrations, run programmatically (no alembic.ini or CWD needed)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from editions.settings import Settings

from .engine import create_engine, database_errors

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# Indexes on expressions, created in the migrations only.
HAND_MANAGED_INDEXES = frozenset({"ix_article_published_or_seen"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate filter: what is managed by hand in the migrations.

    The full-text tables are dialect-specific, and expression indexes are not
    something autogenerate can compare.
    """
    if type_ == "index" and name in HAND_MANAGED_INDEXES:
        return False
    return not (type_ == "table" and name and name.startswith(("article_fts", "article_search")))


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at this package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        # ConfigParser interpolation would choke on the '%' of URL-encoded options.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: sa.Connection) -> str | None:
    """The migration the database is at (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: sa.Engine) -> bool:
    """Whether the database schema is at the head migration."""
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
        return current_revision(connection) == head_revision()


def upgrade_engine(engine: sa.Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` over an existing engine."""
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def upgrade(url: str | None = None, *, settings: Settings | None = None) -> None:
    """Bring the database at ``url`` (default: EDITIONS_DATABASE_URL) to the newest schema."""
    engine = create_engine(url, settings=settings)
    try:
        with database_errors(engine.url):
            upgrade_engine(engine)
        log.info("database schema at %s", head_revision())
    finally:
        engine.dispose()
