"""Artemis Gallery, an antiquities dealer whose product pages carry schema.org Product JSON-LD.

Ships disabled until a person has read its robots.txt and terms (seeds/sites.yaml).
"""

from spiders.base import StructuredDataSpider


class ArtemisGallerySpider(StructuredDataSpider):
    name = "artemis_gallery"
    start_urls = ["https://www.artemisgallery.com/collections/antiquities"]
    lot_links = "a[href*='/products/']"
    next_page = "a[rel=next]"
    house = "Artemis Gallery"
