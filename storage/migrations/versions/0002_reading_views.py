"""Reading views (Datasette and SQL users) and an index for the newest edits.

``latest_version``: each article with its latest version's fields and text.
``edits``: every version after the first, with its change summary.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LATEST = """
CREATE VIEW latest_version AS
SELECT a.id AS article_id, a.canonical_url AS url, a.source, a.status,
       v.number AS version, v.fetched_at, a.first_seen_at, v.title, v.byline,
       v.published, v.modified, v.language, v.section, v.change, v.text
FROM article a JOIN version v ON v.article_id = a.id AND v.number = a.latest_version
"""

EDITS = """
CREATE VIEW edits AS
SELECT v.id AS version_id, v.article_id, a.canonical_url AS url, a.source,
       v.number AS version, v.fetched_at, v.title, v.words_added, v.words_removed, v.change
FROM version v JOIN article a ON a.id = v.article_id
WHERE v.number > 1
"""


def upgrade() -> None:
    # The recent-changes page and feeds read the newest versions first.
    op.create_index("ix_version_fetched_at", "version", ["fetched_at"])
    op.execute(LATEST)
    op.execute(EDITS)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS edits")
    op.execute("DROP VIEW IF EXISTS latest_version")
    op.drop_index("ix_version_fetched_at", table_name="version")
