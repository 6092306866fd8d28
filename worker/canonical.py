"""Canonical URLs: one spelling per article, so the archive keeps one row per story.

``canonicalize`` is deliberately conservative: it only removes what never changes
the page a server returns (fragments, default ports, credentials, analytics
parameters, AMP view switches) and normalises spelling (case of scheme and host,
IDNA, percent-encoding, dot segments, ``//`` runs, query order). Trailing slashes
are kept, because sites differ on whether ``/a`` and ``/a/`` are the same page.

Decisions, documented here because dedupe depends on them:

* Query parameters are sorted by name, then value (w3lib's order); blank values
  are kept (``?a=`` and ``?a`` are both kept as ``a=``).
* Tracking parameters are matched case-insensitively (the Guardian sends ``CMP``).
  ``ref_src`` and ``ref_url`` (Twitter embeds) are dropped; a bare ``ref`` is kept,
  because some sites route content on it.
* AMP switches are dropped only with a switch-like value: ``amp`` when empty,
  ``1`` or ``true``; ``outputType=amp``. Path-based AMP copies (``/amp/``,
  ``.amp``) are left alone: the page's ``rel=canonical`` resolves them, and
  ``amp_to_canonical_guess`` offers a guess.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

from tld import get_fld
from w3lib.url import canonicalize_url

from editions.errors import InvalidURLError

log = logging.getLogger(__name__)

__all__ = [
    "InvalidURLError",
    "amp_to_canonical_guess",
    "canonicalize",
    "is_tracking_parameter",
    "registrable_domain",
    "same_site",
]

SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Exact names (lower case) that only ever carry campaign, click or share analytics.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "ref_src",
        "ref_url",
        "cmpid",
        "cmp",
        "ncid",
        "ocid",
        "icid",
        "sr_share",
        "xtor",
        "smid",
        "smtyp",
        "emc",
        "s_cid",
        "soc_src",
        "soc_trk",
        "vero_id",
        "vero_conv",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "__twitter_impression",
        "spm",
        "ito",
        "wt.mc_id",
    }
)
# Prefixes (lower case) of analytics families: Google/UTM, AT Internet, comScore,
# Matomo/Piwik, Webtrends.
TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "piwik_", "wt.")

AMP_SWITCH_VALUES = frozenset({"", "1", "true"})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SLASH_RUN = re.compile(r"/{2,}")



def is_tracking_parameter(name: str) -> bool:
    """True if a query parameter ``name`` only carries analytics (``utm_source``, ``fbclid``...)."""
    key = unquote(name).strip().lower()
    return key in TRACKING_PARAMETERS or key.startswith(TRACKING_PREFIXES)


def _is_amp_switch(name: str, value: str) -> bool:
    key = unquote(name).strip().lower()
    val = unquote(value).strip().lower()
    if key == "amp":
        return val in AMP_SWITCH_VALUES
    return key == "outputtype" and val == "amp"


def _clean_query(query: str) -> str:
    kept = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if is_tracking_parameter(name) or _is_amp_switch(name, value):
            continue
        kept.append(part)
    return "&".join(kept)


def _check_host(parts: SplitResult, url: str) -> str:
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:  # bad port number or malformed IPv6 literal
        raise InvalidURLError(f"{url!r}: bad host or port ({exc})") from None
    if not host:
        raise InvalidURLError(f"{url!r}: no host")
    if any(c in host for c in " <>\"'{}|\\^`"):
        raise InvalidURLError(f"{url!r}: host {host!r} contains characters not allowed in a host")
    netloc = host
    if ":" in host:  # IPv6 literal lost its brackets in .hostname
        netloc = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[parts.scheme.lower()]:
        netloc = f"{netloc}:{port}"
    return netloc


def canonicalize(url: str, base: str | None = None) -> str:
    """The canonical spelling of ``url`` (made absolute against ``base``); InvalidURLError if not http(s)."""
    if not isinstance(url, str):
        raise InvalidURLError(f"URL must be a string, not {type(url).__name__}")
    raw = url.strip()
    if not raw:
        raise InvalidURLError("empty URL")
    if _CONTROL.search(raw):
        raise InvalidURLError(f"{url!r}: contains control characters")
    try:
        if base is not None:
            base_parts = urlsplit(base.strip())
            if base_parts.scheme.lower() not in SCHEMES or not base_parts.netloc:
                raise InvalidURLError(f"base {base!r} is not an absolute http(s) URL")
            raw = urljoin(base.strip(), raw)
        parts = urlsplit(raw)
    except ValueError as exc:
        raise InvalidURLError(f"{url!r}: not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise InvalidURLError(f"{url!r}: relative URL and no base to resolve it against")
    if scheme not in SCHEMES:
        raise InvalidURLError(f"{url!r}: scheme {scheme!r} is not http or https")
    netloc = _check_host(parts, url)
    path = _SLASH_RUN.sub("/", parts.path) or "/"
    cleaned = urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))
    try:
        result = canonicalize_url(cleaned)
    except (ValueError, UnicodeError) as exc:  # IDNA refuses the host
        raise InvalidURLError(f"{url!r}: cannot normalise ({exc})") from None
    # w3lib keeps an empty '?'; it means nothing.
    return result.removesuffix("?")


def _host_of(url: str) -> str:
    if "://" not in url:
        url = "http://" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    try:
        return host.encode("idna").decode("ascii").lower() if host else ""
    except UnicodeError:
        return host.lower()


def registrable_domain(url_or_host: str) -> str:
    """The registrable domain (``bbc.co.uk`` for ``www.bbc.co.uk``); an IP address as-is."""
    host = _host_of(url_or_host)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    domain = get_fld(host, fix_protocol=True, fail_silently=True)
    if domain:
        return domain.lower()
    # Not under a known public suffix (.example, .test, intranet names): assume the
    # last two labels are the site, the usual shape of a news domain.
    return ".".join(host.split(".")[-2:])


def same_site(a: str, b: str) -> bool:
    """True if two URLs (or hosts) share a registrable domain, so ``www.`` and ``amp.`` agree."""
    first, second = registrable_domain(a), registrable_domain(b)
    return bool(first) and first == second


_AMP_CACHE = re.compile(r"^/[cvi]/(?:s/)?(?P<rest>.+)$")


def amp_to_canonical_guess(url: str) -> str | None:
    """A guess at the plain URL of an AMP copy, or None if ``url`` does not look like AMP."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host.endswith(".cdn.ampproject.org"):
        # Google's AMP cache: /c/s/<host>/<path> (s = https).
        match = _AMP_CACHE.match(parts.path)
        if not match:
            return None
        secure = parts.path.startswith(("/c/s/", "/v/s/", "/i/s/"))
        inner = ("https://" if secure else "http://") + match["rest"]
        if parts.query:
            inner += "?" + parts.query
        return amp_to_canonical_guess(inner) or _safe_canonical(inner)
    changed = False
    path = parts.path
    segments = path.split("/")
    if "amp" in segments[1:]:
        segments = [s for i, s in enumerate(segments) if not (i and s == "amp")]
        path = "/".join(segments) or "/"
        changed = True
    for suffix in (".amp.html", ".amp"):
        if path.endswith(suffix):
            path = path.removesuffix(suffix) + (".html" if suffix == ".amp.html" else "")
            changed = True
            break
    netloc = parts.netloc
    if host.startswith("amp.") and host.count(".") >= 2:
        plain = host.removeprefix("amp.")
        # amp.example.com usually mirrors www.example.com, not the bare domain.
        if registrable_domain(plain) == plain:
            plain = "www." + plain
        netloc = netloc.replace(parts.hostname or "", plain, 1)
        changed = True
    query = parts.query
    if any(_is_amp_switch(*(p.partition("=")[::2])) for p in parts.query.split("&") if p):
        changed = True  # canonicalize drops the switch itself
    if not changed:
        return None
    return _safe_canonical(urlunsplit((parts.scheme, netloc, path, query, "")))


def _safe_canonical(url: str) -> str | None:
    try:
        return canonicalize(url)
    except InvalidURLError:
        return None
