"""Relistings: identical and near-identical photos link lots; placeholders and blank photos do not."""

from matcher.db import connect, store
from matcher.photo import hashes
from matcher.search.relist import MAX_SHARED, link_relistings


def flip(hexes: str, bits: int) -> str:
    value = int(hexes, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def add(db, site: str, lot: str, sha: str, pdq: str, matchable: int = 1) -> int:
    lid, _ = store.upsert_listing(db, {"site": site, "lot_id": lot, "seller": f"s-{site}"})
    store.upsert_listing_image(db, lid, f"https://{site}/{lot}.jpg", 0, sha256=sha, matchable=matchable)
    store.put_hashes(
        db,
        sha,
        {"full/r0": {"pdq": pdq, "quality": 100, "phash": "0" * 16, "dhash": "0" * 16}},
        hashes.HASH_VERSION,
    )
    return lid


def test_links(tmp_path):
    db = connect.open_db(tmp_path / "r.db")
    base = "a5" * 32
    a = add(db, "aurora", "1", "a" * 64, base)
    b = add(db, "bazaar", "7", "a" * 64, base)  # the same file
    c = add(db, "meridian", "3", "c" * 64, flip(base, 6))  # re-saved: 6 bits apart
    add(db, "meridian", "4", "d" * 64, flip(base, 60))  # another photo
    add(db, "aurora", "9", "e" * 64, base, matchable=0)  # blank picture
    for n in range(MAX_SHARED + 1):
        add(db, "bazaar", f"p{n}", "f" * 64, "0f" * 32)  # "no image" placeholder
    counts = link_relistings(db)
    pairs = {
        (r["listing_id"], r["other_listing_id"]): r["kind"] for r in db.query("SELECT * FROM relistings")
    }
    assert pairs == {(a, b): "same_bytes", (a, c): "near_copy", (b, c): "near_copy"}
    assert counts == {"pairs": 3, "same_bytes": 1, "near_copy": 2}
    assert link_relistings(db) == counts  # rebuilt, not duplicated
    sellers = {r["seller"]: r["relisted_lots"] for r in db.query("SELECT * FROM sellers")}
    assert sellers["s-aurora"] == 1 and sellers["s-meridian"] == 1
