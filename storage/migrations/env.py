"""Alembic environment: runs over the connection handed in by ``storage.migrate``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from storage import models
from storage.engine import create_engine
from storage.migrate import include_object

config = context.config
target_metadata = models.SQLModel.metadata

# Each concurrent migrator takes this lock first, so only one applies migrations.
POSTGRES_LOCK_KEY = 0x6564_6974  # "edit"


def run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        # SQLite does transactional DDL fine; one BEGIN IMMEDIATE transaction
        # serialises concurrent migrators on the same file.
        transactional_ddl=True,
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY}
            )
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            render_as_batch=True,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            run(connection)
            connection.commit()
    finally:
        engine.dispose()


main()
