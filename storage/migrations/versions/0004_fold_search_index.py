"""Rebuild the search index with editions' own tokens (folded, CJK per character), so an
archive made before them answers like a new one, on both databases (a data migration:
the tables do not change).

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.search import MAX_POSITIONS, index_tokens, tsvector_literal

revision: str = "0004"
# The lead re-chains this after the other branches' 0002 and 0003.
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    # Each article's latest version, in pages by article id: bounded memory at any size.
    # (The default word limit: a smaller EDITIONS_SEARCH_INDEX_MAX_WORDS applies from
    # each article's next version on.)
    page = sa.text(
        "SELECT v.article_id, v.id, v.title, v.byline, v.text FROM version v"
        " JOIN article a ON a.id = v.article_id AND v.number = a.latest_version"
        " WHERE v.article_id > :after ORDER BY v.article_id LIMIT :batch"
    )
    after = 0
    while True:
        rows = bind.execute(page, {"after": after, "batch": _BATCH}).all()
        if not rows:
            break
        after = rows[-1][0]
        documents = []
        for article_id, version_id, title, byline, text in rows:
            fields = index_tokens([title or "", byline or "", text or ""], MAX_POSITIONS)
            documents.append(
                {
                    "id": article_id,
                    "version_id": version_id,
                    "title": " ".join(fields[0]),
                    "byline": " ".join(fields[1]),
                    "text": " ".join(fields[2]),
                    "document": tsvector_literal(fields),
                }
            )
        if sqlite:
            bind.execute(
                sa.text("DELETE FROM article_fts WHERE rowid = :id"),
                [{"id": d["id"]} for d in documents],
            )
            bind.execute(
                sa.text(
                    "INSERT INTO article_fts(rowid, title, byline, text)"
                    " VALUES (:id, :title, :byline, :text)"
                ),
                documents,
            )
        else:
            bind.execute(
                sa.text(
                    "INSERT INTO article_search(article_id, version_id, document)"
                    " VALUES (:id, :version_id, CAST(:document AS tsvector))"
                    " ON CONFLICT (article_id) DO UPDATE"
                    " SET version_id = excluded.version_id, document = excluded.document"
                ),
                documents,
            )


def downgrade() -> None:
    # Nothing to undo in the schema; the folded index still answers plain words.
    pass
