"""WARC evidence: the response as it arrived (still compressed), with its request, and a database row."""

import gzip
import hashlib

from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from matcher.db import connect
from spiders.base import LotSpider
from spiders.warc import WarcMiddleware


class Recorder:
    def __init__(self, db):
        self.db, self.run_id = db, 7


def test_compressed_response_kept_as_served(tmp_path):
    crawler = get_crawler(LotSpider, {"LOOTWATCH_DATA_DIR": str(tmp_path)})
    crawler.spider = LotSpider.from_crawler(crawler, name="evidence_test")
    crawler.lootwatch_run = Recorder(connect.open_db(tmp_path / "e.db"))
    middleware = WarcMiddleware.from_crawler(crawler)
    page = b"<html><body>Lot 7: <b>Sabaean stele</b></body></html>"
    raw = gzip.compress(page)
    request = Request("https://house.example/lot/7?x=1", headers={"Accept": "text/html"})
    response = HtmlResponse(
        request.url,
        status=200,
        body=raw,
        headers={"Content-Encoding": "gzip", "Content-Type": "text/html", "Transfer-Encoding": "chunked"},
        request=request,
    )
    assert middleware.process_response(request, response) is response
    middleware.close()
    row = next(crawler.lootwatch_run.db.query("SELECT * FROM evidence"))
    assert row["sha256"] == hashlib.sha256(raw).hexdigest()
    assert (row["status"], row["content_type"], row["crawl_run_id"]) == (200, "text/html", 7)
    with open(row["warc_file"], "rb") as fh:
        records = list(
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI"),
                r.http_headers,
                r.raw_stream.read(),
            )
            for r in ArchiveIterator(fh)
        )
    (kind, url, headers, body), (req_kind, req_url, req_headers, _) = records
    assert (kind, url, req_kind, req_url) == ("response", request.url, "request", request.url)
    assert (
        headers.get_header("Content-Encoding") == "gzip" and headers.get_header("Transfer-Encoding") is None
    )
    assert body == raw and gzip.decompress(body) == page  # stored as served: compressed
    assert req_headers.protocol == "GET" and "/lot/7?x=1" in req_headers.statusline


def test_file_urls_are_not_web_evidence(tmp_path):
    crawler = get_crawler(LotSpider, {"LOOTWATCH_DATA_DIR": str(tmp_path)})
    crawler.lootwatch_run = Recorder(connect.open_db(tmp_path / "e.db"))
    middleware = WarcMiddleware.from_crawler(crawler)
    request = Request("file:///registry/photos/1.jpg")
    middleware.process_response(request, HtmlResponse(request.url, body=b"x", request=request))
    assert crawler.lootwatch_run.db.table("evidence").count == 0
