"""Logging for the command line: what each verbosity shows, and JSON lines for shippers.

Levels, from quietest:

- default: warnings and errors (each failure once, on stderr); the long-running
  modes add their lifecycle lines, one line per poll and a periodic summary;
- ``-v``: one line per article outcome (new, changed, unchanged, failed), and
  editions' own progress;
- ``-vv``: debug lines, and the internals of the libraries (APScheduler,
  Celery, SQLAlchemy, Alembic, urllib3).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

PROJECT_LOGGERS = ("editions", "worker", "schedules", "storage")
# What a long-running mode shows at the default level: its own lifecycle and polls.
LIFECYCLE_LOGGERS = ("editions", "schedules", "worker.pipeline.polls")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(
    *, verbose: int = 0, level: str | None = None, fmt: str = "text", lifecycle: bool = False
) -> None:
    """Set up logging on stderr for one command (called again when options change)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_editions", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._editions = True  # type: ignore[attr-defined]
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)

    if level:
        explicit = getattr(logging, level.upper())
        root.setLevel(explicit)
        for name in PROJECT_LOGGERS:
            logging.getLogger(name).setLevel(explicit)
        return
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    project = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(project)
    logging.getLogger("worker.pipeline.polls").setLevel(logging.NOTSET)
    if lifecycle and verbose == 0:
        for name in LIFECYCLE_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
