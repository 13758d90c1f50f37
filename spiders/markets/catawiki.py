"""Catawiki: search pages and lot pages, both Next.js, read from their ``__NEXT_DATA__`` page props.

Ships disabled (seeds/sites.yaml: its terms forbid automated collection). ``-a query=...`` sets the
search (default: antiquities).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Request, Response

from spiders.base import LotSpider
from spiders.items import ListingItem
from spiders.structured import dig, image_list, iso_date, next_data, number


class CatawikiSpider(LotSpider):
    name = "catawiki"
    base = "https://www.catawiki.com/en/s"
    query = "antiquities"
    max_pages = 50

    async def start(self) -> AsyncIterator[Request]:
        yield self.request(self.search_url(1), self.parse)

    def search_url(self, page: int) -> str:
        return f"{self.base}?{urlencode({'q': self.query, 'page': page})}"

    def parse(self, response: Response) -> Iterator[Request]:
        props = page_props(response)
        found = dig(props, "searchLots", "lots")
        if not isinstance(found, list):
            self.record("parse", response.url, "no searchLots in __NEXT_DATA__")
            return
        urls = [lot.get("url") for lot in found if isinstance(lot, dict) and isinstance(lot.get("url"), str)]
        yield from self.follow_all(response, urls, self.parse_lot)
        page, per_page = props.get("currentPage") or 1, props.get("lotsPerPage") or len(found) or 1
        total = dig(props, "searchLots", "total") or 0
        if isinstance(page, int) and page * per_page < total and page < self.max_pages:
            yield self.request(self.search_url(page + 1), self.parse)

    def parse_lot(self, response: Response) -> Iterator[ListingItem]:
        props = page_props(response)
        lot = dig(props, "lotDetailsData")
        if not isinstance(lot, dict):
            self.record("parse", response.url, "no lotDetailsData in __NEXT_DATA__")
            return
        yield from self.finish(lot_fields(props, lot), response)


def page_props(response: Response) -> dict[str, Any]:
    props = dig(next_data(response), "props", "pageProps")
    return props if isinstance(props, dict) else {}


def lot_fields(props: dict[str, Any], lot: dict[str, Any]) -> dict[str, Any]:
    """A Catawiki lot's fields from its page props."""
    specs = {
        str(s.get("name", "")).strip().lower(): s.get("value")
        for s in lot.get("specifications") or []
        if isinstance(s, dict)
    }
    estimate = lot.get("expertsEstimate") if isinstance(lot.get("expertsEstimate"), dict) else {}
    currency = dig(props, "userData", "currencyCode") or "EUR"
    bidding = props.get("biddingBlockResponse") if isinstance(props.get("biddingBlockResponse"), dict) else {}
    return {
        "lot_id": str(lot.get("lotId") or props.get("lotId") or ""),
        "title": " - ".join(t for t in (lot.get("lotTitle"), lot.get("lotSubtitle")) if isinstance(t, str)),
        "description_html": lot.get("description") or lot.get("autoTranslatedDescription"),
        "provenance": specs.get("provenance"),
        "image_urls": [u for img in lot.get("images") or [] for u in image_list(_largest(img))][:30],
        "estimate_low": number(dig(estimate, "min", currency)),
        "estimate_high": number(dig(estimate, "max", currency)),
        "currency": currency,
        "price": number(bidding.get("localizedCurrentBidAmount")),
        "sale_date": _epoch_ms(bidding.get("biddingEndTime")) or iso_date(dig(props, "auction", "closeAt")),
        "seller": dig(lot, "sellerInfo", "sellerName"),
        "house": "Catawiki",
    }


def _largest(image: Any) -> Any:
    if not isinstance(image, dict):
        return image
    return image.get("large") or image.get("id") or image.get("medium")


def _epoch_ms(value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 4e12:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC).date().isoformat()
