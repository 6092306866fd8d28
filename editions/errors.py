"""Every exception editions raises, under one root.

Catch :class:`EditionsError` to handle anything editions reports on purpose;
anything else escaping is a bug. The hierarchy::

    EditionsError
    ├── ConfigurationError            something the operator set is wrong
    │   ├── SettingsError             an EDITIONS_* value (names the variable)
    │   ├── SourcesError              the sources file (names file, line and field)
    │   ├── RevisitScheduleError      EDITIONS_REVISIT_SCHEDULE / _MAX_AGE
    │   ├── DatabaseURLError          a database URL editions cannot use
    │   ├── NetworkListError          EDITIONS_ALLOWED_NETWORKS
    │   ├── CeleryConfigError         the broker URL or the task time limits
    │   └── WorkerNotConfiguredError  a Celery task ran before its worker was set up
    ├── InvalidURLError               not an absolute http(s) URL
    ├── FetchError                    the fetcher refused a request
    │   ├── BlockedAddressError       a private, loopback or reserved address
    │   └── ResolutionError           the host name does not resolve
    ├── DiscoveryError                a feed or sitemap that cannot be read
    ├── ExtractionError               a page with no article in it
    ├── ArchiveError                  the archive refused a request
    │   ├── DatabaseUnavailableError  the database cannot be reached or opened
    │   │   └── ArchiveNotFoundError  no archive at that URL (and none was to be created)
    │   ├── InvalidInputError         a value the archive cannot store or look up
    │   ├── SearchQueryError          a search query that cannot be searched
    │   └── NotFoundError             (also a LookupError)
    │       ├── ArticleNotFoundError
    │       ├── VersionNotFoundError
    │       ├── CaptureNotFoundError
    │       └── UnknownSourceError
    ├── ArticleFetchError             a Celery fetch task whose article failed (FAILURE in Flower)
    ├── ScheduleTooFarError           a task ETA beyond the broker's visibility timeout
    ├── LeaderLockError               the scheduler's leader lock was misconfigured
    ├── WarcError                     a WARC file that cannot be read
    └── DemoError                     the offline demo's own newsroom
        ├── DemoArticleError          a demo article file is wrong
        └── NewsroomError             the newsroom was used out of order

Where a built-in exception says the same thing (``ValueError`` for a bad value,
``LookupError`` for something missing) the class derives from it too, so code
that catches the built-in keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ArchiveError",
    "ArchiveNotFoundError",
    "ArticleFetchError",
    "ArticleNotFoundError",
    "BlockedAddressError",
    "CaptureNotFoundError",
    "CeleryConfigError",
    "ConfigurationError",
    "DatabaseURLError",
    "DatabaseUnavailableError",
    "DemoArticleError",
    "DemoError",
    "DiscoveryError",
    "EditionsError",
    "ExtractionError",
    "FetchError",
    "InvalidInputError",
    "InvalidURLError",
    "LeaderLockError",
    "NetworkListError",
    "NewsroomError",
    "NotFoundError",
    "ResolutionError",
    "RevisitScheduleError",
    "ScheduleTooFarError",
    "SearchQueryError",
    "SettingsError",
    "SourcesError",
    "UnknownSourceError",
    "VersionNotFoundError",
    "WorkerNotConfiguredError",
]


class EditionsError(Exception):
    """The root of every error editions raises on purpose."""


# --- configuration -------------------------------------------------------------------


class ConfigurationError(EditionsError, ValueError):
    """Something the operator configured is wrong; the message says what and where."""


class SettingsError(ConfigurationError):
    """An ``EDITIONS_*`` setting has a value of the wrong type or range."""


class SourcesError(ConfigurationError):
    """A sources file (or source record) that is wrong; the message names file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        source: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path, self.line, self.source, self.field = path, line, source, field
        self.reason = message
        # Each problem found, in file order; an error for a single problem is its own.
        self.problems: list[SourcesError] = [self]
        prefix = ""
        if path is not None:
            prefix = f"{path}:{line}: " if line is not None else f"{path}: "
        if source is not None:
            prefix += f"source {source!r}: "
        if field is not None:
            prefix += f"field {field!r}: "
        super().__init__(prefix + message)

    @classmethod
    def collect(cls, problems: Sequence[SourcesError]) -> SourcesError:
        """One error reporting every problem, one per line; the problem itself if alone.

        ``path``, ``line``, ``source`` and ``field`` are the first problem's, so code
        that looks at one problem still finds a real one; ``problems`` has them all.
        """
        if not problems:
            raise ValueError("collect() needs at least one problem")
        if len(problems) == 1:
            return problems[0]
        first = problems[0]
        header = f"{len(problems)} problems"
        if first.path is not None and all(p.path == first.path for p in problems):
            header = f"{first.path}: {header}"
        error = cls(header + ":\n" + "\n".join(f"  {p}" for p in problems))
        error.path, error.line, error.source, error.field = (
            first.path,
            first.line,
            first.source,
            first.field,
        )
        error.problems = list(problems)
        return error


class RevisitScheduleError(ConfigurationError):
    """The revisit schedule setting cannot be understood."""


class DatabaseURLError(ConfigurationError):
    """A database URL that editions cannot use (unknown dialect, unreachable server, ...)."""


class NetworkListError(ConfigurationError):
    """``EDITIONS_ALLOWED_NETWORKS`` holds something that is not a CIDR."""


class CeleryConfigError(ConfigurationError):
    """The distributed mode's settings cannot work (broker URL, time limits)."""


class WorkerNotConfiguredError(ConfigurationError, RuntimeError):
    """A task ran in a process whose worker was never set up."""


# --- the work --------------------------------------------------------------------------


class InvalidURLError(EditionsError, ValueError):
    """Not an absolute http(s) URL editions can fetch."""


class FetchError(EditionsError):
    """The fetcher refused a request before sending it."""


class BlockedAddressError(FetchError):
    """The target resolves to a private, loopback, link-local or reserved address."""

    def __init__(
        self, address: str, reason: str, host: str | None = None, *, hint: str | None = None
    ) -> None:
        self.address = address
        self.reason = reason
        self.host = host
        where = f"{host} resolves to {address}" if host and host != address else address
        message = f"refused to connect: {where}, which is {reason}"
        super().__init__(message + (f" ({hint})" if hint else ""))


class ResolutionError(FetchError):
    """The host name does not resolve."""


class DiscoveryError(EditionsError):
    """A feed, sitemap or front page that cannot be read."""


class ExtractionError(EditionsError):
    """A page from which no article could be extracted."""


# --- the archive -----------------------------------------------------------------------


class ArchiveError(EditionsError):
    """The archive refused a request."""


class DatabaseUnavailableError(ArchiveError):
    """The database cannot be reached or opened; the message names the URL (no password)."""


class ArchiveNotFoundError(DatabaseUnavailableError):
    """There is no archive at this URL, and the caller asked not to create one."""


class InvalidInputError(ArchiveError, ValueError):
    """A value the archive cannot store or look up."""


class SearchQueryError(ArchiveError, ValueError):
    """A search query that cannot be searched; the message says why."""


class NotFoundError(ArchiveError, LookupError):
    """Something asked for is not in the archive."""


class ArticleNotFoundError(NotFoundError):
    """No archived article has this URL (nor an alias of it)."""


class VersionNotFoundError(NotFoundError):
    """The article has no version with this number."""


class CaptureNotFoundError(NotFoundError, KeyError):
    """No raw capture with this digest."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownSourceError(NotFoundError):
    """No source of this name."""


# --- scheduling ------------------------------------------------------------------------


class ArticleFetchError(EditionsError):
    """An article fetch task that failed: Flower shows it as FAILURE with this message.

    Raised after the pipeline has recorded the failure and planned the next try,
    so Celery never retries it on its own.
    """

    def __init__(self, url: str, outcome: str | None, error: str | None) -> None:
        self.url, self.outcome, self.error = url, outcome, error
        super().__init__(f"{outcome}: {url}: {error}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable with its three arguments
        return (type(self), (self.url, self.outcome, self.error))


class ScheduleTooFarError(EditionsError, ValueError):
    """A task ETA beyond the broker's visibility timeout (it would be delivered twice)."""


class LeaderLockError(EditionsError, ValueError):
    """The scheduler's leader lock was given settings it cannot work with."""


class WarcError(EditionsError):
    """A WARC file that cannot be read (missing, truncated, not WARC)."""


# --- the demo --------------------------------------------------------------------------


class DemoError(EditionsError):
    """The offline demo's newsroom."""


class DemoArticleError(DemoError, ValueError):
    """A demo article file is missing a field or has a wrong value."""


class NewsroomError(DemoError, RuntimeError):
    """The newsroom was used out of order (e.g. edits before publishing)."""
