"""Webhooks: a signed JSON POST per edit, retried with backoff, behind the fetcher's address guard.

The body is signed with HMAC-SHA256 over the exact bytes sent, in
``X-Editions-Signature: sha256=<hex>``, so a receiver can check it came from
this archive. Redirects are never followed and private addresses are refused
unless the settings allow them, exactly as for fetches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from editions.errors import FetchError
from editions.settings import Settings
from worker.fetch import _GuardedAdapter, _NoRedirectSession
from worker.netguard import parse_networks

log = logging.getLogger(__name__)

__all__ = ["WebhookSender", "sign"]

# Answers worth another try: the receiver is busy or briefly broken.
_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Posts payloads to ``settings.webhook_url``; ``post`` never raises for network trouble."""

    def __init__(
        self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self._session = _NoRedirectSession()
        self._session.trust_env = False  # an environment proxy would connect past the guard
        adapter = _GuardedAdapter(
            allow_private=bool(settings.allow_private_addresses),
            allowed_networks=parse_networks(settings.allowed_networks),
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    def post(self, payload: Mapping[str, Any]) -> bool:
        """Deliver one payload; True once the receiver answered 2xx."""
        url = self.settings.webhook_url
        body = json.dumps(dict(payload), ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.settings.user_agent,
            "X-Editions-Event": str(payload.get("event", "edit")),
        }
        if self.settings.webhook_secret:
            headers["X-Editions-Signature"] = sign(self.settings.webhook_secret, body)
        delay = self.settings.webhook_backoff
        attempts = self.settings.webhook_max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._session.post(
                    url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                )
            except FetchError as exc:
                # Refused by the address guard: no retry will change the address.
                log.warning("webhook %s refused: %s", url, exc)
                return False
            except requests.RequestException as exc:
                log.info("webhook %s attempt %d failed: %s", url, attempt, exc)
            else:
                response.close()
                if 200 <= response.status_code < 300:
                    return True
                if response.status_code not in _RETRY_STATUSES:
                    log.warning("webhook %s answered %d; not retried", url, response.status_code)
                    return False
                log.info("webhook %s attempt %d: HTTP %d", url, attempt, response.status_code)
            if attempt < attempts:
                self.sleep(delay)
                delay *= 2
        log.warning("webhook %s: gave up after %d attempts", url, attempts)
        return False

