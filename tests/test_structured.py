from scrapy.http import HtmlResponse

from spiders.jsonld import schema_term, types_of
from spiders.structured import dig, html_text, image_list, iso_date, json_ld, next_data, number, plain_text


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


def test_json_ld_reports_unreadable_blocks_one_line_each():
    problems: list[str] = []
    r = page(
        '<script type="application/ld+json">{"a": {{ lot.name }}}</script>'
        '<script type="application/ld+json"></script>'
    )
    assert json_ld(r, "Product", problems.append) == []
    assert len(problems) == 1 and problems[0].startswith("JSON-LD block 1 of 2: not JSON")


def test_schema_terms():
    assert {
        schema_term(t) for t in ("http://schema.org/Product", "https://schema.org/Product/", "schema:Product")
    } == {"Product"}
    assert types_of({"@type": ["Thing", "https://www.schema.org/Offer", 3]}) == {"Thing", "Offer"}
    assert types_of({"@type": None}) == set() and types_of("Product") == set()


def test_plain_and_html_text():
    assert plain_text("  A &amp;amp; B<br>\n<i>c</i> <script>x()</script>") == "A & B c"
    assert plain_text("< 3 cm &lt; 4 cm") == "< 3 cm < 4 cm"
    assert plain_text("<p> </p>") is None and plain_text(None) is None
    assert html_text("&lt;p&gt;Caf&eacute;&lt;/p&gt;") == "<p>Café</p>"
