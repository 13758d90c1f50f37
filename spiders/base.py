"""Base classes every lootwatch spider builds on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import scrapy
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from .items import ListingItem


class LotSpider(scrapy.Spider):
    """A marketplace spider: requests carry an errback that records failures, items pass one hook.

    Attributes:
        start_urls: where the crawl begins.
        kind: "market" (listing sites) or "registry"; written to ``crawl_runs``.
    Hook:
        post_process_item(item, response): per-site fixes; return the item, or None to drop it (counted).
    """

    kind = "market"
    start_urls: list[str] = []

    async def start(self) -> AsyncIterator[Request]:
        for url in self.start_urls:
            yield self.request(url, self.parse)

    def request(self, url: str, callback: Callable) -> Request:
        """A request whose failure is recorded against this run instead of only logged."""
        return Request(url, callback=callback, errback=self.on_error)

    def follow_all(self, response: Response, urls: Iterable[str], callback: Callable) -> Iterator[Request]:
        for url in urls:
            yield self.request(response.urljoin(url), callback)

    def on_error(self, failure: Failure) -> None:
        url = getattr(getattr(failure, "request", None), "url", None)
        self.record("fetch", url, f"{type(failure.value).__name__}: {failure.value}")

    def record(self, stage: str, url: str | None, reason: str) -> None:
        """Count and keep one error of this run (see spiders.runs.RunRecorder)."""
        recorder = getattr(self.crawler, "lootwatch_run", None)
        if recorder is not None:
            recorder.error(stage, url, reason)
        else:
            self.crawler.stats.inc_value("lootwatch/errors")

    def finish(self, fields: dict[str, Any], response: Response) -> Iterator[ListingItem]:
        """Make the item (site, URL, absolute photo URLs) and pass it through the hook."""
        fields.setdefault("url", response.url)
        fields["site"] = self.name
        fields["image_urls"] = [response.urljoin(u) for u in fields.get("image_urls") or []]
        if not fields.get("lot_id"):
            self.crawler.stats.inc_value("lootwatch/items/no_lot_id")
            self.record("parse", response.url, "no lot id on the page")
            return
        item = self.post_process_item(ListingItem(**fields), response)
        if item is None:
            self.crawler.stats.inc_value("lootwatch/items/dropped_by_hook")
            return
        yield item

    def post_process_item(self, item: ListingItem, response: Response) -> ListingItem | None:
        return item


class DemoSpider(LotSpider):
    """A house of the bundled demo marketplace; its address comes from ``-a base_url=`` or
    the LOOTWATCH_DEMO_URL setting (``lootwatch demo`` sets it).

    Attributes:
        start_path: the first page, relative to the demo server.
    """

    start_path = "/"

    async def start(self) -> AsyncIterator[Request]:
        base = getattr(self, "base_url", None) or self.settings.get("LOOTWATCH_DEMO_URL")
        if not base:
            raise ValueError(f"{self.name}: set -a base_url=http://127.0.0.1:PORT or LOOTWATCH_DEMO_URL")
        yield self.request(base.rstrip("/") + self.start_path, self.parse)
