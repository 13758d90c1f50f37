"""The whole pipeline over HTTP on loopback, on the reduced demo, scored against its ground truth."""

import json
import re
import sqlite3

import pytest

pytestmark = pytest.mark.slow

REQUIRED_KEYS = {
    "lots",
    "images",
    "candidates_strong",
    "candidates_review",
    "precision",
    "recall",
    "recall_by_edit",
    "seconds",
}


def test_summary_has_the_promised_keys(small_demo):
    assert REQUIRED_KEYS <= set(small_demo["summary"])


def test_every_lot_and_photo_crawled(small_demo):
    truth = json.loads((small_demo["out"] / "demo/ground_truth.json").read_text())
    assert small_demo["summary"]["lots"] == len(truth["lots"])
    assert small_demo["summary"]["errors"] == 0
    db = sqlite3.connect(small_demo["db"])
    assert db.execute("SELECT count(*) FROM listing_images WHERE sha256 IS NULL").fetchone()[0] == 0
    assert {r[0] for r in db.execute("SELECT DISTINCT site FROM listings")} == {
        "demo_aurora",
        "demo_meridian",
        "demo_bazaar",
    }


def test_precision(small_demo):
    assert small_demo["summary"]["precision"] >= 0.9


@pytest.mark.parametrize("edit", ["resize", "recompress", "watermark", "pad", "mirror", "rotate"])
def test_recall_on_edits_global_hashes_survive(small_demo, edit):
    assert small_demo["summary"]["recall_by_edit"][edit] >= 0.9


def test_originals_kept_by_sha256(small_demo):
    db = sqlite3.connect(small_demo["db"])
    sha = db.execute("SELECT sha256 FROM listing_images LIMIT 1").fetchone()[0]
    original = small_demo["out"] / "data/originals" / sha[:2] / sha
    import hashlib

    assert hashlib.sha256(original.read_bytes()).hexdigest() == sha


def test_report_written(small_demo):
    assert (small_demo["out"] / "reports").is_dir()
    assert list((small_demo["out"] / "reports").glob("*.eml"))


def test_crawl_runs_recorded(small_demo):
    db = sqlite3.connect(small_demo["db"])
    rows = db.execute("SELECT spider, status, items FROM crawl_runs ORDER BY spider").fetchall()
    assert {r[0] for r in rows} == {"registry_file", "demo_aurora", "demo_meridian", "demo_bazaar"}
    assert all(status == "finished" and items > 0 for _, status, items in rows)


def test_red_flag_candidates(small_demo):
    s = small_demo["summary"]
    assert s["candidates_flags"] > 0
    assert s["flags_precision"] >= 0.9 and s["flags_recall"] >= 0.9
    db = sqlite3.connect(small_demo["db"])
    reasons = db.execute("SELECT flag_reasons FROM review_queue WHERE kind = 'flags' LIMIT 1").fetchone()[0]
    assert json.loads(reasons)[0]["why"]


def test_every_page_and_photo_captured_as_warc_evidence(small_demo):
    import hashlib

    from warcio.archiveiterator import ArchiveIterator

    db = sqlite3.connect(small_demo["db"])
    missing = db.execute(
        "SELECT count(*) FROM listing_images WHERE error IS NULL "
        "AND sha256 NOT IN (SELECT sha256 FROM evidence)"
    ).fetchone()[0]
    assert missing == 0
    pages = db.execute("SELECT count(*) FROM listings WHERE url NOT IN (SELECT url FROM evidence)").fetchone()
    assert pages[0] == 0
    for url, sha, path, offset in db.execute(
        "SELECT url, sha256, warc_file, warc_offset FROM evidence ORDER BY id LIMIT 20"
    ):
        with open(small_demo["out"] / path, "rb") as fh:  # relative to the database's folder
            fh.seek(offset)
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_type == "response"
            assert record.rec_headers.get_header("WARC-Target-URI") == url
            assert hashlib.sha256(record.content_stream().read()).hexdigest() == sha


def test_new_photos_of_registry_objects_are_counted_and_every_photo_is_embedded(small_demo):
    from matcher.photo.embed import EMBED_VERSION

    s = small_demo["summary"]
    truth = json.loads((small_demo["out"] / "demo/ground_truth.json").read_text())
    rephoto = {(t["site"], t["lot_id"]): t["source_id"] for t in truth["lots"] if t["kind"] == "rephoto"}
    assert s["rephoto_lots"] == len(rephoto) > 0
    db = sqlite3.connect(small_demo["db"])
    found = {
        (site, lot)
        for site, lot, source_id in db.execute(
            "SELECT l.site, l.lot_id, o.source_id FROM candidates c JOIN listings l ON l.id = c.listing_id "
            "JOIN registry_objects o ON o.id = c.registry_object_id "
            "WHERE c.kind = 'image' AND c.tier IS NOT NULL"
        )
        if rephoto.get((site, lot)) == source_id
    }
    assert s["rephoto_found_by_photo"] == len(found)
    assert 0 <= s["rephoto_found_by_embedding"] <= s["rephoto_found_by_photo"]
    unembedded = db.execute(
        "SELECT count(*) FROM (SELECT sha256 FROM listing_images WHERE error IS NULL UNION "
        "SELECT sha256 FROM registry_images WHERE error IS NULL) "
        "WHERE sha256 NOT IN (SELECT sha256 FROM image_embeddings WHERE view = 'full' AND embed_version = ?)",
        [EMBED_VERSION],
    ).fetchone()[0]
    assert unembedded == 0
    cosines = db.execute(
        "SELECT count(*), count(json_extract(evidence_json, '$.cosine')) FROM candidates "
        "WHERE kind = 'image' AND tier IS NOT NULL"
    ).fetchone()
    assert cosines[0] > 0 and cosines[0] == cosines[1]  # every photo candidate says how alike they look


def test_the_demo_says_what_it_is_doing_from_the_start(small_demo):
    """It printed nothing for minutes: now each step is named as it starts, the first at once, and no
    step is silent for long (progress lines every 10 s where stderr is a log, as here)."""
    lines = small_demo["stderr"]
    assert lines[0][0] < 15 and lines[0][1].startswith("lootwatch demo (small)")
    steps = [line for _, line in lines if re.match(r"\d/5 ", line)]
    assert [step[:3] for step in steps] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    assert any("crawling demo_aurora, demo_meridian, demo_bazaar" in step for step in steps)
    gaps = [later - earlier for (earlier, _), (later, _) in zip(lines, lines[1:], strict=False)]
    assert max(gaps) < 60, lines
