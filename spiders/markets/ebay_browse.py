"""eBay through its official Browse API (``item_summary/search``), paginated by ``next``.

Needs an OAuth application token in the EBAY_OAUTH_TOKEN environment variable (eBay developer
program); without one the run records why and fetches nothing. ``-a query=`` and ``-a category=``
(default 37903, Antiquities) and ``-a marketplace=`` (default EBAY_US) narrow the search.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

from scrapy.http import Request, Response

from spiders.base import LotSpider
from spiders.items import ListingItem
from spiders.structured import dig, image_list, iso_date, number

API = "https://api.ebay.com/buy/browse/v1/item_summary/search"


class EbayBrowseSpider(LotSpider):
    name = "ebay_browse"
    query = "antiquity"
    category = "37903"
    marketplace = "EBAY_US"
    max_pages = 50
    custom_settings = {"ROBOTSTXT_OBEY": False}  # an API with a key, not pages for robots

    async def start(self) -> AsyncIterator[Request]:
        token = os.environ.get("EBAY_OAUTH_TOKEN", "").strip()
        if not token:
            self.record("config", API, "EBAY_OAUTH_TOKEN is not set: no eBay API calls made")
            return
        self.headers = {"Authorization": f"Bearer {token}", "X-EBAY-C-MARKETPLACE-ID": self.marketplace}
        params = {"q": self.query, "category_ids": self.category, "limit": 200}
        yield self.api_request(f"{API}?{urlencode(params)}")

    def api_request(self, url: str) -> Request:
        return Request(url, headers=self.headers, callback=self.parse, errback=self.on_error, cb_kwargs={})

    def parse(self, response: Response, page: int = 1) -> Iterator[ListingItem | Request]:
        try:
            data = json.loads(response.text)
        except (ValueError, RecursionError):
            self.record("parse", response.url, "the API answered with something that is not JSON")
            return
        for summary in data.get("itemSummaries") or [] if isinstance(data, dict) else []:
            if isinstance(summary, dict):
                yield from self.finish(summary_fields(summary), response)
        following = data.get("next") if isinstance(data, dict) else None
        if isinstance(following, str) and following.startswith(API) and page < self.max_pages:
            request = self.api_request(following)
            request.cb_kwargs["page"] = page + 1
            yield request


def summary_fields(s: dict) -> dict:
    """A lot from one Browse API item summary."""
    photos = image_list(dig(s, "image", "imageUrl")) + [
        u for extra in s.get("additionalImages") or [] for u in image_list(dig(extra, "imageUrl"))
    ]
    return {
        "lot_id": str(s.get("itemId") or s.get("legacyItemId") or ""),
        "url": s.get("itemWebUrl"),
        "title": s.get("title"),
        "description_html": s.get("shortDescription"),
        "price": number(dig(s, "price", "value") or dig(s, "currentBidPrice", "value")),
        "currency": dig(s, "price", "currency") or dig(s, "currentBidPrice", "currency"),
        "sale_date": iso_date(s.get("itemEndDate")),
        "seller": dig(s, "seller", "username"),
        "image_urls": photos,
        "house": "eBay",
    }
