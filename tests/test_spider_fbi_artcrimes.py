"""FBI National Stolen Art File: API pages we wrote to its documented shape."""

import pytest
from scrapy.http import Request, TextResponse

from spiders.registries.fbi_artcrimes import API, FbiArtcrimesSpider

from .conftest import FILES, make_spider


def api_page(name: str, number: int) -> TextResponse:
    url = f"{API}?page={number}&pageSize=2"
    return TextResponse(url, body=(FILES / name).read_bytes(), encoding="utf-8", request=Request(url))


@pytest.fixture(scope="module")
def first():
    spider = make_spider(FbiArtcrimesSpider, page_size=2)
    spider.failed = spider.complete = False
    out = list(spider.parse(api_page("fbi_artcrimes_page1.json", 1), number=1))
    return spider, [o for o in out if not isinstance(o, Request)], [o for o in out if isinstance(o, Request)]


def test_source_and_id(first):
    _, items, _ = first
    assert [(i["record"]["source"], i["record"]["source_id"]) for i in items] == [
        ("fbi-nsaf", "a1f3c2e0d9b84c6f8e7a6b5c4d3e2f10"),
        ("fbi-nsaf", "b2e4d6f8a0c24e6a8c0e2a4c6e8a0c2e"),
    ]


def test_object_id_fields(first):
    record = first[1][0]["record"]
    assert record["title"] == "Cuneiform Tablet"
    assert record["object_type"] == "Archaeological Material"
    assert (record["materials"], record["measurements"], record["period"]) == (
        "Clay",
        "3 3/4 x 2 3/8 in.",
        "Old Babylonian",
    )
    assert record["inventory_number"] == "NSAF-2019-0031"
    assert record["distinguishing_features"] == "Museum number in ink on the edge"
    assert record["source_url"].startswith("https://artcrimes.fbi.gov/nsaf/stolen-art/")


def test_photos_original_size_and_only_http(first):
    items = first[1]
    assert items[0]["image_urls"] == [
        "https://artcrimes.fbi.gov/nsaf/photos/2019/tablet-1.jpg",
        "https://artcrimes.fbi.gov/nsaf/photos/2019/tablet-2.jpg",
    ]
    assert items[1]["image_urls"] == ["https://artcrimes.fbi.gov/nsaf/photos/2021/bull.jpg"]


def test_pages_on_until_total(first):
    spider, _, requests = first
    assert [r.url for r in requests] == [f"{API}?page=2&pageSize=2"]
    assert spider.complete is False


def test_last_page_with_a_bad_record_is_not_a_complete_listing(first):
    spider = first[0]
    assert list(spider.parse(api_page("fbi_artcrimes_page2.json", 2), number=2)) == []
    assert spider.failed and not spider.complete
    assert spider.crawler.stats.get_value("lootwatch/errors") == 1


def test_clean_last_page_completes_the_listing():
    spider = make_spider(FbiArtcrimesSpider, page_size=2)
    spider.failed = spider.complete = False
    list(spider.parse(api_page("fbi_artcrimes_page1.json", 2), number=2))
    assert spider.complete
