"""The work itself: fetch, extract, discover, canonicalise, version.

``celery -A worker worker`` finds the Celery app as ``worker.app``. It is
built on first access only, so importing ``worker.fetch`` and friends never
pulls in Celery. That access is a process entry point like the CLI, so it is
the one place in this package that reads ``EDITIONS_*`` settings from the
environment (Celery's own CLI gives no other way to pass them in).
"""

from __future__ import annotations

from typing import Any

from worker.response import FetchResult, Outcome

__all__ = ["FetchResult", "Outcome", "app"]

_app: Any = None


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        global _app
        if _app is None:
            from editions.settings import Settings
            from worker.celery_app import create_app

            _app = create_app(Settings.from_env())
        return _app
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
