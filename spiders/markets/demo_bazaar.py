"""Bazaar, the demo dealer with plain HTML: a paginated catalogue and one page per item."""

from scrapy.http import Response

from spiders.base import DemoSpider
from spiders.structured import iso_date, number


class DemoBazaarSpider(DemoSpider):
    name = "demo_bazaar"
    start_path = "/demo_bazaar/catalogue/page-1.html"

    def parse(self, response: Response):
        yield from self.follow_all(
            response, response.css("li.lot a.lot-link::attr(href)").getall(), self.parse_lot
        )
        yield from self.follow_all(
            response, response.css('nav.pager a[rel="next"]::attr(href)').getall(), self.parse
        )

    def parse_lot(self, response: Response):
        estimate = response.css("dd.estimate::text").get("")
        low, _, high = estimate.partition("-")
        yield from self.finish(
            {
                "lot_id": response.css("div.item::attr(data-lot)").get(),
                "title": response.css("h1.item-title::text").get("").strip() or None,
                "description_html": response.css("div.item-description").get(),
                "provenance": response.css("dd.provenance::text").get(),
                "image_urls": response.css("img.photo::attr(src)").getall(),
                "estimate_low": number(low),
                "estimate_high": number(high),
                "currency": (estimate.split() or [None])[-1],
                "sale_date": iso_date(response.css("time.sale-date::attr(datetime)").get()),
                "seller": response.css("dd.seller::text").get(),
                "house": "Bazaar Antiques",
            },
            response,
        )
