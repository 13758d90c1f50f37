"""What spiders yield: one listing (lot) or one registry record, with the URLs of its photos."""

import scrapy


class ListingItem(scrapy.Item):
    """One lot on a marketplace."""

    site = scrapy.Field()
    lot_id = scrapy.Field()
    url = scrapy.Field()
    title = scrapy.Field()
    description_html = scrapy.Field()
    provenance = scrapy.Field()
    estimate_low = scrapy.Field()
    estimate_high = scrapy.Field()
    currency = scrapy.Field()
    price = scrapy.Field()
    house = scrapy.Field()
    seller = scrapy.Field()
    sale_date = scrapy.Field()
    image_urls = scrapy.Field()
    files = scrapy.Field()
    file_errors = scrapy.Field()
    etag = scrapy.Field()
    last_modified = scrapy.Field()
    # What TextCapPipeline cut ({field: {"length": ..., "kept": ...}}), stored as listings.cut_json.
    cuts = scrapy.Field()


class RegistryItem(scrapy.Item):
    """One registry record in Object ID fields (``record``), with ``source`` and ``source_id`` inside it."""

    record = scrapy.Field()
    image_urls = scrapy.Field()
    files = scrapy.Field()
    file_errors = scrapy.Field()
