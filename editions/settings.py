"""Every setting of editions, with its type, default and meaning, in one place.

Each field can be set by an environment variable of the same name in upper case
with the ``EDITIONS_`` prefix (``host_delay`` <- ``EDITIONS_HOST_DELAY``).
Durations are in seconds, sizes in bytes.

Only the public face (``editions.api``, ``editions.cli``, the demo) reads the
environment, through :meth:`Settings.from_env`; every layer below takes the
``Settings`` object it is handed, so nothing reads ``os.environ`` behind its
caller's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from editions.errors import SettingsError

__all__ = ["ENV_PREFIX", "Settings", "SettingsError"]

ENV_PREFIX = "EDITIONS_"


def _setting(default: Any, description: str, **constraints: Any) -> Any:
    return Field(default, description=description, **constraints)


class Settings(BaseSettings):
    """A frozen, validated view of every setting (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        validate_default=True,
        # Only explicit values and EDITIONS_* variables: no .env files or secrets dirs.
        env_ignore_empty=False,
    )

    # --- the archive -------------------------------------------------------------
    database_url: str = _setting(
        "sqlite:///editions.db",
        "the archive; postgresql+psycopg://user@host/db for Postgres",
    )
    sqlite_busy_timeout: float = _setting(
        30.0, "seconds SQLite waits for a competing writer before 'database is locked'", ge=0
    )
    capture_compression_level: int = _setting(
        3, "zstd level for raw captures (3 is zstd's own default)", ge=1, le=22
    )
    capture_max_delta_chain: int = _setting(
        16, "captures stored as zstd deltas of the previous one, at most this many in a row", ge=0
    )
    duplicate_min_words: int = _setting(
        50, "a new URL with an archived article's exact text (this many words) becomes its alias", ge=1
    )

    # --- search ------------------------------------------------------------------
    search_max_query_length: int = _setting(
        1000, "longest search query accepted, in characters", ge=1
    )
    search_rank_window: int = _setting(
        2000, "search ranks the newest matches up to this many, so broad queries stay fast", ge=1
    )
    search_index_max_words: int = _setting(
        16383,
        "the index holds each article's first this many words (title first; the full text is"
        " archived); at most 16383, Postgres' last tsvector position",
        ge=1,
        le=16383,
    )

    # --- sources and discovery ------------------------------------------------------
    sources: str = _setting("schedules/sources.toml", "the sources file")
    max_links_per_source: int = _setting(500, "links taken from one poll of a source", ge=1)
    max_sitemap_depth: int = _setting(3, "sitemap indexes followed this many levels deep", ge=0)
    max_sitemap_bytes: int = _setting(
        50 * 1024 * 1024, "largest sitemap accepted once decompressed (the protocol's 50 MB)", ge=1
    )

    # --- fetching ----------------------------------------------------------------
    user_agent: str = _setting(
        "editions/0.1 (+https://github.com/editions-archive/editions; news archive bot)",
        "sent with every request",
    )
    connect_timeout: float = _setting(10.0, "seconds to connect", gt=0)
    read_timeout: float = _setting(20.0, "seconds between two reads of a response", gt=0)
    total_timeout: float = _setting(
        60.0, "seconds for the whole fetch of a URL: redirects, slow drips and retries", gt=0
    )
    max_body_bytes: int = _setting(
        10 * 1024 * 1024, "larger responses (after decompression) are refused as too_large", ge=1
    )
    max_redirects: int = _setting(5, "redirects followed for one URL", ge=0)
    max_retries: int = _setting(3, "retries of a failed request, with backoff and jitter", ge=0)
    retry_backoff: float = _setting(1.0, "seconds before the first retry, doubled each time", ge=0)
    retry_max_wait: float = _setting(
        30.0, "longest wait for one retry, whatever Retry-After asks", ge=0
    )
    host_delay: float = _setting(
        1.0, "minimum seconds between two requests to one host (robots Crawl-delay can raise it)",
        ge=0,
    )
    host_failure_backoff: float = _setting(
        30.0, "seconds a failing host is left alone, doubled per failure in a row", ge=0
    )
    host_failure_backoff_max: float = _setting(
        1800.0, "longest a failing host is left alone", ge=0
    )

    # --- robots.txt ----------------------------------------------------------------
    robots_enabled: bool = _setting(True, "obey robots.txt")
    robots_cache_seconds: float = _setting(3600.0, "how long a robots.txt is kept", ge=0)
    robots_error_cache_seconds: float = _setting(
        600.0, "how long an unreachable robots.txt's 'disallow all' is kept", ge=0
    )
    robots_max_bytes: int = _setting(
        2 * 1024 * 1024, "larger robots.txt files count as unreachable", ge=1
    )
    robots_max_crawl_delay: float = _setting(
        60.0, "a larger Crawl-delay is capped to this many seconds", ge=0
    )

    # --- address guard -------------------------------------------------------------
    allow_private_addresses: bool = _setting(
        False, "let the fetcher reach private and loopback addresses (the demo and tests)"
    )
    allowed_networks: str = _setting(
        "", "comma-separated CIDRs exempt from the private-address refusal"
    )

    # --- revisits ------------------------------------------------------------------
    revisit_schedule: str = _setting(
        "1800:600,14400:900,86400:2700,172800:14400,604800:129600,2592000:864000",
        "quiet:interval pairs in seconds: an article unchanged for up to `quiet` seconds "
        "(since first seen or its last real change) is checked every `interval` seconds",
    )
    revisit_max_age: float = _setting(
        30 * 86400, "articles older than this (seconds since first seen) are not revisited"
    )
    revisit_live_interval: float = _setting(
        600.0, "a live blog (LiveBlogPosting) is captured at most once per this many seconds", ge=0
    )
    revisit_hint_delay: float = _setting(
        60.0,
        "seconds after a hint (feed updated, sitemap lastmod, dateModified) that a check is due",
        ge=0,
    )
    revisit_host_budget: int = _setting(
        0, "revisits of one host allowed per revisit_host_window (0: no budget)", ge=0
    )
    revisit_host_window: float = _setting(
        3600.0, "seconds over which revisit_host_budget is counted", gt=0
    )
    revisit_batch: int = _setting(200, "due articles taken from the queue at a time", ge=1)
    revisit_tick: float = _setting(
        60.0, "how often the embedded scheduler looks for due articles", gt=0
    )
    max_article_failures: int = _setting(
        5, "failed fetches in a row before an article is marked failed", ge=1
    )
    failed_fetch_retry: float = _setting(
        300.0, "seconds before a failed article is tried again, doubled per failure", ge=0
    )
    failed_fetch_max_retry: float = _setting(
        6 * 3600.0, "longest wait before a failed article is tried again", ge=0
    )

    removed_revisit_every: float = _setting(
        86400.0, "seconds between two checks of a removed (404/410) or moved article", gt=0
    )
    removed_revisit_for: float = _setting(
        30 * 86400.0, "how long a removed or moved article is still checked for a return", ge=0
    )

    summary_every: float = _setting(
        600.0, "seconds between two summary lines of a long-running mode (0: none)", ge=0
    )

    # --- memory --------------------------------------------------------------------
    trim_heap_every: int = _setting(
        100, "articles between two hand-backs of freed heap memory to the OS (0: never)", ge=0
    )

    # --- distributed mode: Celery and Redis ---------------------------------------------
    broker_url: str = _setting(
        "", "Redis URL for the distributed mode (Celery broker and result backend)"
    )
    result_backend: str = _setting("", "where task results go; empty means the broker URL")
    result_expires: int = _setting(86400, "seconds task results are kept (for Flower)", ge=0)
    feeds_queue: str = _setting("feeds", "queue of the source polls")
    articles_queue: str = _setting("articles", "queue of the article fetches")
    task_soft_time_limit: int = _setting(240, "seconds before a task is asked to stop")
    task_time_limit: int = _setting(300, "seconds before a task is killed")
    task_max_retries: int = _setting(4, "Celery retries of a task that hit a network failure", ge=0)
    task_retry_backoff: float = _setting(15.0, "seconds before the first task retry", ge=0)
    task_retry_backoff_max: float = _setting(600.0, "longest wait before a task retry", ge=0)
    visibility_timeout: int = _setting(
        3600,
        "broker redelivery timeout; must exceed the hard limit plus the longest retry delay",
        ge=1,
    )
    worker_max_tasks_per_child: int = _setting(
        200, "tasks a worker process runs before it is replaced", ge=1
    )
    max_deliveries: int = _setting(
        3, "deliveries of one article that kill their worker before it is marked failed"
    )
    leader_lock_ttl: float = _setting(
        30.0, "seconds before a dead scheduler leader's lock expires", gt=0
    )

    # --- reading: the web app, feeds and webhooks ------------------------------------
    web_host: str = _setting(
        "127.0.0.1", "address `editions serve` binds; anything else exposes the archive"
    )
    web_port: int = _setting(8080, "port `editions serve` listens on", ge=0, le=65535)
    web_token: str = _setting(
        "", "if set, the web app asks for it: `Authorization: Bearer TOKEN` or ?token=TOKEN"
    )
    web_basic_auth: str = _setting(
        "", "if set (user:password), the web app asks for HTTP basic authentication"
    )
    web_page_size: int = _setting(20, "results per page in the web app and the feeds", ge=1, le=500)
    flower_url: str = _setting("", "Flower's address, linked from the web app's status page")
    webhook_url: str = _setting("", "receives a signed JSON POST for each matching edit")
    webhook_secret: str = _setting(
        "", "key of the webhook's HMAC-SHA256 signature (X-Editions-Signature header)"
    )
    webhook_query: str = _setting(
        "", "only edits of articles matching this search query are posted (empty: every edit)"
    )
    webhook_max_retries: int = _setting(
        4, "retries of a failed webhook POST, with doubling backoff", ge=0
    )
    webhook_backoff: float = _setting(
        1.0, "seconds before the first webhook retry, doubled each time", ge=0
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``EDITIONS_*`` variables (``os.environ`` by default), then overrides.

        This is the only place the environment is read; call it at the public face.
        """
        if environ is None:
            return cls(**overrides)
        known = {name.upper(): name for name in cls.model_fields}
        values: dict[str, Any] = {}
        for key, raw in environ.items():
            if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :] in known:
                values[known[key[len(ENV_PREFIX) :]]] = raw
        values.update(overrides)
        return cls.defaults(**values)

    @classmethod
    def defaults(cls, **overrides: Any) -> Settings:
        """Settings from the defaults and ``overrides`` only, ignoring the environment."""
        return _NoEnvSettings(**overrides).as_settings()

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some settings changed (validated like the originals)."""
        merged = self.model_dump()
        merged.update(overrides)
        return Settings.defaults(**merged)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class _NoEnvSettings(Settings):
    """The same fields, read from nothing but the arguments."""

    @classmethod
    def settings_customise_sources(  # type: ignore[override]
        cls, settings_cls: Any, init_settings: Any, *args: Any, **kwargs: Any
    ) -> tuple[Any, ...]:
        return (init_settings,)

    def as_settings(self) -> Settings:
        return Settings.model_construct(**self.model_dump())


def _explain(exc: ValidationError) -> str:
    """One line per bad value, naming the variable it comes from."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown setting {name!r}")
            continue
        message = error["msg"]
        if error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        lines.append(f"{ENV_PREFIX}{name.upper()}={value!r}: {message}")
    return "; ".join(lines)
