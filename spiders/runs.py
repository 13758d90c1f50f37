"""The RunRecorder extension: one ``crawl_runs`` row per spider run, and the place errors are recorded."""

from __future__ import annotations

from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler

from matcher.db import connect, store


class RunRecorder:
    """Open the review database for the run, record its start, errors and final counts."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.db = connect.open_db(crawler.settings.get("LOOTWATCH_DB"))
        self.run_id: int | None = None
        crawler.lootwatch_run = self
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        return cls(crawler)

    def spider_opened(self, spider) -> None:
        self.started = self._job_started(connect.now())
        self.run_id = store.start_run(self.db, spider.name, getattr(spider, "kind", "market"))

    def _job_started(self, now: str) -> str:
        """When this crawl began: now, or for a crawl resumed from a JOBDIR, when its first run began, so
        lots stored before the interruption are not taken for gone."""
        jobdir = self.crawler.settings.get("JOBDIR")
        if not jobdir:
            return now
        mark = Path(jobdir) / "lootwatch.started"
        if mark.is_file():
            return mark.read_text().strip() or now
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text(now)
        return now

    def spider_closed(self, spider, reason: str) -> None:
        stats = self.crawler.stats.get_stats()
        if self._complete(spider, reason, stats):
            gone = store.mark_gone(self.db, spider.name, self.started)
            self.crawler.stats.set_value("lootwatch/lots/gone", gone)
        status = "finished" if reason == "finished" else reason
        store.finish_run(self.db, self.run_id, status, self.crawler.stats.get_stats())
        jobdir = self.crawler.settings.get("JOBDIR")
        if jobdir and reason == "finished":
            (Path(jobdir) / "lootwatch.started").unlink(missing_ok=True)  # the next crawl starts afresh

    @staticmethod
    def _complete(spider, reason: str, stats: dict) -> bool:
        """A market crawl that ended normally, saw lots and lost no listing page: what it missed has
        gone. A run that saw nothing is a broken layout or a blocked crawler, not an empty market."""
        seen = stats.get("lootwatch/store/items", 0) + stats.get("lootwatch/lots/unchanged", 0)
        return (
            getattr(spider, "kind", "market") == "market"
            and reason == "finished"
            and seen > 0
            and not stats.get("lootwatch/errors/listing_pages")
            and not stats.get("lootwatch/site_disabled")
        )

    def error(self, stage: str, url: str | None, reason: str) -> None:
        """Count and keep one error; the crawl goes on."""
        self.crawler.stats.inc_value("lootwatch/errors")
        self.crawler.stats.inc_value(f"lootwatch/errors/{stage}")
        store.record_error(self.db, self.run_id, stage, url, reason)
