from scrapy.http import HtmlResponse

from spiders.structured import dig, image_list, iso_date, json_ld, next_data, number


def page(body: str) -> HtmlResponse:
    return HtmlResponse("https://example.org/lot", body=body.encode(), encoding="utf-8")


def test_json_ld_graph_lists_and_broken_scripts():
    r = page(
        '<script type="application/ld+json">{broken</script>'
        '<script type="application/ld+json">'
        '{"@graph": [{"@type": "WebPage"}, {"@type": ["Product", "Thing"], "sku": "7"}]}</script>'
        '<script type="application/ld+json">[{"@type": "VisualArtwork", "name": "Stele"}]</script>'
    )
    assert [n.get("sku") or n.get("name") for n in json_ld(r, ("Product", "VisualArtwork"))] == ["7", "Stele"]


def test_json_ld_deep_nesting_is_bounded():
    deep = '{"@graph": ' * 50 + '{"@type": "Product"}' + "}" * 50
    assert json_ld(page(f'<script type="application/ld+json">{deep}</script>'), "Product") == []


def test_next_data():
    assert next_data(page('<script id="__NEXT_DATA__">{"props": {"a": 1}}</script>')) == {"props": {"a": 1}}
    assert next_data(page('<script id="__NEXT_DATA__">not json</script>')) is None
    assert next_data(page("<p>no blob</p>")) is None


def test_helpers():
    assert dig({"a": [{"b": 2}]}, "a", 0, "b") == 2
    assert dig({"a": "x"}, "a", "b") is None
    assert iso_date("2026-12-03T18:00:00Z") == "2026-12-03" and iso_date("soon") is None
    assert image_list([{"url": "a.jpg"}, "b.jpg", {"contentUrl": "c.jpg"}, None, 3]) == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
    ]
    assert number("1,200.50 EUR") == 1200.5 and number(None) is None and number(True) is None
