import io

import numpy as np
from PIL import Image

from matcher import hashes, store
from matcher.features import FEATURE_VERSION
from matcher.ingest import hash_and_store, original_path, refresh, stale


def jpeg_bytes(seed: int) -> bytes:
    arr = (np.random.default_rng(seed).random((30, 40, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).resize((400, 300)).save(buf, "JPEG")
    return buf.getvalue()


def test_hash_once_then_reuse(tmp_path):
    db = store.open_db(tmp_path / "l.db")
    data = jpeg_bytes(1)
    fields = hash_and_store(db, data, all_transforms=True)
    lid, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    store.upsert_listing_image(db, lid, "u", 0, **fields)
    n = db.table("image_hashes").count
    assert hash_and_store(db, data, all_transforms=True) == fields
    assert db.table("image_hashes").count == n == 8  # no border to trim: 8 rotations/mirror images


def test_refresh_brings_old_hashes_up_to_date(tmp_path):
    db = store.open_db(tmp_path / "l.db")
    originals = tmp_path / "originals"
    data = jpeg_bytes(2)
    fields = hash_and_store(db, data, all_transforms=False)
    path = original_path(originals, fields["sha256"])
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    lid, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    store.upsert_listing_image(db, lid, "u", 0, **fields)
    store.upsert_listing_image(db, lid, "gone", 1, sha256="f" * 64)  # its original was never kept
    db.execute("UPDATE image_features SET feature_version = 'old'")
    db.execute("UPDATE image_hashes SET hash_version = 'old'")
    assert {s for s, _ in stale(db)} == {fields["sha256"], "f" * 64}
    counts = refresh(db, originals)
    assert counts == {"stale": 2, "refreshed": 1, "missing": 1, "failed": 0}
    assert db.execute("SELECT feature_version FROM image_features").fetchone()[0] == FEATURE_VERSION
    assert {r[0] for r in db.execute("SELECT DISTINCT hash_version FROM image_hashes")} == {
        hashes.HASH_VERSION
    }


def test_match_with_an_empty_registry(tmp_path):
    from matcher.match import match_listings

    db = store.open_db(tmp_path / "l.db")
    fields = hash_and_store(db, jpeg_bytes(3), all_transforms=False)
    lid, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    store.upsert_listing_image(db, lid, "u", 0, **fields)
    assert match_listings(db)["candidates"] == 0


def test_registry_features_read_back_for_verification(tmp_path):
    from matcher.descindex import PER_PHOTO
    from matcher.fingerprint import fingerprint
    from matcher.registry_index import RegistryIndex

    db = store.open_db(tmp_path / "l.db")
    data = jpeg_bytes(4)
    fields = hash_and_store(db, data, all_transforms=True)
    oid = store.upsert_registry_object(db, {"source": "test", "source_id": "1", "title": "a stolen relief"})
    image_id = store.upsert_registry_image(db, oid, "file:///r/1.jpg", 0, **fields)
    index = RegistryIndex.from_db(db)
    fp = fingerprint(data, all_transforms=True)
    stored = index.features.get(image_id)
    assert np.array_equal(stored.desc, fp.features.desc) and stored.colour == fp.features.colour
    assert np.array_equal(index.mirror_features.get(image_id).desc, fp.mirror_features.desc)
    assert index.features.get(image_id + 1) is None
    assert index.descriptors.index.ntotal == min(PER_PHOTO, len(fp.features))
