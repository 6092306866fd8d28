"""The clock: APScheduler calls one job per source on its ``every``, and the revisit job.

What a job *does* is handed in as plain callables, so the same scheduler runs
the pipeline in-process (``editions run``) or sends the work to Celery
(``editions scheduler``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from schedules.sources import Source

log = logging.getLogger(__name__)


class Scheduler:
    """Runs ``poll(source)`` for each source on its interval and ``revisit()`` regularly.

    ``first_poll_at(source)`` says when a source is first due (from the
    archive's record of its last poll), so a restart does not poll everything
    again at once. Jobs never overlap themselves and missed runs coalesce.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        poll: Callable[[Source], object],
        revisit: Callable[[], object],
        revisit_every: timedelta = timedelta(minutes=1),
        first_poll_at: Callable[[Source], datetime | None] | None = None,
        workers: int = 1,
    ) -> None:
        self._poll = poll
        self._revisit = revisit
        self._first_poll_at = first_poll_at or (lambda source: None)
        self._stopped = threading.Event()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._revisit_every = revisit_every
        self.set_sources(sources)

    def set_sources(self, sources: Sequence[Source]) -> None:
        """(Re)build the jobs from the sources: the sources file is the single truth."""
        now = datetime.now(UTC)
        for job in self._scheduler.get_jobs():
            job.remove()
        for source in sources:
            first = self._first_poll_at(source)
            self._scheduler.add_job(
                self._run_poll,
                IntervalTrigger(seconds=source.every.total_seconds(), timezone=UTC),
                args=[source],
                id=f"poll:{source.name}",
                name=f"poll {source.name}",
                next_run_time=max(first, now) if first else now,
            )
        self._scheduler.add_job(
            self._run_revisit,
            IntervalTrigger(seconds=self._revisit_every.total_seconds(), timezone=UTC),
            id="revisit",
            name="revisit due articles",
            next_run_time=now,
        )
        log.info("scheduling %d sources", len(sources))

    def _run_poll(self, source: Source) -> None:
        try:
            self._poll(source)
        except Exception:  # a job's failure must not stop the clock
            log.exception("polling %s failed", source.name)

    def _run_revisit(self) -> None:
        try:
            self._revisit()
        except Exception:
            log.exception("revisiting due articles failed")

    def jobs(self) -> list[tuple[str, datetime | None]]:
        return [(job.id, job.next_run_time) for job in self._scheduler.get_jobs()]

    def start(self) -> None:
        self._scheduler.start()

    def stop(self, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self._stopped.set()

    def run_forever(
        self,
        *,
        on_reload: Callable[[], Sequence[Source]] | None = None,
        changed: Callable[[], bool] | None = None,
    ) -> None:
        """Run until SIGINT/SIGTERM (finishing the job in hand).

        SIGHUP, or ``changed()`` turning true (the sources file was edited),
        reloads the sources through ``on_reload``.
        """

        def _stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal %s: finishing the current job, then stopping", signum)
            self._stopped.set()

        def _reload(signum: int, frame: FrameType | None) -> None:
            if on_reload is not None:
                log.info("SIGHUP: reloading sources")
                self.set_sources(on_reload())

        previous = {
            signal.SIGINT: signal.signal(signal.SIGINT, _stop),
            signal.SIGTERM: signal.signal(signal.SIGTERM, _stop),
        }
        if on_reload is not None and hasattr(signal, "SIGHUP"):
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _reload)
        self.start()
        try:
            while not self._stopped.wait(1.0):
                if on_reload is not None and changed is not None and changed():
                    log.info("sources changed: reloading")
                    try:
                        self.set_sources(on_reload())
                    except ValueError as exc:  # a broken edit keeps the old schedule
                        log.error("keeping the previous sources: %s", exc)
        finally:
            self.stop(wait=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("scheduler stopped")
