"""Finding article links: in feeds, in sitemaps and on front pages.

Every function here is pure: bytes in, links out. Fetching is someone else's job.
Untrusted XML is parsed defensively: feeds lose their DOCTYPE before feedparser
sees them (its fallback parser would expand entity bombs), and sitemaps go
through defusedxml, which refuses entity declarations outright.
"""

from editions.errors import DiscoveryError
from worker.discover.feeds import parse_feed, strip_doctype
from worker.discover.links import Link, SitemapPage, filter_links
from worker.discover.pages import find_page_links
from worker.discover.sitemaps import MAX_SITEMAP_BYTES, MAX_SITEMAP_URLS, parse_sitemap

__all__ = [
    "MAX_SITEMAP_BYTES",
    "MAX_SITEMAP_URLS",
    "DiscoveryError",
    "Link",
    "SitemapPage",
    "filter_links",
    "find_page_links",
    "parse_feed",
    "parse_sitemap",
    "strip_doctype",
]
