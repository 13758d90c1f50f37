"""Listing texts against registry records: text scores on image candidates, text-only candidates."""

import hashlib
import json

import pytest

from matcher.db import connect, store
from matcher.text.textmatch import match_texts

RECORDS = [
    {
        "source_id": "R1",
        "title": "Alabaster head of a woman",
        "object_type": "votive head",
        "materials": "alabaster",
        "period": "Sabaean, 1st millennium BC",
        "measurements": "H. 14.5 cm; W. 9.0 cm",
        "inventory_number": "YM 4471",
        "description": "Alabaster votive head with inlaid eyes, nose chipped.",
    },
    {
        "source_id": "R2",
        "title": "Bronze oil lamp",
        "object_type": "oil lamp",
        "materials": "bronze",
        "period": "Roman Imperial",
        "measurements": "L. 11 cm; W. 6 cm",
        "inventory_number": "INV-00031",
        "description": "Bronze lamp with a volute nozzle.",
    },
    {
        "source_id": "R3",
        "title": "Alabaster head of a man",
        "object_type": "votive head",
        "materials": "alabaster",
        "period": "Qatabanian",
        "measurements": "H. 22 cm; W. 13 cm",
        "description": "Alabaster head of a bearded man.",
    },
]


@pytest.fixture
def db(tmp_path):
    db = connect.open_db(tmp_path / "t.db")
    for r in RECORDS:
        store.upsert_registry_object(db, {"source": "test", **r})
    return db


def listing(db, lot_id: str, title: str, description: str) -> int:
    digest = hashlib.sha256(f"{title}\n{description}".encode()).hexdigest()
    item = {"site": "s", "lot_id": lot_id, "title": title, "description": description}
    lid, _ = store.upsert_listing(db, {**item, "content_sha256": digest})
    return lid


def text_candidates(db, lid):
    return {
        r["source_id"]: r
        for r in db.query(
            "SELECT o.source_id, c.tier, c.text_json FROM candidates c "
            "JOIN registry_objects o ON o.id = c.registry_object_id "
            "WHERE c.listing_id = ? AND c.kind = 'text'",
            [lid],
        )
    }


def test_same_size_and_words_in_another_unit_proposes_the_record(db):
    lid = listing(db, "1", "South Arabian alabaster votive head", "Inlaid eyes. 5.7 x 3.5 in.")
    match_texts(db)
    found = text_candidates(db, lid)
    assert set(found) == {"R1"}
    evidence = json.loads(found["R1"]["text_json"])
    assert evidence["sizes_agree"] == 2 and "alabaster" in evidence["shared_words"]


def test_same_words_other_size_is_not_proposed(db):
    lid = listing(db, "2", "Alabaster votive head", "H. 30 cm; W. 20 cm")
    match_texts(db)
    assert text_candidates(db, lid) == {}


def test_inventory_number_proposes_even_without_size(db):
    lid = listing(db, "3", "Ancient lamp", "Bronze. Old number INV 00031 on the base.")
    match_texts(db)
    assert set(text_candidates(db, lid)) == {"R2"}


def test_image_candidates_get_a_text_score_and_rerun_is_stable(db):
    lid = listing(db, "4", "Bronze oil lamp", "Roman bronze lamp, volute nozzle, L. 11 cm, W. 6 cm")
    obj = db.execute("SELECT id FROM registry_objects WHERE source_id = 'R2'").fetchone()[0]
    db.table("candidates").insert(
        {"listing_id": lid, "registry_object_id": obj, "kind": "image", "tier": "review", "score": 50.0}
    )
    first = match_texts(db)
    row = db.execute("SELECT text_score FROM candidates WHERE kind = 'image'").fetchone()
    assert row[0] > 50
    assert text_candidates(db, lid) == {}  # already in front of the analyst as an image candidate
    assert first["compared"] == 1 and match_texts(db)["compared"] == 0


def test_withdrawn_proposal_keeps_its_row(db):
    lid = listing(db, "5", "Alabaster votive head", "Inlaid eyes. H. 14.5 cm, W. 9 cm")
    match_texts(db)
    assert text_candidates(db, lid)["R1"]["tier"] == "review"
    listing(db, "5", "Alabaster votive head", "H. 40 cm")
    match_texts(db)
    assert text_candidates(db, lid)["R1"]["tier"] is None


def test_disabled_bank_and_withdrawn_records_are_not_proposed(db):
    lid = listing(db, "6", "South Arabian alabaster votive head", "Inlaid eyes. 5.7 x 3.5 in.")
    store.set_bank(db, "test", False, "under review")
    match_texts(db)
    assert text_candidates(db, lid) == {}
    store.set_bank(db, "test", True)
    store.withdraw_unseen(db, "test", {"R2", "R3"})
    match_texts(db)
    assert text_candidates(db, lid) == {}


def test_registry_state_changes_with_records_photos_and_banks(db):
    before = store.registry_state(db)
    store.set_bank(db, "test", False)
    assert store.registry_state(db) != before
    middle = store.registry_state(db)
    obj = db.execute("SELECT id FROM registry_objects LIMIT 1").fetchone()[0]
    store.upsert_registry_image(db, obj, "https://r.example/1.jpg", 0, sha256="b" * 64)
    assert store.registry_state(db) != middle


def test_registry_state_changes_with_an_edit_or_withdrawal_in_the_same_second(db, monkeypatch):
    # Found by tests/test_properties.py: a record edited or withdrawn in the second it was imported kept
    # its text candidate as it was, until a full re-match.
    monkeypatch.setattr(store, "now", lambda: "2026-01-01T00:00:00+00:00")
    store.upsert_registry_object(db, {"source": "test", "source_id": "R9", "title": "Bronze mirror"})
    before = store.registry_state(db)
    store.upsert_registry_object(db, {"source": "test", "source_id": "R9", "title": "Bronze mirror, Han"})
    edited = store.registry_state(db)
    assert edited != before
    store.withdraw_unseen(db, "test", {"R1", "R2", "R3"})
    assert store.registry_state(db) != edited
