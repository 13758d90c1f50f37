"""On a crawler node, each run's summary goes to object storage when the spider closes.

``runs/<site>/<day>/<node>/<job>.json``: the run's start and end, how it ended, its ``lootwatch/*``
stats, the errors it recorded (at most ``MAX_ERRORS``), the lot ids it saw (stored or unchanged) and
whether it was complete (a market crawl that ended normally, saw lots and lost no listing page).
``lootwatch crawl --nodes`` reads it to say what each job did (a job without one ended before it could
write it: it crashed or its node died); ``lootwatch ingest`` turns it into the run's ``crawl_runs`` and
``errors`` rows, and marks its lots seen (and, after a complete run, the site's others gone).
"""

from __future__ import annotations

import json
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from matcher.db import connect
from matcher.nodes.objectstore import StorageError, run_key

from .node import node_context
from .runs import RunRecorder

__all__ = ["NodeRunSummary", "MAX_ERRORS"]

MAX_ERRORS = 1000


class NodeRunSummary:
    """Writes the run summary at ``spider_closed``; enabled by the node add-on only."""

    def __init__(self, crawler: Crawler):
        if not crawler.settings.get("LOOTWATCH_NODE"):
            raise NotConfigured("set LOOTWATCH_NODE (crawler-node mode) to write run summaries")
        self.crawler = crawler
        self.started = connect.now()
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NodeRunSummary:
        return cls(crawler)

    def closed(self, spider: Any, reason: str) -> None:
        context = node_context(self.crawler)
        stats = {k: v for k, v in self.crawler.stats.get_stats().items() if k.startswith("lootwatch/")}
        run = getattr(self.crawler, "lootwatch_run", None)
        errors = []
        if run is not None and run.run_id is not None:
            errors = [
                {"stage": s, "url": u, "reason": r}
                for s, u, r in run.db.execute(
                    "SELECT stage, url, reason FROM errors WHERE run_id = ? ORDER BY id LIMIT ?",
                    [run.run_id, MAX_ERRORS],
                )
            ]
        seen: list[str] = []
        if run is not None:
            # Lots stored or answered "unchanged" in this run: on the review machine they are seen today,
            # and after a complete run the site's other lots have gone (as RunRecorder decides here).
            seen = [
                lot
                for (lot,) in run.db.execute(
                    "SELECT lot_id FROM listings WHERE site = ? AND last_seen >= ? ORDER BY lot_id",
                    [spider.name, self.started],
                )
            ]
        summary = {
            "site": spider.name,
            "node": context.node,
            "job": context.job,
            "kind": getattr(spider, "kind", "market"),
            "started_at": self.started,
            "finished_at": connect.now(),
            "status": reason,
            "stats": stats,
            "errors": errors,
            "seen": seen,
            "complete": RunRecorder._complete(spider, reason, self.crawler.stats.get_stats()),
        }
        key = run_key(spider.name, context.day, context.node, context.job)
        try:
            context.store.put_once(key, json.dumps(summary, default=str).encode())
        except StorageError as exc:
            spider.logger.error("run summary not uploaded: %s", exc)
