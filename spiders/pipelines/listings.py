"""Store each lot and its photos in the review database, hashing every photo once."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bs4 import BeautifulSoup
from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from matcher.db import connect, store
from spiders.items import ListingItem
from spiders.structured import plain_text

from .photos import store_photos

# Text fields as a page may write them: "T&ecirc;te", "<b>Bronze</b> bull".
PLAIN_FIELDS = ("title", "provenance", "seller", "house", "currency")


class StoreListingPipeline:
    """Upsert the listing, then one ``listing_images`` row per photo (bad ones kept with their error)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreListingPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ListingItem):
            return item
        db = self.crawler.lootwatch_run.db
        listing = listing_fields(item)
        with connect.atomic(db):
            listing_id, _ = store.upsert_listing(db, listing)
        store_photos(self.crawler, listing, listing_id, store.upsert_listing_image, all_transforms=False)
        with connect.atomic(db):
            store.set_validators(db, listing_id, listing.get("etag"), listing.get("last_modified"))
        self.crawler.stats.inc_value("lootwatch/store/items")
        return item


def listing_fields(item: ListingItem) -> dict[str, Any]:
    """The lot as ``store.upsert_listing`` takes it: the item's fields with plain text where a page may
    write HTML, the description as clean text and ``content_sha256``. A crawler node exports the same."""
    listing = ItemAdapter(item).asdict()
    for key in PLAIN_FIELDS:  # every spider's, not only the structured-data readers'
        listing[key] = plain_text(listing.get(key))
    listing["description"] = clean_text(listing.get("description_html"))
    listing["content_sha256"] = content_hash(listing)
    return listing


def clean_text(html: str | None) -> str | None:
    """Listing descriptions arrive as HTML fragments; screening and search want plain text."""
    if not html:
        return None
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split()) or None


def content_hash(listing: dict[str, Any]) -> str:
    """SHA-256 of what a lot says and shows, to tell a changed lot from an unchanged one."""
    keys = (
        "title",
        "description_html",
        "provenance",
        "estimate_low",
        "estimate_high",
        "currency",
        "price",
        "seller",
        "sale_date",
        "image_urls",
    )
    blob = json.dumps({k: listing.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
