"""Flower, closed by default: ``python -m worker.flower [Flower options]``.

Flower (2.2) puts its pages and API behind ``--basic-auth`` or ``--auth``, but
out of the box it listens on every interface, answers ``/metrics`` and
``/healthcheck`` to anyone, starts without any auth at all, and lets an
authenticated user operate the cluster through its API: run any registered
task with any arguments (``/api/task/apply``, ``async-apply``, ``send-task``),
revoke or abort tasks, change rate and time limits, add or cancel queue
consumers, grow, shrink, restart or shut down worker pools.

This runs ``celery -A worker flower`` with safer defaults:

* it listens on 127.0.0.1 unless an address is given (``--address`` or
  ``FLOWER_ADDRESS``; compose binds 0.0.0.0 inside the container and
  publishes the port on the host's loopback only);
* it refuses to start without ``--basic-auth``/``FLOWER_BASIC_AUTH`` or
  ``--auth`` (OAuth);
* ``/metrics`` and ``/healthcheck`` need the same auth as every other page
  (Prometheus scrapes with ``basic_auth``; ``--healthcheck`` below does too);
* it is read-only (Flower's ``--read_only``: every operation answers 403)
  unless ``--read_only=false`` or ``FLOWER_READ_ONLY=false`` says otherwise.

``python -m worker.flower --healthcheck`` asks the local Flower's
``/healthcheck`` with the first ``FLOWER_BASIC_AUTH`` credentials (port from
``FLOWER_PORT``, default 5555): exit 0 when it answers OK, 1 otherwise.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5555


def _given(argv: Sequence[str], environ: Mapping[str, str], option: str) -> bool:
    """Whether a Flower option is set on the command line or in the environment."""
    spellings = {f"--{option}", f"--{option.replace('_', '-')}"}
    on_command_line = any(arg.split("=", 1)[0] in spellings for arg in argv)
    return on_command_line or f"FLOWER_{option.upper()}" in environ


def flower_argv(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The ``celery`` command line for these Flower options, with the safer defaults added."""
    args = list(argv)
    if not _given(args, environ, "address"):
        args.append(f"--address={LOOPBACK}")
    if not _given(args, environ, "read_only"):
        args.append("--read_only=true")
    return ["celery", "-A", "worker", "flower", *args]


def _require_auth(handler: Any) -> None:
    """Answer 401 unless the request carries the credentials every other page needs."""
    import tornado.web

    options = handler.application.options
    if not (options.basic_auth or options.auth):
        return  # cannot happen: the app refuses to start without auth
    # get_current_user raises 401 on missing or wrong basic-auth credentials and
    # returns None without an OAuth session.
    if not handler.get_current_user():
        raise tornado.web.HTTPError(401)


def harden() -> None:
    """Put /metrics and /healthcheck behind auth and refuse to run without auth."""
    import flower.command
    from flower.app import Flower
    from flower.views import monitor

    for handler in (monitor.Metrics, monitor.Healthcheck):
        handler.prepare = _require_auth  # type: ignore[method-assign]

    class GuardedFlower(Flower):  # type: ignore[misc]
        def __init__(self, *args: Any, options: Any = None, **kwargs: Any) -> None:
            if options is not None and not (options.basic_auth or options.auth):
                # A process entry point: exit with one line, not a traceback.
                raise SystemExit(
                    "worker.flower: refusing to start without authentication: set "
                    "FLOWER_BASIC_AUTH=user:password (or --basic-auth, or --auth for OAuth)"
                )
            super().__init__(*args, options=options, **kwargs)

    flower.command.Flower = GuardedFlower


def healthcheck(environ: Mapping[str, str] | None = None, timeout: float = 5.0) -> bool:
    """Whether the local Flower answers /healthcheck (with the configured credentials)."""
    environ = os.environ if environ is None else environ
    port = int(environ.get("FLOWER_PORT") or DEFAULT_PORT)
    request = urllib.request.Request(f"http://{LOOPBACK}:{port}/healthcheck")
    credentials = (environ.get("FLOWER_BASIC_AUTH") or "").split(",")[0]
    if credentials:
        token = base64.b64encode(credentials.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200 and response.read().strip() == b"OK"
    except (urllib.error.URLError, OSError) as exc:
        log.error("flower healthcheck: %s", exc)
        return False


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--healthcheck"]:
        logging.basicConfig(level=logging.INFO)
        raise SystemExit(0 if healthcheck() else 1)
    harden()
    from celery.bin.celery import main as celery_main

    sys.argv = flower_argv(argv, os.environ)
    celery_main()


if __name__ == "__main__":
    main()
