"""eBay: the Browse API on a response we wrote to its documented shape, and the HTML search page on a
page of our own in eBay's markup and on the real capture in ../shared/fixtures/ebay when present."""

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse

from spiders.markets.ebay_browse import API, EbayBrowseSpider
from spiders.markets.ebay_search import EbaySearchSpider

from .conftest import FILES, make_spider, response


@pytest.fixture(scope="module")
def api_items():
    spider = make_spider(EbayBrowseSpider)
    spider.headers = {"Authorization": "Bearer test"}
    url = f"{API}?q=antiquity"
    body = (FILES / "ebay_browse.json").read_bytes()
    out = list(spider.parse(TextResponse(url, body=body, encoding="utf-8", request=Request(url))))
    return [o for o in out if not isinstance(o, Request)], [o for o in out if isinstance(o, Request)]


def test_api_lot_id_and_url(api_items):
    items, _ = api_items
    assert [i["lot_id"] for i in items] == ["v1|126504419921|0", "v1|335117702841|0"]
    assert items[0]["url"] == "https://www.ebay.com/itm/126504419921"


def test_api_title_and_description(api_items):
    first = api_items[0][0]
    assert first["title"].startswith("Ancient Sabaean alabaster head")
    assert first["description_html"] == "From an old European private collection."


def test_api_photos(api_items):
    assert api_items[0][0]["image_urls"] == [
        "https://i.ebayimg.com/images/g/abcAAOSw/s-l1600.jpg",
        "https://i.ebayimg.com/images/g/defAAOSw/s-l1600.jpg",
    ]


def test_api_price_seller_and_end(api_items):
    first = api_items[0][0]
    assert (first["price"], first["currency"], first["seller"]) == (2400.0, "USD", "antik-orient")
    assert first["sale_date"] == "2026-12-04"


def test_api_follows_next_with_the_token(api_items):
    _, requests = api_items
    assert [r.url for r in requests] == [f"{API}?q=antiquity&category_ids=37903&limit=2&offset=2"]
    assert requests[0].headers["Authorization"] == b"Bearer test"


def test_api_without_token_fetches_nothing(monkeypatch):
    monkeypatch.delenv("EBAY_OAUTH_TOKEN", raising=False)
    spider = make_spider(EbayBrowseSpider)

    async def collect():
        return [r async for r in spider.start()]

    import asyncio

    assert asyncio.run(collect()) == []
    assert spider.crawler.stats.get_value("lootwatch/errors") == 1


SEARCH = "https://www.ebay.com/sch/37903/i.html?_ipg=240"


@pytest.fixture(scope="module")
def search():
    spider = make_spider(EbaySearchSpider)
    out = list(spider.parse(response("ebay_search.html", SEARCH)))
    return [o for o in out if not isinstance(o, Request)], [o for o in out if isinstance(o, Request)]


def test_search_lot_ids_skip_placeholders(search):
    assert [i["lot_id"] for i in search[0]] == ["126504419921", "335117702841"]


def test_search_title_is_text_not_markup(search):
    assert search[0][0]["title"] == "Ancient Mesopotamian Cylinder Seal Hematite <b>old collection</b>"


def test_search_prices_in_either_notation(search):
    assert [(i["price"], i["currency"]) for i in search[0]] == [(1250.0, "USD"), (89.5, "EUR")]


def test_search_full_size_photo(search):
    assert search[0][0]["image_urls"] == ["https://i.ebayimg.com/thumbs/images/g/abcAAOSw/s-l1600.webp"]


def test_search_seller_and_url(search):
    assert search[0][0]["seller"] == "antik-orient (312) 98.7%"
    assert search[0][0]["url"] == "https://www.ebay.com/itm/126504419921"


def test_search_next_page(search):
    assert [r.url for r in search[1]] == ["https://www.ebay.com/sch/37903/i.html?_ipg=240&_pgn=2"]


def test_real_search_page(shared):
    url = "https://www.ebay.de/sch/i.html?_nkw=ladekabel"
    body = (shared / "fixtures" / "ebay" / "ebay_de_search.html").read_bytes()
    spider = make_spider(EbaySearchSpider)
    out = list(spider.parse(HtmlResponse(url, body=body, encoding="utf-8", request=Request(url))))
    items = [o for o in out if not isinstance(o, Request)]
    assert len(items) >= 60  # 64 results, eBay's own placeholder cards skipped
    assert all(i["lot_id"].isdigit() and i["title"] and i["image_urls"] for i in items)
    assert all(i["price"] is not None and i["currency"] == "EUR" for i in items if i["price"])
    assert len({i["lot_id"] for i in items}) == len(items)
