import sqlite3

import pytest

from matcher.db import connect, store


@pytest.fixture
def db(tmp_path):
    return connect.open_db(tmp_path / "t.db")


def listing(**kw):
    return {"site": "s", "lot_id": "1", "title": "Tablet", "url": "https://example.org/1", **kw}


def test_migrations_idempotent_and_wal(tmp_path):
    path = tmp_path / "t.db"
    connect.open_db(path)
    db = connect.open_db(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"registry_objects", "listings", "candidates", "reviews", "crawl_runs", "thumbnails"} <= set(
        db.table_names()
    )


def test_upsert_listing_keyed_by_site_and_lot(db):
    a, changed_a = store.upsert_listing(db, listing())
    b, changed_b = store.upsert_listing(db, listing())
    c, changed_c = store.upsert_listing(db, listing(title="Tablet (relisted)"))
    assert a == b == c
    assert (changed_a, changed_b, changed_c) == (True, False, True)
    assert db.table("listings").count == 1


def test_validators_only_once_the_lot_is_stored_whole(db):
    # A lot page answered 304 is not stored again, so the validators wait for the lot's photos.
    lid, _ = store.upsert_listing(db, listing(etag='"v1"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT"))
    assert store.validators(db, "s", "https://example.org/1") == (None, None)
    store.set_validators(db, lid, '"v1"', "Tue, 01 Dec 2026 10:00:00 GMT")
    assert store.validators(db, "s", "https://example.org/1") == ('"v1"', "Tue, 01 Dec 2026 10:00:00 GMT")


def test_registry_object_keyed_by_source(db):
    rec = {"source": "demo", "source_id": "X1", "title": "Seal", "status": "stolen"}
    assert store.upsert_registry_object(db, rec) == store.upsert_registry_object(db, dict(rec))


def candidate(db):
    lid, _ = store.upsert_listing(db, listing())
    oid = store.upsert_registry_object(db, {"source": "demo", "source_id": "X1"})
    return (
        db.table("candidates")
        .insert({"listing_id": lid, "registry_object_id": oid, "kind": "image", "tier": "strong"})
        .last_pk
    )


def test_reviews_are_append_only(db):
    cid = candidate(db)
    rid = store.add_review(db, cid, "confirmed", "analyst1", "same inventory number")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE reviews SET verdict = 'dismissed' WHERE id = ?", [rid])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM reviews")
    assert db.table("reviews").get(rid)["verdict"] == "confirmed"


def test_review_validates_verdict_and_candidate(db):
    cid = candidate(db)
    with pytest.raises(ValueError, match="verdict"):
        store.add_review(db, cid, "maybe", "a")
    with pytest.raises(ValueError, match="no candidate"):
        store.add_review(db, 999, "note", "a")


def test_review_queue_status_is_latest_verdict(db):
    cid = candidate(db)
    store.add_review(db, cid, "escalated", "a")
    store.add_review(db, cid, "confirmed", "b")
    row = next(db.query("SELECT status FROM review_queue WHERE candidate_id = ?", [cid]))
    assert row["status"] == "confirmed"


def test_listing_image_keyed_by_position(db):
    lid, _ = store.upsert_listing(db, listing())
    a = store.upsert_listing_image(db, lid, "http://cdn1.example/1.jpg?w=800", 0, sha256="a" * 64)
    db.execute("UPDATE listing_images SET matched_version = 'm' WHERE id = ?", [a])
    b = store.upsert_listing_image(db, lid, "http://cdn2.example/1.jpg", 0, sha256="a" * 64)
    assert a == b
    assert db.table("listing_images").get(a)["matched_version"] == "m"  # same photo, new URL
    store.upsert_listing_image(db, lid, "http://cdn2.example/1.jpg", 0, sha256="b" * 64)
    assert db.table("listing_images").get(a)["matched_version"] is None  # new photo: match again
