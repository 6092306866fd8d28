"""The FastAPI application: server-rendered pages, ``/api/`` JSON, Atom feeds, raw captures.

Security, in one place: Jinja2 autoescapes every archived string; pages run
no script (``script-src 'none'``); raw captures, the only untrusted markup
served as such, come from ``/raw`` alone with ``Content-Security-Policy:
sandbox``; every response carries ``nosniff``; authentication is optional
(a bearer token, ``?token=``, or basic auth from the settings).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from editions import __version__
from editions.api import Editions
from editions.errors import NotFoundError, SearchQueryError
from editions.web import models
from editions.web.feeds import atom_feed

log = logging.getLogger(__name__)

__all__ = ["create_app"]

HERE = Path(__file__).resolve().parent
# Pages run no script and load nothing from elsewhere.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# A raw capture is someone else's page: no script, no same-origin, no plugins.
RAW_CSP = "sandbox"
CONTEXT_WORDS = 40
# Diffs of feed entries kept in memory (each a few KB of HTML).
FEED_DIFF_CACHE = 512
ERRORS = {404: {"model": models.Error}, 400: {"model": models.Error}}


def _utc(day: date | None, *, end: bool = False) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_MARK = re.compile(r"\[([^\[\]]*)\]")


def highlight(snippet: str) -> Markup:
    """The search snippet escaped, with its [match] markers as <mark>."""
    return Markup(_MARK.sub(r"<mark>\1</mark>", str(escape(snippet))))


def _elide(text: str, *, first: bool, last: bool) -> tuple[str, str, str]:
    """An equal run cut to the words next to changes: (head, hidden, tail)."""
    words = re.split(r"(\s+)", text)
    keep = CONTEXT_WORDS * 2  # words and separators alternate
    if len(words) <= keep * 2 + 1:
        return text, "", ""
    head = "" if first else "".join(words[:keep])
    tail = "" if last else "".join(words[-keep:])
    hidden_from = 0 if first else keep
    hidden_to = len(words) if last else len(words) - keep
    return head, "".join(words[hidden_from:hidden_to]), tail


def inline_diff(ops: list[list[str]], *, full: bool = False) -> Markup:
    """Word ops as HTML: <del> and <ins> in the text, long unchanged runs folded."""
    parts: list[str] = []
    for index, (op, text) in enumerate(ops):
        if op == "delete":
            parts.append(f"<del>{escape(text)}</del>")
        elif op == "insert":
            parts.append(f"<ins>{escape(text)}</ins>")
        elif full:
            parts.append(str(escape(text)))
        else:
            head, hidden, tail = _elide(text, first=index == 0, last=index == len(ops) - 1)
            parts.append(str(escape(head)))
            if hidden:
                parts.append(
                    f'<details class="same"><summary>… {len(hidden.split())} unchanged words …'
                    f"</summary>{escape(hidden)}</details>"
                )
            parts.append(str(escape(tail)))
    return Markup("".join(parts))


def side_by_side(ops: list[list[str]]) -> tuple[Markup, Markup]:
    """The old text with its deletions and the new text with its insertions."""
    old: list[str] = []
    new: list[str] = []
    for op, text in ops:
        if op != "insert":
            old.append(f"<del>{escape(text)}</del>" if op == "delete" else str(escape(text)))
        if op != "delete":
            new.append(f"<ins>{escape(text)}</ins>" if op == "insert" else str(escape(text)))
    return Markup("".join(old)), Markup("".join(new))


def _credentials_ok(request: Request, token: str, basic: str) -> bool:
    if token:
        given = request.query_params.get("token") or ""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    if basic:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                given = base64.b64decode(header[6:].strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            if hmac.compare_digest(given, basic.encode()):
                return True
    return False


def create_app(editions: Editions) -> FastAPI:
    """The web app over one archive (opened now, so the first request pays nothing)."""
    settings = editions.settings
    editions.archive  # noqa: B018  (open the archive once, before any thread asks)
    app = FastAPI(
        title="editions",
        version=__version__,
        description="Read-only JSON API of an editions news archive: the CLI's --json, over HTTP.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True  # every template, whatever its name: archived text is untrusted
    env.filters["highlight"] = highlight
    env.filters["when"] = lambda v: (v or "-").replace("T", " ")[:16]
    env.globals["flower_url"] = settings.flower_url
    page_size = settings.web_page_size

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token, basic = settings.web_token, settings.web_basic_auth
        if (token or basic) and not _credentials_ok(request, token, basic):
            headers = {"WWW-Authenticate": 'Basic realm="editions"'} if basic else {}
            response: Response = JSONResponse(
                {"error": "authentication required"}, status_code=401, headers=headers
            )
        else:
            response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/raw"):
            response.headers["Content-Security-Policy"] = RAW_CSP
        else:
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(SearchQueryError)
    async def bad_query(request: Request, exc: SearchQueryError) -> Response:
        return _error(request, 400, f"bad search query: {exc}")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
        )
        return _error(request, 400, problems)

    def _error(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith(("/api/", "/feeds/")):
            return JSONResponse({"error": message}, status_code=status)
        return templates.TemplateResponse(
            request, "error.html", {"message": message, "status": status}, status_code=status
        )

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def page_link(request: Request, **changes: Any) -> str:
        params = dict(request.query_params)
        params.update({k: str(v) for k, v in changes.items()})
        return f"{request.url.path}?{urlencode(params)}"

    env.globals["page_link"] = page_link

    # --- pages ------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def search_page(
        request: Request,
        q: str = "",
        source: str = "",
        language: str = "",
        since_text: Annotated[str, Query(alias="since")] = "",
        until_text: Annotated[str, Query(alias="until")] = "",
        page: Annotated[int, Query(ge=1, le=1000)] = 1,
    ) -> Response:
        # A form sends empty fields for the dates left blank: blank means no filter.
        try:
            since = date.fromisoformat(since_text) if since_text else None
            until = date.fromisoformat(until_text) if until_text else None
        except ValueError:
            return _error(request, 400, "dates are YYYY-MM-DD")
        hits: list[dict[str, Any]] = []
        more = False
        if q.strip():
            found = editions.search(
                q,
                source=source or None,
                language=language or None,
                since=_utc(since),
                until=_utc(until, end=True),
                limit=page * page_size + 1,
            )
            hits = found[(page - 1) * page_size : page * page_size]
            more = len(found) > page * page_size
        return templates.TemplateResponse(
            request,
            "search.html",
            {
                "q": q,
                "source": source,
                "language": language,
                "since": since,
                "until": until,
                "hits": hits,
                "page": page,
                "more": more,
                "sources": editions.source_names(),
            },
        )

    @app.get("/article", include_in_schema=False)
    def article_page(request: Request, url: str) -> Response:
        history = editions.history(url)
        latest = editions.show(url) if history["versions"] else None
        return templates.TemplateResponse(
            request, "article.html", {"history": history, "latest": latest, "url": url}
        )

    @app.get("/version", include_in_schema=False)
    def version_page(request: Request, url: str, v: int | None = None) -> Response:
        shown = editions.show(url, v)
        return templates.TemplateResponse(request, "version.html", {"v": shown, "url": url})

    @app.get("/diff", include_in_schema=False)
    def diff_page(
        request: Request,
        url: str,
        from_: Annotated[int | None, Query(alias="from")] = None,
        to: int | None = None,
        mode: str = "inline",
        full: bool = False,
    ) -> Response:
        compared = editions.compare(url, from_version=from_, to_version=to)
        old, new = side_by_side(compared["ops"])
        return templates.TemplateResponse(
            request,
            "diff.html",
            {
                "d": compared,
                "url": url,
                "mode": "side" if mode == "side" else "inline",
                "full": full,
                "inline": inline_diff(compared["ops"], full=full),
                "old": old,
                "new": new,
                "numbers": list(range(1, compared["versions"] + 1)),
            },
        )

    @app.get("/changes", include_in_schema=False)
    def changes_page(
        request: Request,
        source: str = "",
        q: str = "",
        page: Annotated[int, Query(ge=1, le=1000)] = 1,
    ) -> Response:
        rows = editions.changes(
            source=source or None,
            query=q or None,
            limit=page_size + 1,
            offset=(page - 1) * page_size,
        )
        feed = "/feeds/changes.atom" + (
            "?" + urlencode({k: v for k, v in (("source", source), ("q", q)) if v})
            if source or q
            else ""
        )
        return templates.TemplateResponse(
            request,
            "changes.html",
            {
                "rows": rows[:page_size],
                "more": len(rows) > page_size,
                "page": page,
                "source": source,
                "q": q,
                "sources": editions.source_names(),
                "feed": feed,
            },
        )

    @app.get("/status", include_in_schema=False)
    def status_page(request: Request) -> Response:
        return templates.TemplateResponse(
            request,
            "status.html",
            {"s": editions.status(), "errors": editions.fetch_errors(limit=page_size)},
        )

    @app.get("/raw", include_in_schema=False)
    def raw_capture(url: str, v: int | None = None) -> Response:
        body, content_type = editions.capture(url, v)
        # Served as the page was, but sandboxed (see the middleware) and never sniffed.
        return Response(body, media_type=content_type or "application/octet-stream")

    # --- feeds ------------------------------------------------------------------

    @functools.lru_cache(maxsize=FEED_DIFF_CACHE)
    def edit_html(url: str, version: int) -> Markup:
        # A version never changes once stored, so neither does its diff: feed readers
        # polling the same entries again are answered without diffing again.
        compared = editions.compare(url, from_version=version - 1, to_version=version)
        return inline_diff(compared["ops"])

    @app.get("/feeds/changes.atom", include_in_schema=False)
    def changes_feed(request: Request, source: str = "", q: str = "") -> Response:
        rows = editions.changes(source=source or None, query=q or None, limit=page_size)
        entries = [{**row, "html": edit_html(row["url"], row["version"])} for row in rows]
        base = str(request.base_url)
        title = "editions: edits" + (f" of {source}" if source else "") + (f" matching {q}" if q else "")
        body = atom_feed(
            title=title,
            feed_url=str(request.url),
            site_url=base,
            entries=entries,
            base=base,
        )
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    # --- JSON API: the CLI's --json ---------------------------------------------

    @app.get("/api/search", response_model=list[models.SearchHit], responses=ERRORS)
    def api_search(
        q: Annotated[str, Query(min_length=1, description="the CLI's query syntax")],
        source: str | None = None,
        language: str | None = None,
        since: date | None = None,
        until: date | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    ) -> Any:
        """Full-text search (`editions search --json`)."""
        return editions.search(
            q,
            source=source,
            language=language,
            since=_utc(since),
            until=_utc(until, end=True),
            limit=limit,
        )

    @app.get("/api/article", response_model=models.ArticleVersion, responses=ERRORS)
    def api_article(
        url: str, version: Annotated[int | None, Query(ge=1)] = None
    ) -> Any:
        """One version of an article (`editions show --json`)."""
        return editions.show(url, version)

    @app.get("/api/history", response_model=models.History, responses=ERRORS)
    def api_history(url: str) -> Any:
        """An article's versions (`editions history --json`)."""
        return editions.history(url)

    @app.get("/api/diff", response_model=models.Diff, responses=ERRORS)
    def api_diff(
        url: str,
        from_: Annotated[int | None, Query(alias="from", ge=1)] = None,
        to: Annotated[int | None, Query(ge=1)] = None,
    ) -> Any:
        """The word diff between two versions (`editions diff --json`)."""
        return editions.diff(url, from_version=from_, to_version=to)

    @app.get(
        "/api/changes",
        response_model=list[models.Change],
        response_model_exclude_unset=True,
        responses=ERRORS,
    )
    def api_changes(
        since: datetime | None = None,
        source: str | None = None,
        q: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        diff: bool = False,
    ) -> Any:
        """The latest edits, newest first (`editions changes --json`)."""
        return editions.changes(
            since=_aware(since), source=source, query=q or None, limit=limit, with_diff=diff
        )

    @app.get("/api/status", response_model=dict[str, Any])
    def api_status() -> Any:
        """Sources, counts and recent fetch outcomes (`editions status --json`)."""
        return editions.status()

    return app
