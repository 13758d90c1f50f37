"""Meridian, the demo house built with Next.js: every page carries its data in ``__NEXT_DATA__``."""

from scrapy.http import Response

from spiders.base import DemoSpider
from spiders.structured import dig, image_list, iso_date, next_data, number


class DemoMeridianSpider(DemoSpider):
    name = "demo_meridian"
    start_path = "/demo_meridian/auction/1.html"

    def parse(self, response: Response):
        auction = dig(next_data(response), "props", "pageProps", "auction")
        if not isinstance(auction, dict):
            self.record("parse", response.url, "no auction in __NEXT_DATA__")
            return
        lots = [
            lot.get("url") for lot in auction.get("lots") or [] if isinstance(lot, dict) and lot.get("url")
        ]
        yield from self.follow_all(response, lots, self.parse_lot)
        if auction.get("next"):
            yield from self.follow_all(response, [auction["next"]], self.parse)

    def parse_lot(self, response: Response):
        lot = dig(next_data(response), "props", "pageProps", "lotDetailsData")
        if not isinstance(lot, dict):
            self.record("parse", response.url, "no lotDetailsData in __NEXT_DATA__")
            return
        specs = {
            str(s.get("name", "")).lower(): s.get("value")
            for s in lot.get("specifications") or []
            if isinstance(s, dict)
        }
        estimate = lot.get("expertEstimate") or {}
        yield from self.finish(
            {
                "lot_id": str(lot.get("id") or ""),
                "title": lot.get("title"),
                "description_html": lot.get("description"),
                "provenance": specs.get("provenance"),
                "image_urls": image_list(lot.get("images")),
                "estimate_low": number(estimate.get("min")),
                "estimate_high": number(estimate.get("max")),
                "currency": estimate.get("currency"),
                "sale_date": iso_date(lot.get("biddingEndTime")),
                "seller": dig(lot, "seller", "name"),
                "house": "Meridian",
            },
            response,
        )
