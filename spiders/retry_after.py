"""Honour Retry-After: a site that answers 429 (or 503) with a wait is asked again after that wait.

Scrapy's RetryMiddleware retries at once; a server that names its wait gets it (capped at
LOOTWATCH_MAX_RETRY_AFTER seconds), and the site's download slot slows to at least that delay, so the
crawl stays polite for the rest of the run. Without a usable Retry-After the response goes on to
RetryMiddleware as usual.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future

__all__ = ["RetryAfterMiddleware", "retry_after_seconds"]

CODES = (429, 503)


class RetryAfterMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.cap = crawler.settings.getfloat("LOOTWATCH_MAX_RETRY_AFTER", 600)
        self.retries = crawler.settings.getint("RETRY_TIMES", 2)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response, spider: Any = None):
        if response.status not in CODES:
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        tries = request.meta.get("lootwatch_retry_after", 0)
        if wait is None or tries >= self.retries:
            return response
        wait = min(wait, self.cap)
        self._slow_down(request, wait)
        self.crawler.stats.inc_value("lootwatch/retry_after")
        from twisted.internet import reactor, task  # the crawl's reactor, installed by then

        await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
        retry = request.replace(dont_filter=True)
        retry.meta["lootwatch_retry_after"] = tries + 1
        return retry

    def _slow_down(self, request: Request, wait: float) -> None:
        downloader = getattr(getattr(self.crawler, "engine", None), "downloader", None)
        if downloader is None:
            return
        key = request.meta.get("download_slot") or downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, min(wait, 60.0))


def retry_after_seconds(value: bytes | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
