"""Caps on what one page can make lootwatch store and screen (spiders/pipelines/caps.py): text fields cut
to 100,000 characters, at most 50 photos, no photo URL over URLLENGTH_LIMIT; the lot kept, each cut one
errors row, what was cut stored with the lot and said on its candidate page."""

import json

import pytest
from scrapy.utils.test import get_crawler
from sqlite_utils import Database

from matcher.db import connect, store
from matcher.db.schema import migrations
from spiders.base import LotSpider
from spiders.items import ListingItem, RegistryItem
from spiders.pipelines.caps import MAX_PHOTOS, MAX_TEXT, TextCapPipeline
from spiders.pipelines.listings import StoreListingPipeline
from spiders.registries.registry_file import RegistryPhotosItem
from spiders.runs import RunRecorder

from .review_db import hostile_db
from .test_datasette import get

LOT_URL = "https://house.example/lot/9"


@pytest.fixture
def crawler(tmp_path):
    """A crawler with the real run recorder on a fresh review database, its run started."""
    crawler = get_crawler(
        LotSpider, {"LOOTWATCH_DB": str(tmp_path / "l.db"), "FILES_STORE": str(tmp_path / "originals")}
    )
    crawler.spider = LotSpider.from_crawler(crawler, name="caps_test")
    RunRecorder(crawler).spider_opened(crawler.spider)
    return crawler


def lot(**fields) -> ListingItem:
    return ListingItem(
        site="caps_test", lot_id="9", url=LOT_URL, title="Bronze figure", seller="anon", **fields
    )


def cap_errors(crawler) -> list[tuple[str, str, str]]:
    return [
        (r["stage"], r["url"], r["reason"])
        for r in crawler.lootwatch_run.db.query("SELECT * FROM errors WHERE stage = 'cap' ORDER BY id")
    ]


def test_oversized_fields_are_cut_and_the_lot_stored_with_what_was_cut(crawler):
    item = lot(description_html="<p>" + "x" * 1_099_993 + "</p>", provenance="p" * 150_000)
    item["title"] = "Tablet " * 20_000  # 140,000 characters
    out = TextCapPipeline.from_crawler(crawler).process_item(item)
    StoreListingPipeline.from_crawler(crawler).process_item(out)

    assert len(out["description_html"]) == MAX_TEXT and out["description_html"].startswith("<p>xxx")
    assert len(out["provenance"]) == MAX_TEXT and len(out["title"]) == MAX_TEXT
    assert (out["seller"], out["url"]) == ("anon", LOT_URL)
    assert cap_errors(crawler) == [
        ("cap", LOT_URL, "title was 140,000 characters; kept the first 100,000 (limit 100,000)"),
        ("cap", LOT_URL, "description_html was 1,100,000 characters; kept the first 100,000 (limit 100,000)"),
        ("cap", LOT_URL, "provenance was 150,000 characters; kept the first 100,000 (limit 100,000)"),
    ]
    stats = crawler.stats.get_stats()
    assert stats["lootwatch/caps/description_html"] == 1 and stats["lootwatch/errors/cap"] == 3

    row = next(crawler.lootwatch_run.db.query("SELECT * FROM listings"))
    assert len(row["description_html"]) == MAX_TEXT and len(row["description"]) <= MAX_TEXT
    assert json.loads(row["cut_json"]) == {
        "description_html": {"length": 1_100_000, "kept": MAX_TEXT},
        "provenance": {"length": 150_000, "kept": MAX_TEXT},
        "title": {"length": 140_000, "kept": MAX_TEXT},
    }


def test_a_lot_within_the_caps_is_untouched(crawler):
    item = lot(description_html="<p>" + "y" * (MAX_TEXT - 7) + "</p>", image_urls=["https://x.example/1.jpg"])
    before = dict(item)
    out = TextCapPipeline.from_crawler(crawler).process_item(item)
    StoreListingPipeline.from_crawler(crawler).process_item(out)
    assert dict(out) == before and "cuts" not in out
    assert cap_errors(crawler) == [] and not crawler.stats.get_value("lootwatch/errors/cap")
    row = next(crawler.lootwatch_run.db.query("SELECT * FROM listings"))
    assert row["cut_json"] is None and len(row["description_html"]) == MAX_TEXT


def test_photos_beyond_fifty_are_dropped_with_one_error(crawler):
    urls = [f"https://x.example/{n}.jpg" for n in range(80)]
    out = TextCapPipeline.from_crawler(crawler).process_item(lot(image_urls=urls))
    assert out["image_urls"] == urls[:MAX_PHOTOS]
    assert cap_errors(crawler) == [
        ("cap", LOT_URL, "image_urls had 80 photos; kept the first 50 (limit 50), dropped 30")
    ]
    assert out["cuts"] == {"image_urls": {"count": 80, "kept": 50, "too_long": 0}}


def test_a_photo_url_over_the_url_length_limit_is_dropped(crawler):
    assert crawler.settings.getint("URLLENGTH_LIMIT") == 2083  # Scrapy's, for links a spider follows
    long_url = "https://x.example/p.jpg?q=" + "a" * 2058  # 2,084 characters
    at_limit = "https://x.example/p.jpg?q=" + "b" * 2057
    urls = ["https://x.example/1.jpg", long_url, at_limit]
    out = TextCapPipeline.from_crawler(crawler).process_item(lot(image_urls=urls))
    assert out["image_urls"] == ["https://x.example/1.jpg", at_limit]
    ((stage, url, reason),) = cap_errors(crawler)
    assert (stage, url) == ("cap", LOT_URL)
    assert reason.startswith("a photo URL of 2,084 characters was dropped (limit 2,083): https://x.example/")
    assert out["cuts"] == {"image_urls": {"count": 3, "kept": 2, "too_long": 1}}


def test_registry_items_are_capped_and_partial_photo_lists_stay_in_step(crawler):
    record = {"source": "demo", "source_id": "R1", "description": "d" * 120_000, "title": "Stele"}
    out = TextCapPipeline.from_crawler(crawler).process_item(
        RegistryItem(record=record, image_urls=[f"file:///r/{n}.jpg" for n in range(60)])
    )
    assert len(out["record"]["description"]) == MAX_TEXT and out["record"]["title"] == "Stele"
    assert len(out["image_urls"]) == MAX_PHOTOS and "cuts" not in out
    assert [r for _, _, r in cap_errors(crawler)] == [
        "description was 120,000 characters; kept the first 100,000 (limit 100,000)",
        "image_urls had 60 photos; kept the first 50 (limit 50), dropped 10",
    ]
    assert {u for _, u, _ in cap_errors(crawler)} == {"demo:R1"}

    # The photos of a record the import already stored: only the photos are capped, positions follow.
    long_url = "https://x.example/" + "z" * 3000
    stored = {"source": "demo", "source_id": "R2", "description": "e" * 120_000}
    photos = TextCapPipeline.from_crawler(crawler).process_item(
        RegistryPhotosItem(
            record=stored,
            image_urls=["https://x.example/a.jpg", long_url, "https://x.example/c.jpg"],
            positions=[1, 4, 7],
        )
    )
    assert photos["image_urls"] == ["https://x.example/a.jpg", "https://x.example/c.jpg"]
    assert photos["positions"] == [1, 7] and len(photos["record"]["description"]) == 120_000


def test_the_migration_adds_the_column_to_an_existing_database(tmp_path):
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m019_listing_cuts")
    assert "cut_json" not in old.table("listings").columns_dict
    old.table("listings").insert({"site": "s", "lot_id": "1", "title": "kept"})
    old.close()

    db = connect.open_db(path)
    assert "cut_json" in db.table("listings").columns_dict
    row = next(db.query("SELECT * FROM listings"))
    assert (row["title"], row["cut_json"]) == ("kept", None)
    # Stored again with cuts, then without: the column says so, then is cleared.
    store.upsert_listing(db, {"site": "s", "lot_id": "1", "cuts": {"title": {"length": 9, "kept": 5}}})
    assert (
        next(db.query("SELECT cut_json FROM listings"))["cut_json"] == '{"title": {"kept": 5, "length": 9}}'
    )
    store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    assert next(db.query("SELECT cut_json FROM listings"))["cut_json"] is None


def test_the_candidate_page_says_what_was_cut(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    assert "lootwatch kept" not in get(db_path, f"/-/lootwatch/candidate/{cid}").text
    store.upsert_listing(
        db,
        {
            "site": "demo_aurora",
            "lot_id": "1",
            "title": "Tablet",
            "description": "A long text",
            "cuts": {
                "description_html": {"length": 1_100_000, "kept": 100_000},
                "image_urls": {"count": 80, "kept": 50, "too_long": 0},
                "bogus": "not a cut",
            },
        },
    )
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    assert (
        "The description on the page was 1,100,000 characters long; lootwatch kept the first 100,000 "
        "(its limit), so red-flag screening and search saw only that part." in page
    )
    assert "The page listed 80 photos; lootwatch kept the first 50 (its limit)" in page
    assert page.index("A long text") < page.index("1,100,000") < page.index('id="registry-photo"')


def test_every_spiders_text_fields_are_stored_as_plain_text(crawler):
    """Not only the structured-data readers: a selector or API spider's title with character references
    or tags is stored decoded, so that screening sees the words."""
    item = lot(provenance="Coll. M&uuml;ller, <i>Basel</i>")
    item["title"] = "T&ecirc;te &eacute;gyptienne en alb&acirc;tre &amp; socle"
    StoreListingPipeline.from_crawler(crawler).process_item(item)
    row = next(crawler.lootwatch_run.db.query("SELECT title, provenance FROM listings"))
    assert row == {"title": "Tête égyptienne en albâtre & socle", "provenance": "Coll. Müller, Basel"}
