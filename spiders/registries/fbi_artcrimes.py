"""The FBI National Stolen Art File through its public JSON API (``https://api.fbi.gov/@artcrimes``).

Pages of ``pageSize`` records (``?page=N``) until ``total`` is reached. A run that read every page
without a failed request is a complete listing: records that left the file since (recovered, or taken
down) are then marked withdrawn. The API sits behind Cloudflare, which blocks fast clients: a delay of
three seconds between pages by default.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Request, Response

from spiders.items import RegistryItem
from spiders.structured import image_list

API = "https://api.fbi.gov/@artcrimes"
SOURCE = "fbi-nsaf"


class FbiArtcrimesSpider(scrapy.Spider):
    """``-a page_size=N`` (default 50) and ``-a max_pages=N`` (default: all)."""

    name = "fbi_artcrimes"
    kind = "registry"
    page_size = 50
    max_pages = 10_000
    custom_settings = {"DOWNLOAD_DELAY": 3.0, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}

    async def start(self) -> AsyncIterator[Request]:
        self.failed = False
        self.complete = False
        yield self.page(1)

    def page(self, number: int) -> Request:
        url = f"{API}?{urlencode({'page': number, 'pageSize': int(self.page_size)})}"
        return Request(url, callback=self.parse, errback=self.on_error, cb_kwargs={"number": number})

    def parse(self, response: Response, number: int = 1) -> Iterator[RegistryItem | Request]:
        try:
            data = json.loads(response.text)
        except (ValueError, RecursionError):
            self.fail(response.url, "the API answered with something that is not JSON")
            return
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            self.fail(response.url, "no items list in the API answer")
            return
        for raw in items:
            record = record_fields(raw) if isinstance(raw, dict) else None
            if record is None:
                self.fail(response.url, "a record without uid")
                continue
            urls = record.pop("image_urls")
            yield RegistryItem(record=record, image_urls=urls)
        total = data.get("total") if isinstance(data.get("total"), int) else 0
        if items and number * int(self.page_size) < total and number < int(self.max_pages):
            yield self.page(number + 1)
        elif not self.failed and number < int(self.max_pages):
            self.complete = True  # every page read: what is missing has left the file

    def on_error(self, failure) -> None:
        self.fail(getattr(failure.request, "url", API), f"{type(failure.value).__name__}: {failure.value}")

    def fail(self, url: str, reason: str) -> None:
        self.failed = True
        recorder = getattr(self.crawler, "lootwatch_run", None)
        if recorder is not None:
            recorder.error("registry", url, reason)
        else:
            self.crawler.stats.inc_value("lootwatch/errors")


def record_fields(raw: dict[str, Any]) -> dict[str, Any] | None:
    """One NSAF record in Object ID fields, with its photos' URLs."""
    uid = raw.get("uid") or raw.get("@id")
    if not isinstance(uid, str) or not uid.strip():
        return None
    photos = [u for img in raw.get("images") or [] for u in image_list(_largest(img))]
    return {
        "source": SOURCE,
        "source_id": uid.strip(),
        "title": raw.get("title"),
        "description": raw.get("description"),
        "object_type": raw.get("crimeCategory"),
        "materials": raw.get("materials"),
        "measurements": raw.get("measurements"),
        "period": raw.get("period"),
        "maker": raw.get("maker"),
        "distinguishing_features": raw.get("additionalData"),
        "inventory_number": raw.get("referenceNumber") or raw.get("idInAgency"),
        "status": "stolen",
        "source_url": raw.get("url"),
        "image_urls": [u for u in photos if u.startswith(("http://", "https://"))],
    }


def _largest(image: Any) -> Any:
    if not isinstance(image, dict):
        return image
    return image.get("original") or image.get("large") or image.get("thumb")
