"""WARC in and out: write captures as WARC/1.1 records, replay WARC files as a fetcher.

Writing takes plain values (URL, time, status, headers, body) so any caller can
export; reading indexes response records by URL and answers ``fetch`` from them
as of a moving replay time, so the real pipeline ingests a crawl as if it were
fetching it, in capture-time order.
"""

from __future__ import annotations

import io
import json
import logging
import os
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from editions.errors import InvalidURLError, WarcError
from worker.canonical import canonicalize
from worker.response import FetchResult, Outcome, mime_type

log = logging.getLogger(__name__)

__all__ = ["METADATA_TYPE", "WarcExporter", "WarcReplay", "WarcResponse"]

# The metadata records editions writes: JSON tying a response to its article and version.
METADATA_TYPE = "application/vnd.editions+json"
# Headers that describe the bytes on the wire, not the body kept: the archive keeps
# bodies decoded, so these would lie about the payload written here.
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "connection"}


def _warc_date(when: datetime) -> str:
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarcExporter:
    """Writes request, response and metadata records for each capture given."""

    def __init__(self, stream: IO[bytes], *, user_agent: str, software: str) -> None:
        self.writer = WARCWriter(stream, gzip=True, warc_version="1.1")
        self.user_agent = user_agent
        self.records = 0
        info = self.writer.create_warcinfo_record(
            "editions.warc.gz",
            {"software": software, "format": "WARC File Format 1.1", "isPartOf": "editions"},
        )
        self._write(info)

    def _write(self, record: Any) -> None:
        self.writer.write_record(record)
        self.records += 1

    def add(
        self,
        *,
        url: str,
        fetched_at: datetime,
        status: int | None,
        headers: Mapping[str, str],
        body: bytes,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        date = _warc_date(fetched_at)
        status = status or 200
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        kept = [(k, v) for k, v in headers.items() if k.lower() not in _WIRE_HEADERS]
        kept.append(("Content-Length", str(len(body))))
        http = StatusAndHeaders(f"{status} {reason}", kept, protocol="HTTP/1.1")
        response = self.writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_http = StatusAndHeaders(
            f"GET {target} HTTP/1.1",
            [("Host", parts.netloc), ("User-Agent", self.user_agent)],
            is_http_request=True,
        )
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        request = self.writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=request_http,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
        )
        self._write(response)
        self._write(request)
        if metadata:
            payload = json.dumps(dict(metadata), ensure_ascii=False).encode()
            record = self.writer.create_warc_record(
                url,
                "metadata",
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type=METADATA_TYPE,
                warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": response_id},
            )
            self._write(record)


@dataclass(order=True)
class WarcResponse:
    """Where one response record is, and what the index needs to know about it."""

    fetched_at: datetime
    sequence: int
    url: str
    path: str
    offset: int
    status: int
    content_type: str | None
    record_id: str


def _key(url: str) -> str:
    try:
        return canonicalize(url)
    except InvalidURLError:
        return url


class WarcReplay:
    """A fetcher (``worker.response.Fetches``) that answers from WARC files.

    ``responses()`` lists the response records in capture-time order; set
    ``now`` to a record's time and ``fetch`` answers every URL with its latest
    capture at or before that time, as a live site would have then.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        self._by_url: dict[str, list[WarcResponse]] = {}
        self._ordered: list[WarcResponse] = []
        self.metadata: dict[str, dict[str, Any]] = {}
        self.now: datetime = datetime.max.replace(tzinfo=UTC)
        for path in paths:
            self._index(os.fspath(path))
        self._ordered.sort()
        for entries in self._by_url.values():
            entries.sort()

    def _index(self, path: str) -> None:
        try:
            with open(path, "rb") as stream:
                records = ArchiveIterator(stream)
                for record in records:
                    if record.format != "warc":
                        # warcio reads any text as an old ARC record: refuse, don't guess.
                        raise WarcError(f"{path} is not a valid WARC file (found {record.format})")
                    self._index_record(path, records, record)
        except (OSError, ValueError) as exc:
            raise WarcError(f"cannot read WARC file {path}: {exc}") from exc
        except Exception as exc:  # warcio raises its own parse errors on bad input
            if type(exc).__module__.startswith("warcio"):
                raise WarcError(f"{path} is not a valid WARC file: {exc}") from exc
            raise

    def _index_record(self, path: str, records: ArchiveIterator, record: Any) -> None:
        kind = record.rec_type
        headers = record.rec_headers
        if kind == "metadata" and headers.get_header("Content-Type") == METADATA_TYPE:
            refers = headers.get_header("WARC-Refers-To")
            try:
                data = json.loads(record.content_stream().read())
            except ValueError:
                return
            if refers and isinstance(data, dict):
                self.metadata[refers] = data
            return
        if kind != "response" or record.http_headers is None:
            return
        url = headers.get_header("WARC-Target-URI")
        date = headers.get_header("WARC-Date")
        if not url or not date or not url.startswith(("http://", "https://")):
            return
        try:
            status = int(record.http_headers.get_statuscode())
        except (TypeError, ValueError):
            return
        entry = WarcResponse(
            fetched_at=iso_date_to_datetime(date).replace(tzinfo=UTC),
            sequence=len(self._ordered),
            url=url,
            path=path,
            offset=records.get_record_offset(),
            status=status,
            content_type=mime_type(record.http_headers.get_header("Content-Type")),
            record_id=headers.get_header("WARC-Record-ID") or "",
        )
        self._ordered.append(entry)
        self._by_url.setdefault(_key(url), []).append(entry)

    def responses(self) -> Iterator[WarcResponse]:
        yield from self._ordered

    def _load(self, entry: WarcResponse) -> tuple[dict[str, str], bytes]:
        with open(entry.path, "rb") as stream:
            stream.seek(entry.offset)
            record = next(iter(ArchiveIterator(stream)))
            headers = {k.lower(): v for k, v in record.http_headers.headers}
            # content_stream() undoes chunking and Content-Encoding: the body as read.
            body = record.content_stream().read()
        for name in ("content-encoding", "transfer-encoding"):
            headers.pop(name, None)
        return headers, body

    def fetch(self, url: str, **options: Any) -> FetchResult:
        entries = self._by_url.get(_key(url), [])
        at = bisect_right([e.fetched_at for e in entries], self.now)
        if not at:
            return FetchResult(
                url=url,
                final_url=url,
                outcome=Outcome.HTTP_ERROR,
                status=404,
                headers={},
                body=b"",
                started_at=self.now,
                duration=0.0,
                error="not captured in the WARC files by then",
            )
        entry = entries[at - 1]
        headers, body = self._load(entry)
        allowed = options.get("allowed_types")
        outcome = Outcome.OK
        error = None
        if not 200 <= entry.status < 300:
            outcome, error = Outcome.HTTP_ERROR, f"HTTP {entry.status}"
        elif allowed and entry.content_type and entry.content_type not in allowed:
            outcome, error = Outcome.BAD_CONTENT, f"content type {entry.content_type}"
        return FetchResult(
            url=url,
            final_url=entry.url,
            outcome=outcome,
            status=entry.status,
            headers=headers,
            body=body,
            started_at=entry.fetched_at,
            duration=0.0,
            error=error,
        )


def write_wacz(
    path: str | os.PathLike[str],
    warc_path: str | os.PathLike[str],
    pages: Iterable[Mapping[str, Any]],
    *,
    software: str,
    title: str = "editions archive",
) -> None:
    """Package a WARC as WACZ 1.1.1: the WARC, a sorted CDXJ index, a pages list, a datapackage."""
    import hashlib
    import zipfile

    from cdxj_indexer.main import CDXJIndexer

    index = io.StringIO()
    CDXJIndexer(output=index, inputs=[os.fspath(warc_path)], sort=True).process_all()
    header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    lines = [json.dumps(header)] + [json.dumps(dict(page), ensure_ascii=False) for page in pages]
    members = {
        "indexes/index.cdxj": index.getvalue().encode(),
        "pages/pages.jsonl": ("\n".join(lines) + "\n").encode(),
    }
    warc_name = "archive/" + os.path.basename(os.fspath(warc_path))
    resources = []
    warc_hash = hashlib.sha256()
    with open(warc_path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            warc_hash.update(chunk)
    resources.append(
        {
            "name": os.path.basename(warc_name),
            "path": warc_name,
            "hash": f"sha256:{warc_hash.hexdigest()}",
            "bytes": os.path.getsize(warc_path),
        }
    )
    for name, data in members.items():
        resources.append(
            {
                "name": os.path.basename(name),
                "path": name,
                "hash": f"sha256:{hashlib.sha256(data).hexdigest()}",
                "bytes": len(data),
            }
        )
    package = json.dumps(
        {
            "profile": "data-package",
            "wacz_version": "1.1.1",
            "title": title,
            "software": software,
            "created": _warc_date(datetime.now(UTC)),
            "resources": resources,
        },
        indent=2,
    ).encode()
    digest = json.dumps(
        {"path": "datapackage.json", "hash": f"sha256:{hashlib.sha256(package).hexdigest()}"}
    ).encode()
    # The WARC is gzip already and replay tools seek into it: stored, not deflated.
    with zipfile.ZipFile(path, "w") as wacz:
        wacz.write(warc_path, warc_name, compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            wacz.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        wacz.writestr("datapackage.json", package, compress_type=zipfile.ZIP_DEFLATED)
        wacz.writestr("datapackage-digest.json", digest, compress_type=zipfile.ZIP_DEFLATED)
