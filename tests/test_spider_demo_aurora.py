from datetime import date

import pytest

from spiders.markets.demo_aurora import DemoAuroraSpider

from .conftest import make_spider, response

URL = "http://127.0.0.1:8000/demo_aurora/lot-117.html"


@pytest.fixture(scope="module")
def item():
    spider = make_spider(DemoAuroraSpider)
    items = list(spider.parse_lot(response("demo_aurora_lot.html", URL)))
    assert len(items) == 1
    return items[0]


def test_lot_id(item):
    assert item["lot_id"] == "117"


def test_site_and_url(item):
    assert item["site"] == "demo_aurora"
    assert item["url"] == URL


def test_title(item):
    assert item["title"] == "Fine terracotta amphora"


def test_description_html(item):
    assert item["description_html"].startswith("<p>Fine terracotta amphora, Hellenistic")


def test_provenance(item):
    assert item["provenance"] == "From an old private collection. Acquired in the 1990s."


def test_images_are_absolute(item):
    assert item["image_urls"] == [
        "http://127.0.0.1:8000/demo_aurora/img/117_1.jpg",
        "http://127.0.0.1:8000/demo_aurora/img/117_2.jpg",
    ]


def test_estimate(item):
    assert (item["estimate_low"], item["estimate_high"], item["currency"]) == (1200.0, 1800.0, "EUR")


def test_sale_date(item):
    assert date.fromisoformat(item["sale_date"]) == date(2026, 12, 9)


def test_seller_and_house(item):
    assert item["seller"] == "dealer07"
    assert item["house"] == "Aurora Fine Art Auctions"


def test_sale_page_links_to_lots():
    spider = make_spider(DemoAuroraSpider)
    requests = list(
        spider.parse(response("demo_aurora_sale.html", "http://127.0.0.1:8000/demo_aurora/sale-1.html"))
    )
    assert [r.url for r in requests if r.callback == spider.parse_lot] == [
        f"http://127.0.0.1:8000/demo_aurora/lot-{n}.html" for n in (101, 102, 117)
    ]
    assert all(r.errback is not None for r in requests)


def test_page_without_product_is_recorded_not_crashed():
    spider = make_spider(DemoAuroraSpider)
    assert list(spider.parse_lot(response("demo_aurora_sale.html", URL))) == []
    assert spider.crawler.stats.get_value("lootwatch/errors") == 1
