"""Evidence capture: every HTTP response, exactly as it arrived, into WARC files (warcio).

The middleware sits nearer the network than decompression, redirects and retries (order 650), so it
keeps compressed bodies as served, redirects and error answers too. Each response is written with the
request that asked for it, a SHA-256 payload digest and the capture time, and gets a row in the
``evidence`` table (URL, time, SHA-256, status, content type, WARC file and offset) that links it to
the listing photos and pages stored from it. WARC files live under ``LOOTWATCH_DATA_DIR/warc/`` and roll
over at LOOTWATCH_WARC_MAX_BYTES. The row names its WARC file relative to the database's folder when the
file is inside it (the database and its data folder move together), by its absolute path otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

__all__ = ["WarcMiddleware", "stored_path"]

_DROPPED_HEADERS = {b"transfer-encoding"}  # the body is stored de-chunked


class WarcMiddleware:
    """Writes each response and its request into the run's WARC file and records it as evidence."""

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("LOOTWATCH_WARC", True):
            raise NotConfigured
        self.crawler = crawler
        self.folder = Path(crawler.settings.get("LOOTWATCH_DATA_DIR", "data")) / "warc"
        self.home = Path(crawler.settings.get("LOOTWATCH_DB", "lootwatch.db")).resolve().parent
        self.max_bytes = crawler.settings.getint("LOOTWATCH_WARC_MAX_BYTES", 1_000_000_000)
        self.file: Any = None
        self.path: Path | None = None
        self.part = 0
        crawler.signals.connect(self.close, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if urlsplit(response.url).scheme.lower() in ("http", "https"):
            try:
                self.capture(request, response)
            except OSError as exc:  # a full disk must not stop the crawl, but it must be seen
                self.error(response.url, f"evidence not written: {exc}")
        return response

    def capture(self, request: Request, response: Response) -> None:
        recorder = getattr(self.crawler, "lootwatch_run", None)
        body = response.body
        digest = hashlib.sha256(body)
        captured = datetime.now(UTC).replace(microsecond=0)
        writer = self.writer()
        offset = self.file.tell()
        record = writer.create_warc_record(
            response.url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(
                f"{response.status} {_reason(response.status)}",
                _headers(response.headers),
                protocol="HTTP/1.1",
            ),
            warc_headers_dict={
                "WARC-Date": captured.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "WARC-Payload-Digest": "sha256:" + base64.b32encode(digest.digest()).decode(),
            },
        )
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        writer.write_record(record)
        target = urlsplit(request.url)
        writer.write_record(
            writer.create_warc_record(
                request.url,
                "request",
                payload=io.BytesIO(request.body or b""),
                length=len(request.body or b""),
                http_headers=StatusAndHeaders(
                    f"{request.method} {target.path or '/'}{'?' + target.query if target.query else ''}",
                    [("Host", target.netloc), *_headers(request.headers)],
                    protocol="HTTP/1.1",
                    is_http_request=True,
                ),
                warc_headers_dict={"WARC-Concurrent-To": record_id},
            )
        )
        self.file.flush()
        if recorder is not None:
            recorder.db.table("evidence").insert(
                {
                    "url": response.url,
                    "captured_at": captured.isoformat(),
                    "sha256": digest.hexdigest(),
                    "status": response.status,
                    "content_type": response.headers.get(b"Content-Type", b"").decode("latin-1")[:200],
                    "warc_file": stored_path(self.path, self.home),
                    "warc_offset": offset,
                    "warc_record_id": record_id,
                    "crawl_run_id": recorder.run_id,
                }
            )
        self.crawler.stats.inc_value("lootwatch/evidence/records")

    def writer(self) -> WARCWriter:
        if self.file is not None and self.file.tell() >= self.max_bytes:
            self.close()
        if self.file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            spider = getattr(self.crawler.spider, "name", "crawl")
            self.part += 1
            self.path = self.folder / f"{spider}-{stamp}-{self.part:03d}.warc.gz"
            self.file = open(self.path, "ab")  # noqa: SIM115 - kept open for the run, closed on spider_closed
        return WARCWriter(self.file, gzip=True)

    def close(self, *args: Any, **kwargs: Any) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def error(self, url: str, reason: str) -> None:
        recorder = getattr(self.crawler, "lootwatch_run", None)
        if recorder is not None:
            recorder.error("evidence", url, reason)
        else:
            self.crawler.stats.inc_value("lootwatch/errors")


def stored_path(path: Path, home: Path) -> str:
    """``path`` as the evidence table keeps it: relative to ``home`` (the database's folder, absolute)
    when inside it, else absolute; never relative to the working directory."""
    full = Path(path).resolve()
    try:
        return full.relative_to(home).as_posix()
    except ValueError:
        return str(full)


def _headers(headers: Any) -> list[tuple[str, str]]:
    out = []
    for key, values in headers.items():
        if key.lower() in _DROPPED_HEADERS:
            continue
        for value in values:
            out.append((key.decode("latin-1"), value.decode("latin-1")))
    return out


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
