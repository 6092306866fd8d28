"""Atom feeds of edits: each entry carries its word diff as HTML, so a reader shows the change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"

__all__ = ["atom_feed"]


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def atom_feed(
    *, title: str, feed_url: str, site_url: str, entries: list[dict[str, Any]], base: str
) -> bytes:
    """An Atom 1.0 document; ElementTree escapes every text, the diff HTML included."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "title", title)
    _el(feed, "id", feed_url)
    _el(feed, "link", rel="self", href=feed_url)
    _el(feed, "link", rel="alternate", href=site_url + "changes")
    _el(feed, "generator", "editions")
    updated = entries[0]["fetched_at"] if entries else datetime.now(UTC).isoformat()
    _el(feed, "updated", updated)
    for row in entries:
        entry = _el(feed, "entry")
        _el(entry, "title", f"{row['title'] or row['url']} (v{row['version']}: {row['change']})")
        _el(entry, "id", f"{row['url']}#v{row['version']}")
        _el(entry, "updated", row["fetched_at"])
        query = urlencode({"url": row["url"], "from": row["version"] - 1, "to": row["version"]})
        _el(entry, "link", rel="alternate", type="text/html", href=f"{base}diff?{query}")
        _el(entry, "link", rel="related", href=row["url"])
        author = _el(entry, "author")
        _el(author, "name", row.get("source") or "editions")
        _el(entry, "summary", f"+{row['words_added']}/-{row['words_removed']} words")
        _el(entry, "content", str(row["html"]), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
