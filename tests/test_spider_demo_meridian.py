import pytest

from spiders.markets.demo_meridian import DemoMeridianSpider

from .conftest import make_spider, response

URL = "http://127.0.0.1:8000/demo_meridian/l/142-western-asiatic-clay-cuneiform-tablet.html"


@pytest.fixture(scope="module")
def item():
    spider = make_spider(DemoMeridianSpider)
    items = list(spider.parse_lot(response("demo_meridian_lot.html", URL)))
    assert len(items) == 1
    return items[0]


def test_lot_id(item):
    assert item["lot_id"] == "142"


def test_title(item):
    assert item["title"] == "Western Asiatic clay cuneiform tablet"


def test_description_html(item):
    assert item["description_html"] == (
        "<p>Superb clay cuneiform tablet, Ur III, c. 2100-2000 BC.</p><p>H. 6.2 cm; W. 4.9 cm.</p>"
    )


def test_provenance_from_specifications(item):
    assert item["provenance"].startswith("Recently surfaced; from a reliable supplier.")


def test_images(item):
    assert item["image_urls"] == ["http://127.0.0.1:8000/demo_meridian/img/142_1.jpg"]


def test_estimate(item):
    assert (item["estimate_low"], item["estimate_high"], item["currency"]) == (1500.0, 2250.0, "EUR")


def test_sale_date_from_bidding_end(item):
    assert item["sale_date"] == "2026-12-03"


def test_seller(item):
    assert item["seller"] == "dealer23"


def test_auction_page_follows_lots_and_next_page():
    spider = make_spider(DemoMeridianSpider)
    reqs = list(
        spider.parse(
            response("demo_meridian_auction.html", "http://127.0.0.1:8000/demo_meridian/auction/1.html")
        )
    )
    urls = [r.url for r in reqs]
    assert urls[:3] == [
        "http://127.0.0.1:8000/demo_meridian/l/101-nice-bronze-drachm.html",
        "http://127.0.0.1:8000/demo_meridian/l/102-fine-clay-bowl.html",
        "http://127.0.0.1:8000/demo_meridian/l/142-western-asiatic-clay-cuneiform-tablet.html",
    ]
    assert urls[3] == "http://127.0.0.1:8000/demo_meridian/auction/2.html"
    assert reqs[3].callback == spider.parse
