"""The structured-data base spider (JSON-LD, microdata, OpenGraph), the YAML-declared site spider,
the JSON-LD house built on them, and the switch that keeps disabled sites from starting."""

import asyncio

import pytest
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from spiders.base import StructuredDataSpider
from spiders.markets.artemis_gallery import ArtemisGallerySpider
from spiders.markets.yaml_sites import ExampleHouseSpider
from spiders.run import project_settings, spider_names
from spiders.sites import SiteStatusMiddleware, load_sites
from spiders.structured import script_object

from .conftest import make_spider, response

PRODUCT = "https://www.artemisgallery.com/products/egyptian-faience-ushabti-for-pharaoh-seti-i"


@pytest.fixture(scope="module")
def artemis():
    (item,) = make_spider(ArtemisGallerySpider).parse_lot(response("artemis_gallery_product.html", PRODUCT))
    return item


def test_jsonld_house_lot_id_title_and_description(artemis):
    assert artemis["lot_id"] == "LK-119-C"
    assert artemis["title"] == "Egyptian Faience Ushabti for Pharaoh Seti I"
    assert "ex-Gallery Mayfair" in artemis["description_html"]


def test_jsonld_house_photos_price_seller(artemis):
    assert artemis["image_urls"] == [
        "https://www.artemisgallery.com/cdn/shop/products/ushabti-1_1024x1024.jpg",
        "https://www.artemisgallery.com/cdn/shop/products/ushabti-2_1024x1024.jpg",
    ]
    assert (artemis["price"], artemis["currency"]) == (3500.0, "USD")
    assert (artemis["seller"], artemis["house"]) == ("Artemis Gallery", "Artemis Gallery")


def test_jsonld_house_collection_page_follows_products_and_next():
    spider = make_spider(ArtemisGallerySpider)
    url = "https://www.artemisgallery.com/collections/antiquities"
    requests = list(spider.parse(response("artemis_gallery_collection.html", url)))
    assert [r.url for r in requests if r.callback == spider.parse_lot] == [
        PRODUCT,
        "https://www.artemisgallery.com/products/roman-glass-unguentarium",
    ]
    assert [r.url for r in requests if r.callback == spider.parse] == [f"{url}?page=2"]


class Generic(StructuredDataSpider):
    name = "generic_test"


def lot(name: str, url: str) -> dict:
    return next(iter(make_spider(Generic).parse_lot(response(name, url))))


def test_microdata_artwork():
    item = lot("structured_microdata.html", "https://gallery.example/lots/g-2207")
    assert (item["lot_id"], item["title"]) == ("G-2207", "Gandharan schist head of Buddha")
    assert item["image_urls"] == ["https://gallery.example/photos/g-2207.jpg"]
    assert (item["price"], item["currency"], item["sale_date"]) == (18000.0, "EUR", "2026-12-12")


def test_offer_in_graph_with_item_offered():
    item = lot("structured_graph.html", "https://house.example/lot/311")
    assert (item["lot_id"], item["title"]) == ("311", "Palmyrene funerary relief fragment")
    assert item["image_urls"] == ["https://house.example/img/311.jpg"]
    assert (item["estimate_low"], item["estimate_high"], item["price"]) == (800.0, 1200.0, 900.0)
    assert (item["provenance"], item["sale_date"]) == ("Swiss private collection", "2026-12-10")


def test_opengraph_when_structured_data_is_broken():
    item = lot("structured_opengraph.html", "https://shop.example/axe-head-77")
    assert item["title"] == "Bactrian bronze axe head"
    assert item["description_html"].startswith("Bactria")
    assert item["image_urls"] == ["https://shop.example/img/axe-1.jpg"]
    assert item["lot_id"] == "axe-head-77"


def test_script_object_reads_javascript_literals():
    state = script_object(response("structured_opengraph.html", "https://shop.example/x"), "__LOT_STATE__")
    assert state == {
        "lot": {"id": "A-77", "title": "Bactrian bronze axe head", "photos": ["axe-1.jpg", "axe-2.jpg"]}
    }


def test_page_without_any_data_is_recorded():
    spider = make_spider(Generic)
    assert list(spider.parse_lot(response("artemis_gallery_collection.html", "https://x.example/"))) == []
    assert spider.crawler.stats.get_value("lootwatch/errors") == 1


@pytest.fixture(scope="module")
def declared():
    url = "https://auctions.example/lot/58"
    (item,) = make_spider(ExampleHouseSpider).parse_lot(response("example_house_lot.html", url))
    return item


def test_yaml_site_text_fields(declared):
    assert declared["title"] == "Lot 58: Sumerian alabaster votive figure"
    assert declared["provenance"] == "Old European collection, acquired 1998"
    assert declared["seller"] == "Consignor 1142"


def test_yaml_site_description_keeps_the_html_for_evidence(declared):
    assert declared["description_html"].startswith('<div class="lot-description"><p>Standing figure')


def test_yaml_site_photos_lot_id_and_house(declared):
    assert declared["image_urls"] == [
        "https://auctions.example/full/58-a.jpg",
        "https://auctions.example/full/58-b.jpg",
    ]
    assert (declared["lot_id"], declared["house"]) == ("58", "Example Auctions")


def test_yaml_site_listing_page_from_the_entry():
    spider = make_spider(ExampleHouseSpider)
    assert spider.start_urls == ["https://auctions.example/antiquities?page=1"]
    assert (spider.lot_links, spider.next_page) == ("article.lot a.title", "a[rel=next]")


def test_every_site_records_its_terms_and_disabled_ones_say_why():
    for name, entry in load_sites().items():
        assert entry.get("robots") and entry.get("terms"), name
        if entry.get("enabled") is False:
            assert entry.get("reason"), name
    assert load_sites()["catawiki"]["enabled"] is False


def test_every_market_spider_of_a_real_site_has_an_entry(tmp_path):
    # A spider with no entry would be treated as enabled before anyone had read the site's terms.
    # The sites as `lootwatch crawl` chooses among them: market spiders, the demo houses aside.
    settings = project_settings(tmp_path / "lootwatch.db", tmp_path)
    real = {n for n in spider_names(settings, kind="market") if not n.startswith("demo_")}
    assert {"catawiki", "artemis_gallery", "example_house"} <= real
    assert real - set(load_sites()) == set()


def started(spider_cls, **settings):
    spider = spider_cls.from_crawler(get_crawler(spider_cls, settings))
    spider.crawler.spider = spider
    middleware = SiteStatusMiddleware.from_crawler(spider.crawler)

    async def collect():
        return [r async for r in middleware.process_start(spider.start())]

    return spider, asyncio.run(collect())


def test_disabled_site_starts_nothing_and_says_why():
    spider, requests = started(ArtemisGallerySpider)
    assert requests == []
    assert spider.crawler.stats.get_value("lootwatch/site_disabled") == 1


def test_operator_can_enable_a_disabled_site():
    _, requests = started(ArtemisGallerySpider, LOOTWATCH_ENABLE_SITES=["artemis_gallery"])
    assert [r.url for r in requests] == ArtemisGallerySpider.start_urls
    assert all(isinstance(r, Request) for r in requests)
