"""Per-host request spacing: never hit one host more often than its minimum delay allows."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class HostLimiter(Protocol):
    """Decides when a host may be hit again (in-process now, Redis-backed later)."""

    def wait(self, host: str, min_delay: float) -> None:
        """Block until ``host`` may be hit again, then reserve that slot."""
        ...


class LocalHostLimiter:
    """A thread-safe, in-process HostLimiter.

    Slots are reserved under the lock and slept outside it, so threads waiting
    for one host queue up one delay apart without blocking other hosts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_slot: dict[str, float] = {}

    def wait(self, host: str, min_delay: float) -> None:
        if min_delay < 0:
            raise ValueError(f"min_delay must be >= 0, got {min_delay}")
        key = host.lower()
        with self._lock:
            now = time.monotonic()
            previous = self._last_slot.get(key)
            slot = now if previous is None else max(now, previous + min_delay)
            self._last_slot[key] = slot
        pause = slot - now
        if pause > 0:
            log.debug("waiting %.2fs before hitting %s again", pause, key)
            time.sleep(pause)
