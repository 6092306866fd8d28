"""The archive: SQLModel tables, Alembic migrations, the repository and search."""

from .archive import (
    Archive,
    ArchiveError,
    ArticleNotFoundError,
    CaptureNotFoundError,
    InvalidInputError,
    NewVersion,
    SearchHit,
    UnknownSourceError,
)
from .engine import DatabaseURLError, create_engine
from .migrate import upgrade
from .models import Alias, Article, Capture, Fetch, Source, Version
from .search import SearchQueryError

__all__ = [
    "Alias",
    "Archive",
    "ArchiveError",
    "Article",
    "ArticleNotFoundError",
    "Capture",
    "CaptureNotFoundError",
    "DatabaseURLError",
    "Fetch",
    "InvalidInputError",
    "NewVersion",
    "SearchHit",
    "SearchQueryError",
    "Source",
    "UnknownSourceError",
    "Version",
    "create_engine",
    "upgrade",
]
