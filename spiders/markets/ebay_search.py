"""eBay's HTML search results, one item per result card (title, price, photo, link).

Ships disabled: eBay's User Agreement forbids scraping; ``ebay_browse`` uses the official API. Kept
for sites where permission is given, and as the parser of saved result pages. ``-a url=...`` sets the
search page (default: the Antiquities category on ebay.com).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scrapy.http import Request, Response

from spiders.base import LotSpider
from spiders.items import ListingItem
from spiders.structured import number


class EbaySearchSpider(LotSpider):
    name = "ebay_search"
    start_urls = ["https://www.ebay.com/sch/37903/i.html?_ipg=240"]
    max_pages = 20

    def __init__(self, *args, url: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if url:
            self.start_urls = [url]
        self.pages = 0

    def parse(self, response: Response) -> Iterator[ListingItem | Request]:
        cards = response.css("ul.srp-results > li.s-item, ul.srp-results > li.s-card")
        if not cards:
            self.record("parse", response.url, "no result cards on the search page")
        for card in cards:
            fields = card_fields(card)
            if fields is not None:
                yield from self.finish(fields, response)
        self.pages += 1
        following = response.css("a.pagination__next::attr(href)").get()
        if following and self.pages < self.max_pages:
            yield self.request(response.urljoin(following), self.parse)


def card_fields(card) -> dict | None:
    """A lot from one result card; None for eBay's placeholder cards without an item link."""
    link = card.css("a.s-item__link::attr(href), a.su-link::attr(href)").get() or ""
    item_id = re.search(r"/itm/(?:[^/?]+/)?(\d{9,15})", link)
    if not item_id:
        return None
    photo = card.css("img.s-item__image-img::attr(src), img::attr(src)").get()
    return {
        "lot_id": item_id.group(1),
        "url": link.split("?")[0],
        "title": " ".join(card.css(".s-item__title span::text, .s-item__title::text").getall()).strip()
        or None,
        "price": number(card.css(".s-item__price::text").get()),
        "currency": _currency(card.css(".s-item__price::text").get()),
        "seller": card.css(".s-item__seller-info-text::text").get(),
        # Result cards show a 225 px thumbnail; the same path serves the 1600 px photo.
        "image_urls": [re.sub(r"s-l\d+\.", "s-l1600.", photo)] if photo else [],
        "house": "eBay",
    }


def _currency(text: str | None) -> str | None:
    match = re.search(r"\b(EUR|USD|GBP|CHF|AU|C)\b|[$€£]", text or "")
    if not match:
        return None
    return {"$": "USD", "€": "EUR", "£": "GBP"}.get(match.group(0), match.group(0))
