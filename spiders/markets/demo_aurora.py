"""Aurora, the demo house that publishes schema.org Product JSON-LD on each lot page."""

from scrapy.http import Response

from spiders.base import DemoSpider
from spiders.structured import dig, image_list, iso_date, json_ld, number


class DemoAuroraSpider(DemoSpider):
    name = "demo_aurora"
    start_path = "/demo_aurora/index.html"

    def parse(self, response: Response):
        yield from self.follow_all(response, response.css("a.sale::attr(href)").getall(), self.parse_sale)

    def parse_sale(self, response: Response):
        links = response.css("article.lot-card a::attr(href)").getall()
        yield from self.follow_all(response, links, self.parse_lot)

    def parse_lot(self, response: Response):
        products = json_ld(response, "Product")
        if not products:
            self.record("parse", response.url, "no schema.org Product on the lot page")
            return
        p = products[0]
        offer = p.get("offers") if isinstance(p.get("offers"), dict) else {}
        provenance = [
            x.get("value")
            for x in p.get("additionalProperty") or []
            if isinstance(x, dict) and str(x.get("name", "")).lower() == "provenance"
        ]
        yield from self.finish(
            {
                "lot_id": str(p.get("sku") or ""),
                "title": p.get("name"),
                "description_html": p.get("description"),
                "provenance": provenance[0] if provenance else None,
                "image_urls": image_list(p.get("image")),
                "estimate_low": number(dig(offer, "priceSpecification", "minPrice")),
                "estimate_high": number(dig(offer, "priceSpecification", "maxPrice")),
                "currency": offer.get("priceCurrency"),
                "sale_date": iso_date(offer.get("availabilityEnds")),
                "seller": dig(offer, "seller", "name"),
                "house": "Aurora Fine Art Auctions",
            },
            response,
        )
