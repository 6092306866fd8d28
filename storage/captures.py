"""Raw captures: every distinct response body, zstd-compressed, stored once by sha256.

An article's next capture may be stored as a zstd delta against its previous
one (the previous body as compression dictionary) when that is smaller; the
delta chains are bounded so loading never replays a whole history.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import zstandard
from sqlmodel import Session

from editions.errors import ArchiveError, CaptureNotFoundError, InvalidInputError

from .db import Database
from .models import Capture

log = logging.getLogger(__name__)


@dataclass
class PreparedCapture:
    """A body hashed and compressed, ready to insert; ``values`` is None if already stored."""

    sha256: str
    values: dict[str, Any] | None


class Captures:
    def __init__(self, db: Database) -> None:
        self.db = db

    def store(
        self, body: bytes, *, content_type: str | None = None, base_sha256: str | None = None
    ) -> str:
        """Store a raw body once (by sha256) and return its hex digest.

        With ``base_sha256`` (the article's previous capture) the body is stored
        as a zstd delta against it when that is smaller.
        """
        prepared = self.prepare(body, content_type=content_type, base_sha256=base_sha256)
        if prepared.values is not None:
            with self.db.write() as session:
                self.add(session, prepared)
        return prepared.sha256

    def prepare(
        self, body: bytes, *, content_type: str | None = None, base_sha256: str | None = None
    ) -> PreparedCapture:
        """Hash and compress a body; done outside any write transaction, as it is the slow part
        and on SQLite a write transaction holds the database lock."""
        if not isinstance(body, bytes | bytearray | memoryview):
            raise InvalidInputError(f"capture body must be bytes, not {type(body).__name__}")
        body = bytes(body)
        digest = hashlib.sha256(body).hexdigest()
        if base_sha256 == digest:
            return PreparedCapture(digest, None)  # the article's own previous capture
        # No "already stored?" read first: a new body is the common case, compressing
        # costs less than that read, and the insert skips a body stored already.
        codec, data, base, depth = self._compress(body, base_sha256)
        values = {
            "sha256": digest,
            "codec": codec,
            "size": len(body),
            "stored_size": len(data),
            "content_type": content_type,
            "base_sha256": base,
            "depth": depth,
            "data": data,
            "created_at": datetime.now(UTC),
        }
        return PreparedCapture(digest, values)

    def add(self, session: Session, prepared: PreparedCapture) -> None:
        """Insert a prepared capture inside the caller's transaction (a racing twin wins)."""
        if prepared.values is None:
            return
        session.execute(
            self.db.insert(Capture)
            .values(**prepared.values)
            .on_conflict_do_nothing(index_elements=["sha256"])
        )

    def _compress(self, body: bytes, base_sha256: str | None) -> tuple[str, bytes, str | None, int]:
        level = int(self.db.settings.capture_compression_level)
        plain = zstandard.ZstdCompressor(level=level).compress(body)
        if base_sha256 is None:
            return "zstd", plain, None, 0
        with self.db.read() as session:
            base_depth = session.scalar(
                sa.select(Capture.depth).where(Capture.sha256 == base_sha256)
            )
        if base_depth is None:
            log.warning("delta base capture %s not found; storing plain zstd", base_sha256)
            return "zstd", plain, None, 0
        if base_depth >= int(self.db.settings.capture_max_delta_chain):
            # Bound the chain so loading a capture never replays an article's whole history.
            return "zstd", plain, None, 0
        dictionary = zstandard.ZstdCompressionDict(
            self.load(base_sha256), dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        delta = zstandard.ZstdCompressor(level=level, dict_data=dictionary).compress(body)
        if len(delta) < len(plain):
            return "zstd-delta", delta, base_sha256, base_depth + 1
        return "zstd", plain, None, 0

    def load(self, sha256: str) -> bytes:
        """The original bytes of a capture; CaptureNotFoundError if absent."""
        chain: list[Capture] = []
        with self.db.read() as session:
            wanted: str | None = sha256
            while wanted is not None:
                capture = session.get(Capture, wanted)
                if capture is None:
                    if not chain:
                        raise CaptureNotFoundError(f"no capture with sha256 {sha256!r}")
                    raise ArchiveError(
                        f"capture {chain[-1].sha256} refers to missing base {wanted}"
                    )
                chain.append(capture)
                wanted = capture.base_sha256 if capture.codec == "zstd-delta" else None
        body = b""
        for capture in reversed(chain):
            if capture.codec == "zstd":
                body = zstandard.ZstdDecompressor().decompress(capture.data)
            elif capture.codec == "zstd-delta":
                dictionary = zstandard.ZstdCompressionDict(
                    body, dict_type=zstandard.DICT_TYPE_RAWCONTENT
                )
                body = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(capture.data)
            else:
                raise ArchiveError(f"capture {capture.sha256} has unknown codec {capture.codec!r}")
        if hashlib.sha256(body).hexdigest() != sha256:
            raise ArchiveError(f"capture {sha256} is corrupt: its content no longer matches")
        return body

    def get(self, sha256: str) -> Capture | None:
        """The capture row (metadata and compressed data), or None."""
        with self.db.read() as session:
            return session.get(Capture, sha256)
