"""Aurora, the demo house that publishes schema.org Product JSON-LD on each lot page."""

from spiders.base import DemoSpider, StructuredDataSpider


class DemoAuroraSpider(DemoSpider, StructuredDataSpider):
    name = "demo_aurora"
    start_path = "/demo_aurora/index.html"
    listing_links = "a.sale"
    lot_links = "article.lot-card a"
    house = "Aurora Fine Art Auctions"
