"""Resuming a crawl after any interruption, ``kill -9`` included.

Scrapy's JOBDIR keeps the request queue and remembers every request as seen the moment it is queued;
a crawl killed hard loses the requests that were in flight: they are neither in the queue nor ever
fetched again. Here a lot page is remembered for good only once its lot has been stored
(``requests.committed`` in the JOBDIR), and listing pages are always fetched again on resume, so the
lots in flight are found again and the resumed crawl ends with the same database as one that was never
interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.dupefilters import BaseDupeFilter
from scrapy.http import Request
from scrapy.utils.job import job_dir

__all__ = ["CommittedDupeFilter"]


class CommittedDupeFilter(BaseDupeFilter):
    """Filters requests already made in this run, and lot pages stored by an earlier, interrupted run."""

    def __init__(self, crawler: Crawler, path: str | None):
        self.fingerprinter = crawler.request_fingerprinter
        self.pending: set[bytes] = set()
        self.committed: set[bytes] = set()
        self.file: Any = None
        if path:
            self.file = Path(path, "requests.committed").open("a+")  # noqa: SIM115 - open for the run
            self.file.seek(0)
            self.committed.update(bytes.fromhex(line) for line in self.file.read().split() if line)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CommittedDupeFilter:
        return cls(crawler, job_dir(crawler.settings))

    def request_seen(self, request: Request) -> bool:
        fp = self.fingerprinter.fingerprint(request)
        if fp in self.pending or fp in self.committed:
            return True
        self.pending.add(fp)
        return False

    def item_scraped(self, item: Any, response: Any, spider: Any = None) -> None:
        request = getattr(response, "request", None)
        if request is None or not request.meta.get("lootwatch_lot"):
            return
        fp = self.fingerprinter.fingerprint(request)
        if fp not in self.committed:
            self.committed.add(fp)
            if self.file is not None:
                self.file.write(fp.hex() + "\n")
                self.file.flush()

    def close(self, reason: str) -> None:
        if self.file is not None:
            self.file.close()
