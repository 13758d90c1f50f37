"""Store each registry record and its photos, hashing every photo in all 8 rotations and mirror images."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from matcher.db import connect, store
from spiders.items import RegistryItem

from .photos import store_photos


class StoreRegistryPipeline:
    """Upsert the registry object, then one ``registry_images`` row per photo.

    A registry spider that read its source's whole listing sets ``complete = True``; records of that
    source it did not see are then marked withdrawn (never deleted).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.seen: dict[str, set[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreRegistryPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, RegistryItem):
            return item
        db = self.crawler.lootwatch_run.db
        record = item["record"]
        self.seen.setdefault(str(record["source"]), set()).add(str(record["source_id"]))
        with connect.atomic(db):
            object_id = store.upsert_registry_object(db, record)
        store_photos(self.crawler, item, object_id, store.upsert_registry_image, all_transforms=True)
        self.crawler.stats.inc_value("lootwatch/store/items")
        return item

    def close_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        if not getattr(spider, "complete", False) or not self.seen:
            return
        db = self.crawler.lootwatch_run.db
        for source, ids in self.seen.items():
            gone = store.withdraw_unseen(db, source, ids)
            self.crawler.stats.inc_value("lootwatch/registry/withdrawn", gone)
