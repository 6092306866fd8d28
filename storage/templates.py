"""The learned templates of hosts: how often each text block recurs on a host's articles.

Stored in the archive (table ``host_block``) so that every worker, and every run,
learns from and uses the same counts. Bounded: a host keeps at most
:data:`MAX_BLOCKS_PER_HOST` blocks, the least recurring dropped first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from storage.models import HostBlock

log = logging.getLogger(__name__)

MAX_BLOCKS_PER_HOST = 2_000
# The row that counts the host's learned articles.
PAGES = ""


class HostTemplates:
    """Read and grow the per-host block counts in the archive behind ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def counts(self, host: str, fingerprints: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(articles learned for ``host``, pages seen per fingerprint among ``fingerprints``)."""
        wanted = sorted(set(fingerprints) | {PAGES})
        with Session(self.engine) as session:
            rows = session.exec(
                select(HostBlock.fingerprint, HostBlock.pages).where(
                    HostBlock.host == host,
                    HostBlock.fingerprint.in_(wanted),  # type: ignore[attr-defined]
                )
            ).all()
        seen = dict(rows)
        return seen.pop(PAGES, 0), seen

    def learn(self, host: str, fingerprints: Iterable[str]) -> None:
        """Count one more article of ``host`` holding these blocks; keep the host bounded."""
        with Session(self.engine) as session, session.begin():
            learn_in(session, host, fingerprints)


def learn_in(session: Session, host: str, fingerprints: Iterable[str]) -> None:
    """``HostTemplates.learn`` inside a caller's transaction (an ingest's one write).

    One upsert of every block, in a fixed order: two workers learning from two
    articles of one host at once must neither collide on a new block nor deadlock.
    """
    wanted = sorted(set(fingerprints) | {PAGES})
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = HostBlock.__table__  # type: ignore[attr-defined]
    stmt = insert(table).values(
        [{"host": host, "fingerprint": fingerprint, "pages": 1} for fingerprint in wanted]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["host", "fingerprint"], set_={"pages": table.c.pages + 1}
        )
    )
    session.flush()
    total = session.exec(
        select(sa.func.count()).select_from(HostBlock).where(HostBlock.host == host)
    ).one()
    excess = total - 1 - MAX_BLOCKS_PER_HOST
    if excess > 0:
        # Blocks seen once or twice are article text; the template is what recurs.
        victims = session.exec(
            select(HostBlock.fingerprint)
            .where(HostBlock.host == host, HostBlock.fingerprint != PAGES)
            .order_by(HostBlock.pages, HostBlock.fingerprint)
            .limit(excess)
        ).all()
        session.exec(  # type: ignore[call-overload]
            sa.delete(HostBlock).where(
                HostBlock.host == host,
                HostBlock.fingerprint.in_(victims),  # type: ignore[attr-defined]
            )
        )
        log.debug("host %s: dropped %d rare blocks to stay bounded", host, excess)
