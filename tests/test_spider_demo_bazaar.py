import pytest

from spiders.markets.demo_bazaar import DemoBazaarSpider

from .conftest import make_spider, response

URL = "http://127.0.0.1:8000/demo_bazaar/item/133.html"


@pytest.fixture(scope="module")
def item():
    spider = make_spider(DemoBazaarSpider)
    items = list(spider.parse_lot(response("demo_bazaar_item.html", URL)))
    assert len(items) == 1
    return items[0]


def test_lot_id(item):
    assert item["lot_id"] == "133"


def test_title_unescaped(item):
    assert item["title"] == "Attractive limestone funerary relief & stand"


def test_description_html(item):
    assert "Parthian, 1st century AD." in item["description_html"]


def test_provenance(item):
    assert item["provenance"].startswith(
        "Ex collection of Dr. H. M., acquired at Sotheby's London, 12 May 1962"
    )


def test_images(item):
    assert item["image_urls"] == [f"http://127.0.0.1:8000/demo_bazaar/img/133_{n}.jpg" for n in (1, 2)]


def test_estimate(item):
    assert (item["estimate_low"], item["estimate_high"], item["currency"]) == (2000.0, 3000.0, "EUR")


def test_sale_date(item):
    assert item["sale_date"] == "2026-12-14"


def test_seller(item):
    assert item["seller"] == "dealer31"


def test_catalogue_follows_items_and_next_page():
    spider = make_spider(DemoBazaarSpider)
    url = "http://127.0.0.1:8000/demo_bazaar/catalogue/page-2.html"
    reqs = list(spider.parse(response("demo_bazaar_catalogue.html", url)))
    assert [r.url for r in reqs] == [
        "http://127.0.0.1:8000/demo_bazaar/item/121.html",
        "http://127.0.0.1:8000/demo_bazaar/item/133.html",
        "http://127.0.0.1:8000/demo_bazaar/catalogue/page-3.html",
    ]
