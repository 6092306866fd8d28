"""Initial schema: sources, articles, aliases, captures, fetch log, versions, search index.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canonical_url", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("body_sha256", sa.String(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("byline", sa.String(), nullable=True),
        sa.Column("published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article")),
        sa.UniqueConstraint("canonical_url", name=op.f("uq_article_canonical_url")),
    )
    op.create_index("ix_article_source", "article", ["source"])
    op.create_index("ix_article_status_next_check_at", "article", ["status", "next_check_at"])
    # Search filters by date on this expression; the index also gives Postgres
    # statistics for it, without which it misjudges how many rows a date filter keeps.
    op.create_index(
        "ix_article_published_or_seen",
        "article",
        [sa.text("coalesce(published, first_seen_at)")],
    )

    op.create_table(
        "capture",
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("codec", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=True),
        sa.Column("base_sha256", sa.String(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_sha256"], ["capture.sha256"], name=op.f("fk_capture_base_sha256_capture")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_capture")),
    )
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("every_seconds", sa.Float(), nullable=False),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source")),
        sa.UniqueConstraint("name", name=op.f("uq_source_name")),
    )
    op.create_table(
        "alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_alias_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias")),
        sa.UniqueConstraint("url", name=op.f("uq_alias_url")),
    )
    op.create_index("ix_alias_article_id", "alias", ["article_id"])

    op.create_table(
        "fetch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("capture_sha256", sa.String(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_fetch_article_id_article"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch")),
    )
    op.create_index("ix_fetch_article_id", "fetch", ["article_id"])
    op.create_index("ix_fetch_host", "fetch", ["host"])
    op.create_index("ix_fetch_outcome", "fetch", ["outcome"])
    op.create_index("ix_fetch_started_at", "fetch", ["started_at"])

    op.create_table(
        "version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("byline", sa.String(), nullable=True),
        sa.Column("published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("section", sa.String(), nullable=True),
        sa.Column("image_url", sa.String(), nullable=True),
        sa.Column("canonical_url", sa.String(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("capture_sha256", sa.String(), nullable=True),
        sa.Column("fetch_id", sa.Integer(), nullable=True),
        sa.Column("words_added", sa.Integer(), nullable=False),
        sa.Column("words_removed", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_version_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["capture_sha256"], ["capture.sha256"], name=op.f("fk_version_capture_sha256_capture")
        ),
        sa.ForeignKeyConstraint(
            ["fetch_id"], ["fetch.id"], name=op.f("fk_version_fetch_id_fetch"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version")),
        sa.UniqueConstraint("article_id", "number", name=op.f("uq_version_article_id_number")),
    )
    op.create_index("ix_version_capture_sha256", "version", ["capture_sha256"])
    op.create_index("ix_version_text_sha256", "version", ["text_sha256"])
    create_search_index()


def downgrade() -> None:
    drop_search_index()
    op.drop_index("ix_version_text_sha256", table_name="version")
    op.drop_index("ix_version_capture_sha256", table_name="version")

    op.drop_table("version")
    op.drop_index("ix_fetch_started_at", table_name="fetch")
    op.drop_index("ix_fetch_outcome", table_name="fetch")
    op.drop_index("ix_fetch_host", table_name="fetch")
    op.drop_index("ix_fetch_article_id", table_name="fetch")

    op.drop_table("fetch")
    op.drop_index("ix_alias_article_id", table_name="alias")

    op.drop_table("alias")
    op.drop_table("source")
    op.drop_table("capture")
    op.drop_index("ix_article_published_or_seen", table_name="article")
    op.drop_index("ix_article_status_next_check_at", table_name="article")
    op.drop_index("ix_article_source", table_name="article")

    op.drop_table("article")


def create_search_index() -> None:
    """Full-text index over each article's latest version (one row per article)."""
    if op.get_bind().dialect.name == "sqlite":
        # rowid = article id; unicode61 folds case and diacritics for every language.
        op.execute(
            "CREATE VIRTUAL TABLE article_fts USING fts5("
            "title, byline, text, tokenize = 'unicode61 remove_diacritics 2')"
        )
        return
    # 'simple' config: no stemming or stop words, so every language behaves the same.
    op.create_table(
        "article_search",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("document", postgresql.TSVECTOR(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name="fk_article_search_article_id_article",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["version.id"],
            name="fk_article_search_version_id_version",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name="pk_article_search"),
    )
    op.create_index(
        "ix_article_search_document", "article_search", ["document"], postgresql_using="gin"
    )


def drop_search_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS article_fts")
    else:
        op.drop_table("article_search")
