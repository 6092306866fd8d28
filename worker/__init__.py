"""The work itself: fetch, extract, discover, canonicalise, version.

``celery -A worker worker`` finds the Celery app as ``worker.app``. It is
loaded on first access only, so importing ``worker.fetch`` and friends never
pulls in Celery.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        from worker.celery_app import app

        return app
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
