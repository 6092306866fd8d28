"""Every default setting of editions, in one place.

Each name here can be overridden by an environment variable of the same name
with the ``EDITIONS_`` prefix (``DATABASE_URL`` -> ``EDITIONS_DATABASE_URL``).
Durations are in seconds, sizes in bytes.
"""

# --- storage -----------------------------------------------------------------
DATABASE_URL = "sqlite:///editions.db"
# SQLite waits this long for a competing writer before 'database is locked'.
SQLITE_BUSY_TIMEOUT = 30.0
# zstd level for raw captures; 3 is zstd's own default: fast, good ratio.
CAPTURE_COMPRESSION_LEVEL = 3

# --- sources -----------------------------------------------------------------
SOURCES = "schedules/sources.toml"

# --- fetching ----------------------------------------------------------------
USER_AGENT = "editions/0.1 (+https://github.com/editions-archive/editions; news archive bot)"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
# Wall-clock limit for the whole fetch of one URL from its first request: headers and
# bodies (slow drips included), redirects, retries and the pauses between them.
TOTAL_TIMEOUT = 60.0
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_RETRIES = 3
RETRY_BACKOFF = 1.0
# Never sleep longer than this for one retry, whatever Retry-After asks.
RETRY_MAX_WAIT = 30.0
# Minimum delay between two requests to one host (robots crawl-delay may raise it).
HOST_DELAY = 1.0
ROBOTS_ENABLED = True
ROBOTS_CACHE_SECONDS = 3600.0
# Private, loopback, link-local and reserved targets are refused unless this is set
# (tests and the offline demo set it).
ALLOW_PRIVATE_ADDRESSES = False

# --- discovery -----------------------------------------------------------------
MAX_LINKS_PER_SOURCE = 500
MAX_SITEMAP_DEPTH = 3

# --- revisits ----------------------------------------------------------------
# (article age in seconds up to which the interval applies, seconds between checks)
REVISIT_SCHEDULE = "3600:900,21600:1800,86400:3600,259200:21600,604800:86400"
# Articles older than this (since first seen) are no longer revisited.
REVISIT_MAX_AGE = 14 * 86400
REVISIT_BATCH = 200
# After this many failed fetches in a row an article is marked failed.
MAX_ARTICLE_FAILURES = 5

# --- distributed mode (issue 3) ------------------------------------------------
BROKER_URL = ""
# A failed article fetch is retried after this delay, doubled per failure in a row.
FAILED_FETCH_RETRY = 300.0
FAILED_FETCH_MAX_RETRY = 6 * 3600.0
# How often the embedded scheduler looks for articles due for a revisit.
REVISIT_TICK = 60.0

# --- discovery limits (worker/discover.py) -------------------------------------
# A sitemap file may be at most this big once decompressed (the sitemap protocol's
# own 50 MB limit); a gzip bomb beyond it is refused, not inflated.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

# --- fetching: robots.txt (worker.robots) -------------------------------------
# robots.txt answers of 429/5xx, timeouts and connection errors mean "disallow all"
# (Google's documented behaviour); that verdict is kept this long before asking again.
ROBOTS_ERROR_CACHE_SECONDS = 600.0
# Larger robots.txt files are treated like an unreachable one.
ROBOTS_MAX_BYTES = 2 * 1024 * 1024
# A Crawl-delay above this is capped: it would park a worker for the whole wait.
ROBOTS_MAX_CRAWL_DELAY = 60.0

# --- archive (storage/) --------------------------------------------------------
# Longest search query accepted; longer ones get a clear SearchQueryError.
SEARCH_MAX_QUERY_LENGTH = 1000
# A capture stored as a zstd delta of the previous one may itself be a base for
# the next, up to this chain length; then a plain capture restarts the chain, so
# loading any capture decompresses at most this many frames.
CAPTURE_MAX_DELTA_CHAIN = 16

# --- Celery workers (issue 3) --------------------------------------------------
# Where task results go; empty means the broker URL.
RESULT_BACKEND = ""
# Results are only for Flower and debugging: the archive is the real record.
RESULT_EXPIRES = 86400
FEEDS_QUEUE = "feeds"
ARTICLES_QUEUE = "articles"
# One task may never run longer than the hard limit; the soft limit lets it clean up first.
TASK_SOFT_TIME_LIMIT = 240
TASK_TIME_LIMIT = 300
# Network failures (timeout, connection_error) are retried by Celery with
# exponential backoff and full jitter, the delay capped at TASK_RETRY_BACKOFF_MAX.
TASK_MAX_RETRIES = 4
TASK_RETRY_BACKOFF = 15.0
TASK_RETRY_BACKOFF_MAX = 600.0
# A message not acknowledged within this many seconds is given to another worker.
# It must exceed the hard time limit plus the longest retry delay (a test checks it).
VISIBILITY_TIMEOUT = 3600
WORKER_MAX_TASKS_PER_CHILD = 200
# An article whose task was delivered this many times without finishing (it
# keeps killing its worker) is marked failed instead of being fetched again.
MAX_DELIVERIES = 3
# The scheduler's leader lock: expires unless renewed, so a dead leader is
# replaced within this many seconds.
LEADER_LOCK_TTL = 30.0
# A host whose fetches keep failing (timeouts, refused connections) is left
# alone for this long, doubled per failure in a row up to the maximum.
HOST_FAILURE_BACKOFF = 30.0
HOST_FAILURE_BACKOFF_MAX = 1800.0

# --- fetching: address guard (worker.netguard) ----------------------------------
# Comma-separated CIDRs exempt from the private-address refusal, for a deliberate
# exception such as an intranet mirror (e.g. "10.20.0.0/16,fd00:1::/64").
ALLOWED_NETWORKS = ""
# A new URL whose text equals an archived article's on the same site is recorded as
# an alias of it, if the text has at least this many words.
DUPLICATE_MIN_WORDS = 50
# Search ranks the newest matches up to this many, so a query matching half the
# archive stays fast as the archive grows; narrower queries are ranked in full.
SEARCH_RANK_WINDOW = 2000
# Every this many articles a worker hands freed heap memory back to the OS
# (glibc malloc_trim; lxml's churn otherwise makes resident memory creep). 0: never.
TRIM_HEAP_EVERY = 100
