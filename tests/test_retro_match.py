"""Retro-matching (matcher/search/retro.py): after a registry change, `match` re-matches only the stored
listings the change can affect, and the candidates are exactly those a full `match --all` gives.

A small registry and marketplace are drawn with the demo's own drawing code (no network): registry
photos of a few objects, lots showing edited copies of them, lots showing objects not in the registry,
and one lot showing an object that a later import adds.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import sqlite3

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from matcher.db import connect, store
from matcher.db.ingest import hash_and_store
from matcher.decide.evidence import Hit, Thresholds, rank_key, tier
from matcher.match import Matching, _photos, match_listings
from matcher.search.registry_index import RegistryIndex, rank_photo
from matcher.search.retro import vote_shortlist
from seeds.demo import draw, edits

BANK, OTHER_BANK = "reg-a", "reg-b"
KINDS = ("vessel", "coin", "tablet", "figurine", "relief", "seal")
NEW = 5  # the object only the later import brings


def _photo(i: int, pose: int = 0) -> Image.Image:
    kind = KINDS[i % len(KINDS)]
    obj = draw.sprite(kind, draw.TYPE_MATERIALS[kind][0], 7000 + i)
    return draw.photo(obj, list(draw.BACKDROPS)[i % 3], 70_000 + 10 * i + pose)


def _placeholder(n: int) -> Image.Image:
    return Image.new("RGB", (400, 300), (200 + 10 * n, 200 + 10 * n, 200 + 10 * n))


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _add_record(db, source: str, i: int, data: bytes) -> int:
    oid = store.upsert_registry_object(
        db, {"source": source, "source_id": f"OBJ-{i}", "title": f"Object {i}", "status": "stolen"}
    )
    store.upsert_registry_image(db, oid, f"file:///r/{i}.jpg", 0, **hash_and_store(db, data, True))
    return oid


def _add_lot(db, lot: int, data: bytes) -> int:
    lid, _ = store.upsert_listing(db, {"site": "s", "lot_id": str(lot), "title": f"Lot {lot}"})
    store.upsert_listing_image(db, lid, f"https://m.example/{lot}.jpg", 0, **hash_and_store(db, data, False))
    return lid


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    """A matched database: objects 0-4 in bank A, lots of edited copies of them, lots of objects in no
    registry, and lot ``new_lot`` showing object 5 (not in the registry yet); two verdicts recorded."""
    path = tmp_path_factory.mktemp("retro") / "base.db"
    db = connect.open_db(path)
    rng = np.random.default_rng(5)
    for i in range(NEW):
        _add_record(db, BANK, i, _jpeg(_photo(i)))
    lots = {}
    for i in range(NEW):
        lots[i] = _add_lot(db, i, _jpeg(edits.crop(_photo(i), rng), 80))
    for n, i in enumerate(range(20, 26)):  # objects in no registry
        lots[i] = _add_lot(db, 100 + n, _jpeg(_photo(i, pose=1)))
    new_lot = _add_lot(db, 50, _jpeg(edits.crop(_photo(NEW), rng), 80))
    # "No photo available" placeholders, as auction sites show them: nothing for a change to reach.
    placeholders = [_add_lot(db, 60 + n, _jpeg(_placeholder(n))) for n in range(3)]
    match_listings(db)
    cids = [r[0] for r in db.execute("SELECT id FROM candidates WHERE tier IS NOT NULL ORDER BY id LIMIT 2")]
    assert len(cids) == 2, "the base registry must give candidates"
    store.add_review(db, cids[0], "confirmed", "a@example.org", "same object")
    store.add_review(db, cids[1], "note", "b@example.org", "ask the dealer")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return {"path": path, "lots": lots, "new_lot": new_lot, "placeholders": placeholders}


@pytest.fixture
def db(base, tmp_path):
    path = tmp_path / "copy.db"
    shutil.copy(base["path"], path)
    return connect.open_db(path)


def _candidates(db) -> list[tuple]:
    return db.execute(
        "SELECT listing_id, registry_object_id, kind, tier, score, pdq_distance, phash_distance, "
        "dhash_distance, inliers, variant, listing_image_id, registry_image_id, evidence_json "
        "FROM candidates ORDER BY listing_id, registry_object_id, kind"
    ).fetchall()


def _reviews(db) -> list[tuple]:
    return db.execute("SELECT * FROM reviews ORDER BY id").fetchall()


def _new_record(db) -> None:
    _add_record(db, OTHER_BANK, NEW, _jpeg(_photo(NEW)))


def _photo_changed(db) -> None:
    # Object 1's photo replaced by object 5's: lot 1 loses its match, the lot of object 5 gains one.
    oid = db.execute("SELECT id FROM registry_objects WHERE source_id = 'OBJ-1'").fetchone()[0]
    fields = hash_and_store(db, _jpeg(_photo(NEW)), True)
    store.upsert_registry_image(db, oid, "file:///r/1b.jpg", 0, **fields)


def _withdrawn(db) -> None:
    store.withdraw_unseen(db, BANK, {f"OBJ-{i}" for i in range(NEW) if i != 2})


def _bank_disabled(db) -> None:
    store.set_bank(db, BANK, False)


def _bank_enabled_again(db) -> None:
    store.set_bank(db, BANK, False)
    match_listings(db)
    store.set_bank(db, BANK, True)


CHANGES = {
    "new record": _new_record,
    "photo changed": _photo_changed,
    "record withdrawn": _withdrawn,
    "bank disabled": _bank_disabled,
    "bank disabled then enabled": _bank_enabled_again,
}


def test_a_new_record_finds_the_stored_lot_and_leaves_unrelated_lots_alone(db, base):
    assert not db.execute("SELECT 1 FROM candidates WHERE listing_id = ?", [base["new_lot"]]).fetchone()
    _new_record(db)
    run = Matching(db)
    plan = run.check()
    counts = run.match()
    new_object = db.execute("SELECT id FROM registry_objects WHERE source = ?", [OTHER_BANK]).fetchone()[0]
    tier = db.execute(
        "SELECT tier FROM candidates WHERE listing_id = ? AND registry_object_id = ?",
        [base["new_lot"], new_object],
    ).fetchone()
    assert tier is not None and tier[0] == "strong"
    assert base["new_lot"] in plan.affected
    # In a registry of six photos every textured lot gives the new photo a few chance votes (it enters
    # every vote shortlist, so those lots are matched again); lots it cannot reach are not.
    assert not set(base["placeholders"]) & plan.affected
    assert counts["checked"] == len(base["lots"]) + 1 + len(base["placeholders"])
    assert counts["rematched"] == len(plan.affected) <= counts["checked"] - len(base["placeholders"])
    assert counts["changed_records"] == 1


@pytest.mark.parametrize("change", list(CHANGES))
def test_retro_match_gives_the_candidates_of_a_full_rematch_and_keeps_verdicts(db, change):
    reviews = _reviews(db)
    CHANGES[change](db)
    counts = match_listings(db)
    assert counts["rematched"] >= 1
    retro = _candidates(db)
    assert _reviews(db) == reviews
    match_listings(db, rematch_all=True)
    assert _candidates(db) == retro
    assert _reviews(db) == reviews
    # Every candidate a verdict was given on is still there (NULL tier if it no longer holds).
    assert db.execute(
        "SELECT count(*) FROM reviews r LEFT JOIN candidates c ON c.id = r.candidate_id WHERE c.id IS NULL"
    ).fetchone() == (0,)


def test_withdrawing_a_record_drops_its_candidates_tier(db):
    gone = db.execute("SELECT id FROM registry_objects WHERE source_id = 'OBJ-2'").fetchone()[0]
    assert db.execute(
        "SELECT count(*) FROM candidates WHERE registry_object_id = ? AND tier IS NOT NULL", [gone]
    ).fetchone()[0]
    _withdrawn(db)
    match_listings(db)
    assert db.execute(
        "SELECT count(*) FROM candidates WHERE registry_object_id = ? AND tier IS NOT NULL", [gone]
    ).fetchone() == (0,)


def test_nothing_changed_nothing_matched(db):
    counts = match_listings(db)
    assert counts["listings"] == counts["checked"] == counts["rematched"] == 0


def test_a_text_edit_of_a_record_rematches_nothing(db):
    store.upsert_registry_object(
        db, {"source": BANK, "source_id": "OBJ-3", "title": "Object 3, new title", "status": "stolen"}
    )
    assert match_listings(db)["listings"] == 0


def test_the_kept_vote_shortlist_is_the_one_rank_photo_uses(db):
    index = RegistryIndex.from_db(db)
    seen = 0
    for (listing_id,) in db.execute("SELECT id FROM listings ORDER BY id").fetchall():
        for _, _, views, features in _photos(db, listing_id):
            votes = dict(map(tuple, vote_shortlist(index, features)))
            for hit in rank_photo(index, views, features, Thresholds()):
                assert hit.votes == votes.get(hit.registry_image_id, 0)
                seen += hit.votes > 0
    assert seen, "some hit must come from the votes"


def test_the_change_log_is_written_by_any_writer(db):
    before = store.registry_change_seq(db)
    db.execute("UPDATE registry_objects SET status = 'withdrawn' WHERE source_id = 'OBJ-0'")
    db.execute("UPDATE banks SET enabled = 0 WHERE source = ?", [BANK])
    db.execute("UPDATE registry_objects SET title = 'x' WHERE source_id = 'OBJ-1'")  # text only: not logged
    rows = db.execute("SELECT object_id, source FROM registry_changes WHERE seq > ?", [before]).fetchall()
    oid = db.execute("SELECT id FROM registry_objects WHERE source_id = 'OBJ-0'").fetchone()[0]
    assert sorted(rows, key=repr) == sorted([(oid, None), (None, BANK)], key=repr)


def test_a_file_copy_of_the_database_keeps_working(base, tmp_path):
    # The review database travels as one file: the log and the kept shortlists are tables in it.
    conn = sqlite3.connect(base["path"])
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"registry_changes", "listing_votes"} <= tables


HITS = st.builds(
    Hit,
    object_id=st.just(1),
    registry_image_id=st.just(2),
    variant=st.sampled_from(["full/r0", "full/r90", "full/m0"]),
    pdq=st.integers(0, 128),
    phash=st.integers(0, 32),
    dhash=st.integers(0, 32),
    quality=st.integers(0, 100),
    view=st.sampled_from(["full", "trim", "part1"]),
    inliers=st.one_of(st.none(), st.integers(0, 120)),
    overlap=st.floats(0, 1),
    other_inliers=st.integers(0, 60),
    colour=st.floats(0, 1),
)


@given(HITS, st.integers(1, 40), st.integers(1, 40))
def test_a_tier_depends_on_votes_only_through_any_and_sure_votes(hit, a, b):
    # What retro-matching relies on to keep a candidate whose vote counts moved (matcher/search/retro.py).
    t = Thresholds()
    if (a >= t.sure_votes) != (b >= t.sure_votes):
        return
    one, other = dataclasses.replace(hit, votes=a), dataclasses.replace(hit, votes=b)
    assert tier(one, t) == tier(other, t)
    assert rank_key(one, t) == rank_key(other, t)
