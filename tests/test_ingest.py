import io

import numpy as np
from PIL import Image

from matcher.db import connect, store
from matcher.db.ingest import hash_and_store, original_path, refresh, stale
from matcher.photo import hashes
from matcher.photo.features import FEATURE_VERSION


def jpeg_bytes(seed: int) -> bytes:
    arr = (np.random.default_rng(seed).random((30, 40, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).resize((400, 300)).save(buf, "JPEG")
    return buf.getvalue()


def test_hash_once_then_reuse(tmp_path):
    db = connect.open_db(tmp_path / "l.db")
    data = jpeg_bytes(1)
    fields = hash_and_store(db, data, all_transforms=True)
    lid, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    store.upsert_listing_image(db, lid, "u", 0, **fields)
    n = db.table("image_hashes").count
    assert hash_and_store(db, data, all_transforms=True) == fields
    assert db.table("image_hashes").count == n == 8  # no border to trim: 8 rotations/mirror images


def test_refresh_brings_old_hashes_up_to_date(tmp_path):
    db = connect.open_db(tmp_path / "l.db")
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

    db = connect.open_db(tmp_path / "l.db")
    fields = hash_and_store(db, jpeg_bytes(3), all_transforms=False)
    lid, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    store.upsert_listing_image(db, lid, "u", 0, **fields)
    assert match_listings(db)["candidates"] == 0


def test_registry_features_read_back_for_verification(tmp_path):
    from matcher.photo.fingerprint import fingerprint
    from matcher.search.descindex import PER_PHOTO
    from matcher.search.registry_index import RegistryIndex

    db = connect.open_db(tmp_path / "l.db")
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


class _Stats:
    def __init__(self):
        self.values: dict[str, int] = {}

    def inc_value(self, key, n=1):
        self.values[key] = self.values.get(key, 0) + n


class _Run:
    def __init__(self, db):
        self.db, self.errors = db, []

    def error(self, stage, url, reason):
        self.errors.append((stage, url, reason))
        store.record_error(self.db, None, stage, url, reason)


class _Crawler:
    def __init__(self, db, files_store):
        self.lootwatch_run = _Run(db)
        self.settings = {"FILES_STORE": str(files_store)}
        self.stats = _Stats()


def _broken_model(tmp_path, monkeypatch):
    """The embedding model replaced by a file that is not the expected export, for this process."""
    from matcher.photo import embed

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / embed.model_path().name).write_bytes(b"not a model")
    monkeypatch.setenv(embed.MODEL_DIR_ENV, str(folder))
    monkeypatch.setattr(embed, "_session", None)


def _fixed_model(monkeypatch):
    from matcher.photo import embed

    monkeypatch.delenv(embed.MODEL_DIR_ENV)
    monkeypatch.setattr(embed, "_session", None)


def test_a_lot_photo_whose_embedding_fails_is_kept_and_embedded_by_the_next_match(tmp_path, monkeypatch):
    from spiders.pipelines.photos import store_photos

    db = connect.open_db(tmp_path / "l.db")
    originals = tmp_path / "originals"
    data = jpeg_bytes(7)
    sha = hashes.sha256(data)
    # The crawler's download, somewhere under FILES_STORE (the kept original's own place is ensured).
    (originals / "full").mkdir(parents=True)
    (originals / "full" / "x.jpg").write_bytes(data)
    item = {"image_urls": ["https://h/x.jpg"], "files": [{"url": "https://h/x.jpg", "path": "full/x.jpg"}]}
    lid, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    crawler = _Crawler(db, originals)
    _broken_model(tmp_path, monkeypatch)
    store_photos(crawler, item, lid, store.upsert_listing_image, all_transforms=False)
    (row,) = db.query("SELECT sha256, error, width, matchable FROM listing_images")
    assert (row["sha256"], row["error"], row["width"], row["matchable"]) == (sha, None, 400, 1)
    assert original_path(originals, sha).read_bytes() == data
    assert store.has_hashes(db, sha, hashes.HASH_VERSION, FEATURE_VERSION, "full/r0")
    assert stale(db) == [(sha, False)]  # no embedding yet: the next match's refresh computes it
    ((stage, url, reason),) = crawler.lootwatch_run.errors
    assert (stage, url) == (
        "photo",
        "https://h/x.jpg",
    ) and "stored without its embedding (ModelError" in reason
    # While the model is still wrong, the refresh fails on it and the photo stays as it was.
    assert refresh(db, originals)["refreshed"] == 0 and stale(db) == [(sha, False)]
    _fixed_model(monkeypatch)
    assert refresh(db, originals)["refreshed"] == 1
    assert stale(db) == []
    assert db.execute("SELECT count(*) FROM image_embeddings WHERE sha256 = ?", [sha]).fetchone()[0] >= 1


def test_a_crawler_node_checks_the_model_before_any_work_and_never_loses_a_photo(tmp_path, monkeypatch):
    import pytest

    from matcher.photo import embed
    from spiders.pipelines import node_export

    _broken_model(tmp_path, monkeypatch)
    with pytest.raises(embed.ModelError, match="run `lootwatch model export`"):
        node_export.NodeExportPipeline.from_crawler(object())
    # Should the embedding fail all the same, the photo's other signals still go into the batch.
    fp, deferred = node_export._fingerprint(jpeg_bytes(8))
    assert fp.embeddings == {} and fp.hashes and deferred.startswith("ModelError: ")
    _fixed_model(monkeypatch)
    fp, deferred = node_export._fingerprint(jpeg_bytes(8))
    assert deferred is None and set(fp.embeddings) >= {"full"}
