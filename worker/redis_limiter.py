"""Per-host politeness shared by every worker on every machine, kept in Redis.

``RedisHostLimiter.wait`` reserves the next free slot for a host with one Lua
script, so reservations from any number of processes never collide: each
caller gets a slot at least ``min_delay`` after the previous one and sleeps
until it. Redis' own clock (``TIME``) is the only clock involved, so skew
between machines does not matter.

A host whose fetches keep failing is backed off: ``record_failure`` opens a
window, doubling per failure in a row, in which the tasks leave the host alone
(``backoff_remaining``); ``record_success`` closes it.
"""

from __future__ import annotations

import hashlib
import logging
import time

import redis

from editions.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "editions:host:"

# KEYS[1]: the host's last reserved slot (ms). ARGV[1]: minimum delay (ms).
# Returns how many ms the caller must wait before its slot.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local delay = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]))
local slot = now
if last and last + delay > now then slot = last + delay end
redis.call('SET', KEYS[1], slot, 'PX', slot - now + delay + 1000)
return slot - now
"""

# KEYS[1]: failures in a row, KEYS[2]: backed off until (key TTL = the window).
# ARGV[1]: base backoff (ms), ARGV[2]: maximum backoff (ms). Returns the window (ms).
_FAIL = """
local failures = redis.call('INCR', KEYS[1])
local window = math.min(tonumber(ARGV[1]) * 2 ^ math.min(failures - 1, 30), tonumber(ARGV[2]))
window = math.floor(window)
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) * 2))
if window > 0 then
  redis.call('SET', KEYS[2], failures, 'PX', window)
end
return window
"""


class RedisHostLimiter:
    """A ``HostLimiter`` (see ``worker.politeness``) shared through Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        settings: Settings | None = None,
        prefix: str = PREFIX,
    ) -> None:
        settings = settings or Settings.defaults()
        self.client = client
        self.prefix = prefix
        self.backoff = float(settings.host_failure_backoff)
        self.backoff_max = float(settings.host_failure_backoff_max)
        self._reserve = client.register_script(_RESERVE)
        self._fail = client.register_script(_FAIL)

    @classmethod
    def from_url(cls, url: str, *, settings: Settings | None = None) -> RedisHostLimiter:
        return cls(
            redis.Redis.from_url(url, socket_timeout=10, retry_on_timeout=True), settings=settings
        )

    def _key(self, host: str, what: str) -> str:
        # Hashed so any host string makes a short, safe key.
        digest = hashlib.sha1(host.lower().encode("utf-8")).hexdigest()[:20]
        return f"{self.prefix}{digest}:{what}"

    def reserve(self, host: str, min_delay: float) -> float:
        """Reserve the host's next slot; returns the seconds until it (0 if now)."""
        if min_delay < 0:
            raise ValueError(f"min_delay must be >= 0, got {min_delay}")
        if not host:
            raise ValueError("host must be a non-empty string")
        wait_ms = self._reserve(keys=[self._key(host, "slot")], args=[int(min_delay * 1000)])
        return max(0, int(wait_ms)) / 1000.0

    def wait(self, host: str, min_delay: float) -> None:
        """Block until ``host`` may be hit again, then hold that slot."""
        pause = self.reserve(host, min_delay)
        if pause > 0:
            log.debug("waiting %.2fs before hitting %s again", pause, host)
            time.sleep(pause)

    # --- failing hosts -----------------------------------------------------------
    def record_failure(self, host: str) -> float:
        """Count a failure in a row; returns the seconds the host is now backed off."""
        window = self._fail(
            keys=[self._key(host, "failures"), self._key(host, "backoff")],
            args=[int(self.backoff * 1000), int(self.backoff_max * 1000)],
        )
        seconds = int(window) / 1000.0
        log.warning("host %s keeps failing: leaving it alone for %.0fs", host, seconds)
        return seconds

    def record_success(self, host: str) -> None:
        """The host answered: forget its failures and end any backoff."""
        self.client.delete(self._key(host, "failures"), self._key(host, "backoff"))

    def backoff_remaining(self, host: str) -> float:
        """Seconds the host is still backed off for (0 if it is not)."""
        ttl = self.client.pttl(self._key(host, "backoff"))
        return max(0, int(ttl)) / 1000.0

    def failures(self, host: str) -> int:
        """Failures in a row recorded for the host."""
        value = self.client.get(self._key(host, "failures"))
        return int(value) if value else 0
