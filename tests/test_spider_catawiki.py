"""Catawiki: a lot page and a search page of our own in the site's Next.js shape, and the real
captures in ../shared/fixtures/catawiki when present."""

import json

import pytest
from scrapy.http import HtmlResponse, Request

from spiders.markets.catawiki import CatawikiSpider

from .conftest import make_spider, response

URL = "https://www.catawiki.com/en/l/90412233-ancient-near-east-terracotta-cuneiform-tablet-9-4-cm"


@pytest.fixture(scope="module")
def item():
    items = list(make_spider(CatawikiSpider).parse_lot(response("catawiki_lot.html", URL)))
    assert len(items) == 1
    return items[0]


def test_lot_id(item):
    assert item["lot_id"] == "90412233"


def test_title(item):
    assert (
        item["title"]
        == "Ancient Near East Terracotta Cuneiform tablet - 9.4 cm - Old Babylonian - 1900-1600 BC"
    )


def test_description_in_the_sellers_language(item):
    assert item["description_html"].startswith("Tontafel mit 14 Zeilen Keilschrift")


def test_provenance_from_the_specifications(item):
    assert item["provenance"] == "Private collection, Germany, acquired in the 1990s"


def test_photos_full_size(item):
    assert item["image_urls"] == [
        "https://assets.catawiki.nl/assets/2026/10/2/a/1/b/a1b2c3d4-0001.jpg",
        "https://assets.catawiki.nl/assets/2026/10/2/a/1/b/a1b2c3d4-0002.jpg",
    ]


def test_estimate_price_and_currency(item):
    assert (item["estimate_low"], item["estimate_high"], item["currency"]) == (1200.0, 1600.0, "EUR")
    assert item["price"] == 410.0


def test_sale_date_from_the_end_of_bidding(item):
    assert item["sale_date"] == "2026-12-06"


def test_seller_and_house(item):
    assert (item["seller"], item["house"]) == ("Orient-Antik", "Catawiki")


def test_search_page_follows_lots_and_the_next_page():
    spider = make_spider(CatawikiSpider, query="cuneiform")
    requests = list(
        spider.parse(response("catawiki_search.html", "https://www.catawiki.com/en/s?q=cuneiform"))
    )
    lots = [r.url for r in requests if r.callback == spider.parse_lot]
    assert lots == [
        URL,
        "https://www.catawiki.com/en/l/90412871-old-babylonian-clay-cone-with-cuneiform",
    ]
    assert [r.url for r in requests if r.callback == spider.parse] == [
        "https://www.catawiki.com/en/s?q=cuneiform&page=2"
    ]


def test_page_without_next_data_is_recorded():
    spider = make_spider(CatawikiSpider)
    assert list(spider.parse_lot(response("demo_aurora_lot.html", URL))) == []
    assert spider.crawler.stats.get_value("lootwatch/errors") == 1


def captured(shared, name: str, url: str) -> HtmlResponse:
    """A real capture of Catawiki's page props, served as the page that embeds them."""
    props = json.loads((shared / "fixtures" / "catawiki" / name).read_text(encoding="utf-8"))
    blob = json.dumps({"props": {"pageProps": props}})
    body = f'<html><body><script id="__NEXT_DATA__" type="application/json">{blob}</script></body></html>'
    return HtmlResponse(url=url, body=body.encode(), encoding="utf-8", request=Request(url))


def test_real_open_lot(shared):
    url = "https://www.catawiki.com/en/l/105781311"
    (lot,) = make_spider(CatawikiSpider).parse_lot(captured(shared, "lot_open.json", url))
    assert lot["lot_id"] == "105781311"
    assert lot["title"].startswith("Omega - Speedmaster")
    assert len(lot["image_urls"]) == 16 and all(
        u.startswith("https://assets.catawiki.nl/") for u in lot["image_urls"]
    )
    assert lot["seller"] == "user-4e105c9"
    assert lot["sale_date"] == "2026-08-20"
    assert lot["description_html"]


def test_real_closed_lot_with_estimate(shared):
    url = "https://www.catawiki.com/en/l/104500000"
    (lot,) = make_spider(CatawikiSpider).parse_lot(captured(shared, "lot_closed.json", url))
    assert (lot["estimate_low"], lot["estimate_high"]) == (150.0, 200.0)
    assert lot["seller"] == "Artmaison"
    assert len(lot["image_urls"]) == 30  # 33 photos, capped


def test_real_search_page(shared):
    url = "https://www.catawiki.com/en/s?q=omega+speedmaster"
    spider = make_spider(CatawikiSpider, query="omega speedmaster")
    requests = list(spider.parse(captured(shared, "search_watches.json", url)))
    assert len([r for r in requests if r.callback == spider.parse_lot]) == 24
    assert [r.url for r in requests if r.callback == spider.parse] == [
        "https://www.catawiki.com/en/s?q=omega+speedmaster&page=2"
    ]
