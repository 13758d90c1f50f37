"""The lot pages of ../shared/cases/pages/ (real-world shapes of JSON-LD) read by the structured-data base
spider give the right lot; skipped where ../shared/cases is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request

from matcher.text.flags import default_engine
from spiders.base import StructuredDataSpider

from .conftest import make_spider

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"
PAGES = CASES / "pages"

if not PAGES.is_dir():
    pytest.skip(f"{PAGES} is absent (the shared failing cases)", allow_module_level=True)


class CaseSpider(StructuredDataSpider):
    name = "page_cases"


def parse(name: str, number: int) -> tuple[dict, list[str]]:
    path = PAGES / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    url = f"https://auction.example/lot/{number}-x"
    spider = make_spider(CaseSpider)
    recorded: list[str] = []

    class Recorder:
        def error(self, stage: str, url: str | None, reason: str) -> None:
            recorded.append(f"{stage}: {reason}")

    spider.crawler.lootwatch_run = Recorder()
    response = HtmlResponse(url=url, body=path.read_bytes(), request=Request(url))
    items = [dict(i) for i in spider.parse_lot(response)]
    assert len(items) == 1, recorded
    return items[0], recorded


def test_control_characters_in_strings():
    item, errors = parse("jsonld-control-chars.html", 101)
    assert errors == []
    assert (item["lot_id"], item["title"]) == ("L-101", "Bronze cylinder seal")
    assert (item["price"], item["currency"]) == (1200.0, "EUR")
    assert item["image_urls"] == ["https://auction.example/img/l101.jpg"]


def test_product_as_main_entity_of_item_page():
    item, errors = parse("jsonld-mainentity.html", 104)
    assert errors == []
    assert (item["lot_id"], item["title"]) == ("L-104", "Alabaster head of a woman")
    assert item["image_urls"] == [
        "https://auction.example/img/l104a.jpg",
        "https://auction.example/img/l104b.jpg",
    ]
    assert (item["price"], item["currency"]) == (2500.0, "EUR")


def test_html_character_references_decoded_and_screened():
    item, errors = parse("jsonld-html-entities.html", 105)
    assert errors == []
    assert item["title"] == "Tête égyptienne en albâtre & socle"
    assert "&" not in item["description_html"] and "é" in item["description_html"]
    screening = default_engine().screen(item["title"], item["description_html"], item["provenance"])
    assert any("egypt" in r.rule and r.family == "origin" for r in screening.reasons), screening.reasons
