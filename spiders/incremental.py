"""Fetch only what changed: conditional requests for lot pages, photos reused by URL, vanished lots.

- A lot page seen before is requested with the ETag / Last-Modified it was served with; a 304 answer
  means the lot is unchanged: its ``last_seen`` is updated and nothing else happens.
- A photo URL whose bytes are already stored (by SHA-256) is not downloaded again
  (``pipelines.originals``).
- When a market spider finishes a crawl without fetch errors, lots of its site that were not seen
  during the run are marked ``gone`` (``runs.RunRecorder``).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from matcher.db import store

__all__ = ["ConditionalRequestMiddleware", "Unchanged"]


class Unchanged(IgnoreRequest):
    """The server says the lot page has not changed since the last run."""


class ConditionalRequestMiddleware:
    """Adds If-None-Match / If-Modified-Since to lot pages already stored; turns a 304 into a touch."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        run = getattr(self.crawler, "lootwatch_run", None)
        if run is None or not request.meta.get("lootwatch_lot"):
            return None
        etag, modified = store.validators(run.db, self.crawler.spider.name, request.url)
        if etag:
            request.headers.setdefault(b"If-None-Match", etag.encode("latin-1"))
        if modified:
            request.headers.setdefault(b"If-Modified-Since", modified.encode("latin-1"))
        return None

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        run = getattr(self.crawler, "lootwatch_run", None)
        if response.status != 304 or run is None or not request.meta.get("lootwatch_lot"):
            return response
        if store.touch_listing(run.db, self.crawler.spider.name, request.url):
            self.crawler.stats.inc_value("lootwatch/lots/unchanged")
            raise Unchanged(f"unchanged since the last run: {request.url}")
        return response
