"""JSON-LD as sites publish it, one small page per shape (tests/files/pages/), read by the structured-data
base spider: the lot's fields come out right, and what cannot be read is recorded, never raised."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request

from spiders.base import StructuredDataSpider
from spiders.jsonld import MAX_JSONLD, parse_block
from spiders.structured import image_list, json_ld, next_data, number, plain_text, script_object

from .conftest import FILES, make_spider

URL = "https://auction.example/lot/7-x"
URL12 = "https://auction.example/lot/12-x"


class Generic(StructuredDataSpider):
    name = "generic_shapes"


class Errors:
    """Stands in for the run recorder: keeps each recorded error."""

    def __init__(self):
        self.rows: list[tuple[str, str | None, str]] = []

    def error(self, stage: str, url: str | None, reason: str) -> None:
        self.rows.append((stage, url, reason))


def html(body: str | bytes, url: str = URL) -> HtmlResponse:
    data = body.encode() if isinstance(body, str) else body
    return HtmlResponse(url=url, body=data, encoding="utf-8", request=Request(url))


def crawl(page: str | bytes, url: str = URL) -> tuple[list[dict], list[tuple[str, str | None, str]]]:
    spider = make_spider(Generic)
    spider.crawler.lootwatch_run = errors = Errors()
    items = [dict(i) for i in spider.parse_lot(html(page, url))]
    return items, errors.rows


def lot(name: str, url: str = URL) -> dict:
    items, errors = crawl((FILES / "pages" / name).read_bytes(), url)
    assert errors == []
    (item,) = items
    return item


# -- reading the blocks ------------------------------------------------------------------------------


def test_control_characters_in_strings():
    item = lot("control-chars.html")
    assert (item["lot_id"], item["title"]) == ("CC-1", "Terracotta oil lamp")
    assert item["description_html"] == "Roman oil lamp.\nTwo lines, one tab:\there."


def test_html_comment_wrapper():
    assert lot("comment-wrapper.html")["title"] == "Faience amulet of Bes"


def test_cdata_wrapper():
    assert lot("cdata-wrapper.html")["title"] == "Glass unguentarium"


def test_trailing_commas_and_semicolon():
    item = lot("trailing-commas.html")
    assert (item["title"], item["price"], item["currency"]) == ("Marble torso", 4500.0, "GBP")
    assert item["image_urls"] == ["https://auction.example/img/tc1.jpg"]


def test_javascript_comments_keep_urls_in_strings():
    item = lot("js-comments.html")
    assert (item["lot_id"], item["title"]) == ("JC-1", "Bronze fibula")
    assert item["image_urls"] == ["https://auction.example/img/jc1.jpg"]


def test_several_values_in_one_block():
    assert lot("several-values.html")["lot_id"] == "SV-1"


def test_several_blocks_one_graph():
    item = lot("several-blocks.html")
    assert (item["lot_id"], item["price"]) == ("SB-1", 800.0)
    assert item["seller"] == "Example Auctions Ltd"  # an @id into another block


def test_type_attribute_in_any_case_with_parameters():
    assert lot("type-attribute.html")["lot_id"] == "TA-1"


def test_unreadable_block_is_recorded_and_the_lot_taken_from_opengraph():
    items, errors = crawl((FILES / "pages" / "unreadable-block.html").read_bytes())
    assert [i["title"] for i in items] == ["Byzantine bronze cross"]
    ((stage, url, reason),) = errors
    assert (stage, url) == ("parse", URL)
    assert reason.startswith("JSON-LD block 1 of 1: not JSON even leniently") and "\n" not in reason


def test_block_over_the_limit_is_skipped_unparsed_and_recorded():
    big = json.dumps({"@type": "Product", "name": "Huge", "description": "x" * MAX_JSONLD})
    good = (FILES / "pages" / "several-values.html").read_text()
    page = good.replace("</head>", f'<script type="application/ld+json">{big}</script></head>')
    items, errors = crawl(page)
    assert [i["lot_id"] for i in items] == ["SV-1"]
    assert [r for _, _, r in errors] == [
        f"JSON-LD block 2 of 2: {len(big):,} characters, over the 1,000,000 limit, skipped"
    ]


def test_other_inline_scripts_over_the_limit_are_not_parsed():
    huge = "x" * MAX_JSONLD
    problems: list[str] = []
    blob = f'{{"a": "{huge}"}}'
    page = html(f'<script id="__NEXT_DATA__">{blob}</script><script>window.__S__ = {blob}</script>')
    assert next_data(page, problems.append) is None
    assert script_object(page, "__S__", problems.append) is None
    assert len(problems) == 2 and all("over the 1,000,000 limit" in p for p in problems)


def test_hostile_nesting_is_bounded_and_the_lot_still_found():
    deep = '{"@type": "WebPage", "hasPart": ' * 500 + '{"@type": "Product", "name": "Too deep"}' + "}" * 500
    deeper = "[" * 100_000 + "]" * 100_000
    good = (FILES / "pages" / "nested-about.html").read_text()
    extra = "".join(f'<script type="application/ld+json">{b}</script>' for b in (deep, deeper))
    items, errors = crawl(good.replace("</head>", extra + "</head>"))
    assert [i["lot_id"] for i in items] == ["NA-1"]
    assert [r for _, _, r in errors] == [
        f"JSON-LD block {n} of 3: nested over 64 levels deep; the deeper values read as null" for n in (2, 3)
    ]


def test_parse_block_keeps_what_it_read_before_the_garbage():
    values, problem = parse_block('{"a": 1}; {"b": 2}; <oops>')
    assert values == [{"a": 1}, {"b": 2}] and problem and problem.startswith("not JSON even leniently")


# -- finding the lot ---------------------------------------------------------------------------------


def test_yoast_graph_product_by_id_with_image_and_seller_by_id():
    item = lot("yoast-graph.html")
    assert (item["lot_id"], item["title"]) == ("YG-1", "Egyptian wooden shabti")
    assert item["image_urls"] == ["https://auction.example/img/yg1.jpg"]
    assert (item["price"], item["currency"], item["seller"]) == (1500.0, "EUR", "Example Auctions")


def test_product_as_main_entity_of_item_page():
    item = lot("nested-mainentity.html")
    assert (item["lot_id"], item["title"], item["price"]) == ("NM-1", "Fayum mummy portrait", 9000.0)


def test_product_as_about_of_web_page():
    assert lot("nested-about.html")["lot_id"] == "NA-1"


def test_product_nested_under_any_property():
    assert lot("nested-deep.html")["title"] == "Attic black-figure lekythos"


def test_offer_merged_with_the_product_it_references():
    item = lot("item-offered-ref.html")
    assert (item["lot_id"], item["title"]) == ("IO-1", "Sasanian silver bowl")
    assert (item["price"], item["currency"], item["sale_date"]) == (3200.0, "EUR", "2026-12-14")


def test_image_by_id_of_image_objects():
    assert lot("id-image.html")["image_urls"] == [
        "https://auction.example/img/ii1.jpg",
        "https://auction.example/img/ii2.jpg",
    ]


def test_reference_cycles_end():
    item = lot("id-cycle.html")
    assert (item["lot_id"], item["title"]) == ("CY-1", "Cuneiform cone")
    nodes = json_ld(html((FILES / "pages" / "id-cycle.html").read_bytes()), "Product")
    assert nodes[0]["isRelatedTo"]["isRelatedTo"] == {"@id": "https://auction.example/lot/7-x#a"}


def test_type_and_property_names_as_iris():
    item = lot("type-iri.html")
    assert (item["lot_id"], item["title"]) == ("TI-1", "Hellenistic gold wreath")
    assert (item["price"], item["currency"]) == (12000.0, "USD")


def test_main_entity_of_page_beats_page_order():
    assert lot("main-entity-of-page.html")["lot_id"] == "MP-1"


def test_related_items_and_lists_come_after_the_lot():
    assert lot("related-carousel.html")["lot_id"] == "RC-1"


def test_identifier_as_property_value():
    assert lot("identifier-propertyvalue.html")["lot_id"] == "PV-1"


# -- values ------------------------------------------------------------------------------------------


def test_images_as_image_objects_with_url_lists_each_once():
    assert lot("image-objects.html")["image_urls"] == [
        "https://auction.example/img/im1.jpg",
        "https://auction.example/img/im2.jpg",
        "https://auction.example/img/im3.jpg",
    ]


def test_shopify_offers_list_of_variants_takes_the_priced_one():
    item = lot("shopify-variants.html")
    assert (item["lot_id"], item["price"], item["currency"]) == ("SH-1", 450.0, "USD")


def test_aggregate_offer_low_and_high():
    item = lot("aggregate-offer.html")
    assert (item["estimate_low"], item["estimate_high"], item["currency"]) == (2000.0, 3000.0, "EUR")
    assert item["price"] == 2400.0  # from the offer inside it


def test_woocommerce_price_specification_list_and_seller_organization():
    item = lot("woocommerce-price-spec.html")
    assert (item["lot_id"], item["price"], item["currency"]) == ("1187", 650.0, "GBP")
    assert item["seller"] == "Scarab & Sons"


def test_brand_and_offered_by_organizations():
    item = lot("brand-seller-org.html")
    assert (item["title"], item["seller"]) == ("Apulian red-figure krater", "Example Auctions")
    assert (item["price"], item["currency"]) == (12500.0, "USD")


def test_price_with_currency_and_swiss_separators():
    assert (lot("price-locale.html")["price"], lot("price-locale.html")["currency"]) == (1200.0, "CHF")


@pytest.mark.parametrize(
    "text, value",
    [
        ("€ 1.200,50", 1200.5),
        ("$1,200.50", 1200.5),
        ("1 200 €", 1200.0),
        ("CHF 1'200.–", 1200.0),
        ("CHF 1\u2019200.–", 1200.0),
        ("1\u202f200,00 €", 1200.0),
    ],
)
def test_price_strings(text, value):
    assert number(text) == value


def test_html_character_references_decoded_in_every_text_field():
    item = lot("html-entities.html")
    assert item["title"] == "Statère d'or & étui"  # "&amp;amp;" escaped twice
    assert item["lot_id"] == "HE\u20111"
    assert item["provenance"] == "Coll. Müller, 1962"
    assert item["seller"] == "Galerie Étoile"
    assert item["description_html"] == "<p>Provenance\xa0: collection <b>privée</b></p>"


def test_tags_stripped_from_text_fields_not_from_the_description():
    item = lot("tags-in-text.html")
    assert (item["lot_id"], item["seller"]) == ("TT-1", "Consignor 7")
    assert item["title"] == "Sumerian votive figure, height < 20 cm"
    assert item["description_html"] == "<p>Alabaster.</p>"


def test_language_tagged_names_follow_the_page_language():
    item = lot("language-tagged.html")
    assert (item["title"], item["description_html"]) == ("Tête de pharaon", "Calcaire.")


# -- blocks broken the way templates break them (extruct#87, hypothesis/h#7968 and the like) -----------


def test_quotes_left_unescaped_inside_strings():
    item = lot("unescaped-quotes.html")
    assert (item["lot_id"], item["title"], item["price"]) == ("UQ-1", 'Limestone stele, 14" high', 3200.0)
    assert 'Provenance: "old Swiss collection".' in item["description_html"]


def test_a_block_cut_off_before_its_brackets_close():
    (item,), errors = crawl((FILES / "pages" / "cut-off-block.html").read_bytes())
    assert [reason for _, _, reason in errors] == [
        "JSON-LD block 1 of 1: cut off before its end; what it holds is read"
    ]
    assert (item["lot_id"], item["title"], item["price"], item["currency"]) == (
        "CO-1",
        "Faience amulet of Bes",
        850.0,
        "USD",
    )


def test_commas_missing_between_members():
    item = lot("missing-commas.html")
    assert (item["lot_id"], item["title"], item["image_urls"]) == (
        "MC-1",
        "Bronze votive bull",
        ["https://auction.example/img/mc1.jpg"],
    )


def test_an_extra_closing_brace():
    item = lot("extra-brace.html")
    assert (item["lot_id"], item["price"], item["currency"]) == ("EB-1", 640.0, "GBP")


def test_javascript_object_syntax():
    item = lot("javascript-object.html")
    assert (item["lot_id"], item["title"], item["price"]) == ("JS-1", "Glass unguentarium", 300.0)


def test_types_in_any_letter_case_and_the_currency_of_a_price_string():
    item = lot("type-letter-case.html")
    assert (item["lot_id"], item["image_urls"]) == ("LC-1", ["https://auction.example/img/lc1.jpg"])
    assert (item["price"], item["currency"]) == (2750.0, "EUR")


def test_entities_escaped_twice_and_escaped_slashes():
    item = lot("double-escaped-entities.html")
    assert item["title"] == "Head & torso of a youth"
    assert item["description_html"] == "Height 26'' (66 cm). Ex Smith & Jones."
    assert item["image_urls"] == ["https://auction.example/img/de1.jpg"]


@pytest.mark.parametrize(
    ("price", "currency"),
    [
        ("EUR 3,79", "EUR"),
        ("1 200 €", "EUR"),
        ("CHF 1'200.–", "CHF"),
        ("£95", "GBP"),
        ("$1,200.50", None),
        ("1200", None),
    ],
)
def test_currency_named_by_a_price_string(price, currency):
    from spiders.structured import currency_of

    assert currency_of(price) == currency


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{}[]\":,'\\ \n\tab1@/<>!-*;", max_size=200))
def test_no_block_makes_the_reader_raise(text):
    values, problem = parse_block(text)
    assert isinstance(values, list) and (problem is None or "\n" not in problem)


def test_microdata_content_attributes_over_the_shown_text():
    """Shops mark up ``<span itemprop="price" content="1000.00">1,000.00</span>`` and a "$" whose
    ``content`` is "USD" (schema.org's own examples did): the machine value is read."""
    item = lot("microdata-content.html")
    assert (item["lot_id"], item["title"], item["price"], item["currency"]) == (
        "MD-1",
        "Bronze & copper bull",
        1000.0,
        "USD",
    )
    assert item["image_urls"] == ["https://auction.example/img/md1.jpg"]


# -- shapes a tester found failing (page https://auction.example/lot/12-x) ---------------------------


def test_html5_character_references_unknown_kept_out_of_range_replaced():
    item = lot("html5-references.html", URL12)
    assert item["title"] == "Tête d'Égypte &foo; \ufffd"
    assert item["description_html"] == "Calcaire\xa0peint, l'œil intact, d\u2019après Smith & Jones"
    assert item["provenance"] == "Coll. O\u2019Brien & Fils"  # &nbsp; is white space in plain text


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("d&apos;or", "d'or"),
        ("A &foo; B", "A &foo; B"),
        ("AT&T &amp; Co", "AT&T & Co"),
        ("&#1114112;&#xD800;", "\ufffd\ufffd"),
        ("&amp;#038; &amp;eacute;", "& é"),
        ("l&#x27;&oelig;il&nbsp;&rsquo;", "l'œil \u2019"),
    ],
)
def test_plain_text_references(text, plain):
    assert plain_text(text) == plain


def test_php_addslashes_and_stray_backslashes():
    item = lot("php-addslashes.html", URL12)
    assert (item["lot_id"], item["title"], item["price"]) == ("PA-1", "Tête d'Osiris", 1500.0)
    assert item["description_html"] == 'Scanned from C:\\photos\\osiris.tif, "bronze" état \\x'
    assert item["image_urls"] == ["https://auction.example/img/pa1.jpg"]


def test_product_group_with_variants_is_the_lot():
    item = lot("product-group.html", URL12)
    assert (item["lot_id"], item["title"]) == ("PG-1", "Bronze bull")
    assert item["image_urls"] == [
        "https://auction.example/img/pg1.jpg",
        "https://auction.example/img/pg1-a.jpg",
        "https://auction.example/img/pg1-b.jpg",
    ]
    assert (item["price"], item["currency"]) == (2400.0, "EUR")


def test_product_group_variants_given_apart_with_is_variant_of():
    """Google's other variant markup: the variants at the top, each naming its group by ``@id``."""
    variant = (
        '{{"@type": "Product", "sku": "L-1-{0}", "name": "Bronze bull - {0}", "isVariantOf": {{"@id": "#g"}},'
        ' "url": "https://auction.example/lot/12-x?variant={0}", "offers": {{"price": "{1}"}}}}'
    )
    block = (
        f"[{variant.format('a', '')}, {variant.format('b', '2400')},"
        ' {"@type": "ProductGroup", "@id": "#g", "name": "Bronze bull", "productGroupID": "PG-1"}]'
    )
    (item,), errors = crawl(f'<script type="application/ld+json">{block}</script>', URL12)
    assert errors == []
    assert (item["lot_id"], item["title"], item["price"]) == ("PG-1", "Bronze bull", 2400.0)


def test_the_node_whose_url_names_the_page_is_the_lot():
    item = lot("url-names-page.html", URL12)
    assert (item["lot_id"], item["title"]) == ("L-1", "Sabaean alabaster head")


def test_a_product_before_a_bare_offer():
    item = lot("bare-offer-first.html", URL12)
    assert (item["lot_id"], item["title"], item["price"]) == ("L-1", "Luristan bronze finial", 700.0)


def test_a_bare_offer_is_a_lot_when_nothing_else_is():
    page = '<script type="application/ld+json">{"@type": "Offer", "name": "Lot 12", "price": "5"}</script>'
    (item,), _ = crawl(page, URL12)
    assert (item["title"], item["price"], item["lot_id"]) == ("Lot 12", 5.0, "12-x")


def test_list_and_set_objects_unwrapped():
    item = lot("list-set-objects.html", URL12)
    assert item["image_urls"] == [
        "https://auction.example/img/ls1.jpg",
        "https://auction.example/img/ls2.jpg",
    ]
    assert (item["provenance"], item["price"], item["currency"]) == ("Coll. R., 1958", 3100.0, "EUR")


def test_compact_iris_with_a_context_prefix_for_schema_org():
    item = lot("context-prefix.html", URL12)
    assert (item["lot_id"], item["title"]) == ("CP-1", "Scythian gold plaque")
    assert item["image_urls"] == ["https://auction.example/img/cp1.jpg"]
    assert (item["price"], item["currency"]) == (5200.0, "USD")


def test_javascript_literals_read_as_null():
    item = lot("javascript-literals.html", URL12)
    assert (item["lot_id"], item["price"], item["estimate_low"]) == ("JL-1", 420.0, None)
    values, problem = parse_block('{"a": undefined, "b": NaN, "c": [Infinity, -Infinity], "d": "NaN"}')
    assert (values, problem) == ([{"a": None, "b": None, "c": [None, None], "d": "NaN"}], None)


def test_entity_escaped_block_decoded_then_read():
    item = lot("entity-escaped-block.html", URL12)
    assert (item["lot_id"], item["price"], item["currency"]) == ("EE-1", 650.0, "GBP")
    assert item["title"] == 'Coptic textile fragment, 12" wide & framed'


def test_a_deep_array_in_an_unrelated_property_is_cut_alone():
    (item,), errors = crawl((FILES / "pages" / "deep-array.html").read_bytes(), URL12)
    assert (item["lot_id"], item["title"], item["price"]) == ("DA-1", "Hittite seal", 800.0)
    assert item["description_html"] == "brackets in text: [[[ {{ ]"
    assert [r for _, _, r in errors] == [
        "JSON-LD block 1 of 1: nested over 64 levels deep; the deeper values read as null"
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.2e3", 1200.0),
        ("1E+2", 100.0),
        ("1e400", None),
        ("-5", None),
        ("EUR -5", None),
        ("NaN", None),
        ("Infinity", None),
        (float("inf"), None),
        (float("nan"), None),
        (-5, None),
        (10**400, None),
        ("0.500", 0.5),
        ("1200.50", 1200.5),
        (".5", 0.5),
    ],
)
def test_price_strings_in_number_syntax(text, value):
    assert number(text) == value


def test_image_srcset_strings_keep_the_largest_candidate():
    assert lot("image-srcset.html", URL12)["image_urls"] == [
        "https://auction.example/img/ss1-1080.jpg",
        "https://auction.example/img/ss2@2x.jpg",
        "https://auction.example/img/Side%20view.jpg",
    ]


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("a.jpg 1x, b.jpg 2x", ["b.jpg"]),
        ("a.jpg 480w, b.jpg 1080w", ["b.jpg"]),
        ("a.jpg, b.jpg 1.5x", ["b.jpg"]),
        (
            "https://c.example/w_100,h_80/a.jpg 100w, https://c.example/w_900,h_720/a.jpg 900w",
            ["https://c.example/w_900,h_720/a.jpg"],
        ),
        ("  a.jpg  ", ["a.jpg"]),
        ("a b.jpg", ["a%20b.jpg"]),
    ],
)
def test_image_list_reads_srcset(value, urls):
    assert image_list(value) == urls
