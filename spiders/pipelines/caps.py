"""Caps on what one page can make lootwatch store and screen: text length, photo count, photo URL length.

A lot page can say anything at any length: a 1.1 MB description once took 49 s to screen. Before an item
is stored or its photos fetched, every string field is cut to ``MAX_TEXT`` characters, photo URLs longer
than Scrapy's ``URLLENGTH_LIMIT`` are dropped and at most ``MAX_PHOTOS`` photos are kept. The rest of the
item goes on; each cut is one ``errors`` row (stage ``cap``) and a count in the Scrapy stats
(``lootwatch/caps/<field>``), and a lot carries what was cut in ``cuts`` (stored as ``listings.cut_json``
and shown on the candidate page).
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from spiders.items import ListingItem, RegistryItem
from spiders.registries.registry_file import RegistryPhotosItem

__all__ = ["MAX_TEXT", "MAX_PHOTOS", "MAX_PHOTO_URL", "TextCapPipeline", "cap_item"]

logger = logging.getLogger(__name__)

MAX_TEXT = 100_000  # characters per string field
MAX_PHOTOS = 50  # photo URLs per lot or registry record
# Scrapy's default URLLENGTH_LIMIT. Scrapy applies that setting to the links a spider follows (a spider
# middleware), not to the photo requests FilesPipeline makes, so this pipeline applies it to photos.
MAX_PHOTO_URL = 2083
STAGE = "cap"


class TextCapPipeline:
    """Cut the string fields and photo lists of listing and registry items to the caps; never drop an item.

    Runs before ``OriginalsPipeline``, so photos beyond the cap are never fetched. A lot's ``cuts`` is
    ``{field: {"length": original characters, "kept": characters kept}}`` for text and
    ``{"image_urls": {"count": photo URLs given, "kept": photo URLs kept, "too_long": URLs dropped for
    length}}`` for photos; absent when nothing was cut. A ``RegistryPhotosItem`` (the photos of a record
    ``lootwatch registry import`` already stored) has only its photos capped, its record left as stored.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        limit = crawler.settings.getint("URLLENGTH_LIMIT", MAX_PHOTO_URL)
        self.max_url = limit if limit > 0 else None  # 0 switches Scrapy's URL length limit off; here too

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TextCapPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        """Cap ``item`` in place and return it; anything that is not a listing or registry item passes."""
        if not isinstance(item, ListingItem | RegistryItem):
            return item
        try:
            cuts, notes = cap_item(item, self.max_url)
        except Exception as exc:  # a bug here must not lose the lot: store it uncapped, say so
            logger.exception("capping an item failed")
            self._error(_item_url(item), f"internal error: {type(exc).__name__}: {exc}")
            return item
        if cuts and isinstance(item, ListingItem):
            item["cuts"] = cuts
        url = _item_url(item)
        for field, reason in notes:
            self.crawler.stats.inc_value(f"lootwatch/caps/{field}")
            self._error(url, reason)
        return item

    def _error(self, url: str | None, reason: str) -> None:
        run = getattr(self.crawler, "lootwatch_run", None)
        if run is not None:
            run.error(STAGE, url, reason)
        else:  # no run recorder (a test crawler, a tool): still counted and logged
            self.crawler.stats.inc_value(f"lootwatch/errors/{STAGE}")
            logger.warning("%s: %s", url, reason)


def cap_item(
    item: Any, max_url: int | None = MAX_PHOTO_URL
) -> tuple[dict[str, dict[str, int]], list[tuple[str, str]]]:
    """Cut ``item`` (a ListingItem or RegistryItem) to the caps in place.

    Returns ``(cuts, notes)``: ``cuts`` as described on ``TextCapPipeline`` (``{}`` when nothing was cut),
    ``notes`` one ``(stats field, reason)`` per cut field and per dropped photo URL, in field order.
    ``max_url`` is the longest photo URL kept, in characters (None: no limit).
    """
    adapter = ItemAdapter(item)
    cuts: dict[str, dict[str, int]] = {}
    notes: list[tuple[str, str]] = []
    if isinstance(item, ListingItem):
        texts: Any = adapter
        names = [k for k in adapter.field_names() if k not in ("image_urls", "files", "file_errors", "cuts")]
    elif isinstance(item, RegistryPhotosItem) or not isinstance(adapter.get("record"), dict):
        texts, names = {}, []
    else:
        texts = adapter["record"]
        names = list(texts)
    for name in names:
        value = texts.get(name)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            texts[name] = value[:MAX_TEXT]
            cuts[name] = {"length": len(value), "kept": MAX_TEXT}
            notes.append(
                (
                    name,
                    f"{name} was {len(value):,} characters; kept the first {MAX_TEXT:,} (limit {MAX_TEXT:,})",
                )
            )
    photo_cut, photo_notes = _cap_photos(adapter, max_url)
    if photo_cut:
        cuts["image_urls"] = photo_cut
    notes.extend(photo_notes)
    return cuts, notes


def _cap_photos(
    adapter: ItemAdapter, max_url: int | None
) -> tuple[dict[str, int] | None, list[tuple[str, str]]]:
    urls = adapter.get("image_urls")
    if not isinstance(urls, list | tuple):
        return None, []
    # A registry item of some photos only says where each belongs; it must stay in step with the URLs.
    positions = adapter.get("positions") if "positions" in adapter.field_names() else None
    paired = list(zip(urls, positions, strict=True)) if positions is not None else [(u, None) for u in urls]
    notes: list[tuple[str, str]] = []
    kept = []
    for url, position in paired:
        if max_url is not None and isinstance(url, str) and len(url) > max_url:
            notes.append(
                (
                    "image_url_length",
                    f"a photo URL of {len(url):,} characters was dropped (limit {max_url:,}): {url[:100]}",
                )
            )
            continue
        kept.append((url, position))
    too_long = len(paired) - len(kept)
    if len(kept) > MAX_PHOTOS:
        notes.append(
            (
                "image_urls",
                f"image_urls had {len(kept):,} photos; kept the first {MAX_PHOTOS} "
                f"(limit {MAX_PHOTOS}), dropped {len(kept) - MAX_PHOTOS:,}",
            )
        )
        kept = kept[:MAX_PHOTOS]
    if len(kept) == len(paired):
        return None, []
    adapter["image_urls"] = [u for u, _ in kept]
    if positions is not None:
        adapter["positions"] = [p for _, p in kept]
    return {"count": len(paired), "kept": len(kept), "too_long": too_long}, notes


def _item_url(item: Any) -> str | None:
    """Where the item came from, for its errors rows: the lot URL, or the registry record's."""
    if isinstance(item, ListingItem):
        return item.get("url")
    record = item.get("record")
    if not isinstance(record, dict):
        return None
    return record.get("source_url") or f"{record.get('source')}:{record.get('source_id')}"
