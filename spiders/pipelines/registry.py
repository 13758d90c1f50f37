"""Store each registry record and its photos, hashing every photo in all 8 rotations and mirror images."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from matcher import store
from spiders.items import RegistryItem

from .photos import store_photos


class StoreRegistryPipeline:
    """Upsert the registry object, then one ``registry_images`` row per photo."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreRegistryPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, RegistryItem):
            return item
        db = self.crawler.lootwatch_run.db
        with db.atomic():
            object_id = store.upsert_registry_object(db, item["record"])
        store_photos(self.crawler, item, object_id, store.upsert_registry_image, all_transforms=True)
        self.crawler.stats.inc_value("lootwatch/store/items")
        return item
