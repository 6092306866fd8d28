"""One scheduler at a time: a Redis lock with expiry and renewal.

Every ``editions scheduler`` process tries to take the lock; the one that gets
it leads (sends work), the others wait. The leader renews the lock well
before it expires; if the leader dies, its lock simply expires and a waiting
scheduler takes over within one TTL. A leader that fails to renew in time
(paused, cut off from Redis) learns it has lost the lock and stops sending.

Built on redis-py's ``Lock`` (a token lock: only the holder can extend or
release it) with a token naming the holder, so ``holder()`` says who leads.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

import redis
from redis.exceptions import LockError, LockNotOwnedError

from editions.errors import LeaderLockError

log = logging.getLogger(__name__)

DEFAULT_NAME = "editions:scheduler:leader"



def default_identity() -> str:
    """A token naming this process: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaderLock:
    """Leadership among schedulers sharing one Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        name: str = DEFAULT_NAME,
        ttl: float = 30.0,
        identity: str | None = None,
    ) -> None:
        if ttl <= 0:
            raise LeaderLockError(f"ttl must be positive, got {ttl}")
        self.client = client
        self.name = name
        self.ttl = float(ttl)
        self.identity = identity or default_identity()
        self._lock = client.lock(name, timeout=self.ttl, blocking=False, thread_local=False)
        self._held = False

    @property
    def is_leader(self) -> bool:
        """Whether this process believed itself leader at its last acquire/renew."""
        return self._held

    @property
    def renew_every(self) -> float:
        """Renew at a third of the TTL: two renewals may fail before the lock expires."""
        return self.ttl / 3.0

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True if this process now leads."""
        if self._held:
            return self.renew()
        try:
            self._held = bool(self._lock.acquire(blocking=False, token=self.identity))
        except redis.RedisError as exc:
            log.warning("leader lock %s: cannot reach Redis: %s", self.name, exc)
            self._held = False
        if self._held:
            log.info("leader lock %s: %s is now the leader", self.name, self.identity)
        return self._held

    def renew(self) -> bool:
        """Push the expiry a full TTL ahead; False (and no longer leader) if the lock was lost."""
        if not self._held:
            return False
        try:
            self._lock.reacquire()
        except LockNotOwnedError:
            log.warning("leader lock %s: lost (expired or taken over)", self.name)
            self._held = False
        except (LockError, redis.RedisError) as exc:
            # Cannot tell whether it still holds: act as a follower to be safe.
            log.warning("leader lock %s: cannot renew: %s", self.name, exc)
            self._held = False
        return self._held

    def release(self) -> None:
        """Give up leadership now (on a clean stop), so another takes over at once."""
        if not self._held:
            return
        self._held = False
        try:
            self._lock.release()
        except (LockError, redis.RedisError) as exc:
            log.info("leader lock %s: release: %s", self.name, exc)

    def holder(self) -> str | None:
        """The identity of the current leader, or None."""
        value = self.client.get(self.name)
        if value is None:
            return None
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
