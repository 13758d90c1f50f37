"""The learned embedding (matcher/photo/embed.py, matcher/search/embindex.py): exported and run offline,
stored with its version, searched exactly, and how it decides a tier.

Photos are drawn with the demo's own drawing code; ../shared/images/multiview, when present, gives real
different photos of one object.
"""

from __future__ import annotations

import dataclasses
import io
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from matcher.db import connect, store
from matcher.db.ingest import hash_and_store, stale
from matcher.decide.evidence import Hit, Thresholds, by_embedding, embed_margin, tier
from matcher.photo import embed
from matcher.photo.decode import decode
from matcher.photo.fingerprint import fingerprint
from matcher.search.embindex import FLOOR, EmbeddingIndex
from matcher.search.registry_index import RegistryIndex, rank_photo
from seeds.demo import draw


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _drawing(kind: str, seed: int, pose: int, backdrop: str = "white") -> bytes:
    obj = draw.sprite(kind, draw.TYPE_MATERIALS[kind][0], seed)
    return _jpeg(draw.photo(obj, backdrop, pose))


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a connection fails, as on a machine with no network."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_the_model_is_exported_from_the_packages_and_embeds_with_the_network_blocked(
    tmp_path, monkeypatch, no_network
):
    pytest.importorskip("torch")
    monkeypatch.setenv(embed.MODEL_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(embed, "_session", None)  # load afresh from the new file, sockets blocked
    path = embed.export_model()
    assert path == tmp_path / "efficientnet-lite0-avgpool.onnx"
    assert embed._sha256(path) == embed.ONNX_SHA256  # the same bytes as every other export
    vectors = embed.embed([decode(_drawing("vessel", 1, 10)), decode(_drawing("coin", 2, 20))])
    assert vectors.shape == (2, embed.DIM) and vectors.dtype == np.float16
    assert np.allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=1e-3)
    assert not no_network  # nothing even tried to connect


def test_a_model_file_that_is_not_the_expected_export_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(embed.MODEL_DIR_ENV, str(tmp_path))
    embed.model_path().write_bytes(b"not a model")
    with pytest.raises(embed.ModelError, match="not the expected embedding model"):
        embed.ensure_model(export=False)
    embed.model_path().unlink()
    with pytest.raises(embed.ModelError, match="lootwatch model export"):
        embed.ensure_model(export=False)


def test_the_input_is_the_whole_picture_scaled_to_minus_one_to_one():
    im = Image.new("RGB", (500, 100), (255, 0, 0))
    im.paste((0, 0, 255), (400, 0, 500, 100))  # the right fifth blue: a centre crop would lose it
    x = embed.prepare(im)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert x[2, 112, 220] == 1.0 and x[0, 112, 220] == -1.0  # blue at the right edge
    assert x[0, 112, 5] == 1.0


def test_a_new_photo_of_an_object_is_closer_than_another_object_of_another_kind():
    first = fingerprint(_drawing("vessel", 11, 100)).embeddings["full"].astype(np.float32)
    again = fingerprint(_drawing("vessel", 11, 200, "grey")).embeddings["full"].astype(np.float32)
    other = fingerprint(_drawing("tablet", 12, 100)).embeddings["full"].astype(np.float32)
    assert float(first @ again) > float(first @ other) + 0.1


def test_real_photos_of_one_object_are_close_and_of_others_far(shared):
    folder = shared / "images" / "multiview" / "ukbench"
    if not folder.is_dir():
        pytest.skip("../shared/images/multiview is absent")
    files = sorted(folder.glob("ukbench*.jpg"))[:8]  # two objects, four photos each
    vectors = np.stack([fingerprint(f.read_bytes()).embeddings["full"] for f in files]).astype(np.float32)
    sims = vectors @ vectors.T
    same = [sims[i, j] for i in range(8) for j in range(i) if i // 4 == j // 4]
    different = [sims[i, j] for i in range(8) for j in range(i) if i // 4 != j // 4]
    assert min(same) > max(different)


def test_every_view_is_embedded_and_stored_with_its_version_and_refreshed_when_it_changes(tmp_path):
    db = connect.open_db(tmp_path / "lw.db")
    page = Image.new("RGB", (700, 560), (255, 255, 255))
    page.paste(Image.open(io.BytesIO(_drawing("coin", 3, 30))).resize((500, 400)), (100, 80))
    fp = fingerprint(_jpeg(page))
    assert "full" in fp.embeddings and "trim" in fp.embeddings
    row = hash_and_store(db, _jpeg(page), all_transforms=False)
    views = {
        r["view"]: r for r in db.query("SELECT * FROM image_embeddings WHERE sha256 = ?", [row["sha256"]])
    }
    assert set(views) == set(fp.embeddings)
    assert {r["model"] for r in views.values()} == {embed.MODEL}
    assert {r["embed_version"] for r in views.values()} == {embed.EMBED_VERSION}
    assert np.array_equal(np.frombuffer(views["full"]["vector"], np.float16), fp.embeddings["full"])
    store.upsert_listing_image(db, store.upsert_listing(db, {"site": "s", "lot_id": "1"})[0], "u", 0, **row)
    assert stale(db) == []
    db.execute("UPDATE image_embeddings SET embed_version = 'older'")
    assert stale(db) == [(row["sha256"], False)]


def test_exact_search_ranks_and_bounds_like_a_full_scan():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(300, embed.DIM)).astype(np.float32)
    base[:, 0] += 3  # every photo alike enough to pass the floor, as photos of one house style are
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    photos = np.repeat(np.arange(150), 2)  # two views a photo
    index = EmbeddingIndex(zip(photos.tolist(), base.astype(np.float16), strict=True))
    query = (base[7] + 0.3 * base[100]).astype(np.float16)
    query = (query / np.linalg.norm(query.astype(np.float32))).astype(np.float16)
    near = index.nearest({"full": query})
    full = base.astype(np.float16).astype(np.float32) @ query.astype(np.float32)
    best = {p: float(full[photos == p].max()) for p in range(150)}
    assert near.photos == 150
    for photo, cosine in near.cosine.items():
        assert cosine == pytest.approx(best[photo], abs=1e-4)
        rank = near.rank(cosine)
        if rank is not None:
            assert rank == 1 + sum(c > cosine + 1e-4 for c in best.values())
    assert all(c < near.bound + 1e-4 for p, c in best.items() if p not in near.cosine)
    assert near.ranked()[0][0] == 3  # rows 7 and 100 are photos 3 and 50: 7 weighs more
    assert near.rank(FLOOR - 0.01) is None


def _registry(photos: dict[int, bytes]) -> RegistryIndex:
    rows, features, mirrors, vectors = [], {}, {}, {}
    for image_id, data in photos.items():
        fp = fingerprint(data, all_transforms=True)
        rows += [
            {**h, "variant": v, "registry_image_id": image_id, "object_id": image_id, "sha256": fp.sha256}
            for v, h in fp.hashes.items()
        ]
        features[image_id], mirrors[image_id], vectors[image_id] = (
            fp.features,
            fp.mirror_features,
            fp.embeddings,
        )
    return RegistryIndex.from_rows(rows, features, mirrors, embeddings=vectors)


def _seen(**evidence) -> Hit:
    """Evidence with no hash match (PDQ 120), searched against a registry of 20,000 photos."""
    return Hit(1, 1, "full/r0", 120, 30, 30, **{"cosine_of": 20_000, "cosine_rank": 1, **evidence})


def test_the_embedding_alone_earns_review_and_verification_promotes_it():
    t = Thresholds()
    margin = embed_margin(20_000, t)
    assert tier(_seen(inliers=0, cosine=0.9, cosine_next=0.9 - margin), t) == "review"
    assert tier(_seen(inliers=0, cosine=0.9, cosine_next=0.9 - margin + 0.01), t) is None  # too close
    assert tier(_seen(inliers=0, cosine=t.embed_cosine - 0.01, cosine_next=0.5), t) is None  # too far
    # However alike, never strong on its own; verified with many points it is.
    assert tier(_seen(inliers=0, cosine=1.0, cosine_next=0.5), t) == "review"
    verified = _seen(inliers=60, overlap=0.5, cosine=0.7, cosine_rank=2, cosine_next=0.7)
    assert tier(verified, t) == "strong"
    assert tier(_seen(inliers=60, overlap=0.5, cosine_rank=None), t) is None  # nothing chose it
    # Hues that disagree, or another object's points, speak against it.
    assert tier(_seen(inliers=0, colour=0.1, cosine=0.9, cosine_next=0.5), t) is None
    assert tier(_seen(inliers=2, other_inliers=12, cosine=0.9, cosine_next=0.5), t) is None


def test_the_margin_grows_as_the_registry_shrinks_and_nothing_below_the_calibrated_sizes():
    t = Thresholds()
    sizes = sorted(size for size, _ in t.embed_margins)
    margins = [embed_margin(size, t) for size in sizes]
    assert margins == sorted(margins, reverse=True)  # fewer photos: further above the next one
    assert embed_margin(sizes[0] - 1, t) is None
    small = _seen(inliers=0, cosine=0.99, cosine_next=0.5, cosine_of=sizes[0] - 1)
    assert tier(small, t) is None
    assert tier(dataclasses.replace(small, cosine_of=sizes[0]), t) == "review"


def test_rank_photo_records_the_similarity_and_rank_of_a_new_photo_of_a_registered_object():
    registry = {i: _drawing(kind, 40 + i, 400 + i) for i, kind in enumerate(("vessel", "tablet", "coin"))}
    index = _registry(registry)
    # The vessel again: another pose, light and backdrop.
    query = fingerprint(_drawing("vessel", 40, 999, "black"))
    hits = rank_photo(index, query.hashes, query.features, Thresholds(), embeddings=query.embeddings)
    mine = next(h for h in hits if h.object_id == 0)
    assert mine.cosine is not None and mine.cosine_rank == 1 and mine.cosine_of == 3
    assert mine.cosine_next is not None and mine.cosine_next < mine.cosine
    assert mine.cosine == max(h.cosine or 0 for h in hits)
    without = rank_photo(index, query.hashes, query.features, Thresholds())
    assert all(h.cosine is None for h in without)


def test_a_shortlisted_photo_held_by_no_hash_or_vote_is_found_by_the_embedding(tmp_path):
    """A registry photo that neither the hash shortlist nor the votes bring up is verified and ranked
    because the embedding search found it."""
    registry = {i: _drawing(kind, 60 + i, 600 + i) for i, kind in enumerate(("figurine", "lamp"))}
    index = _registry(registry)
    query = fingerprint(_drawing("figurine", 60, 777, "grey"))
    t = Thresholds()
    with_embedding = rank_photo(index, query.hashes, query.features, t, votes=[], embeddings=query.embeddings)
    assert 0 in {h.object_id for h in with_embedding}
    index_no_hash = index
    index_no_hash.shortlist = lambda views, limit: []  # as if no registry photo came near by hash
    found = rank_photo(index_no_hash, query.hashes, query.features, t, votes=[], embeddings=query.embeddings)
    cosine = {h.object_id: h.cosine for h in found}
    assert set(cosine) == {0, 1} and cosine[0] > cosine[1]  # both verified; the figurine is the closer
    assert rank_photo(index_no_hash, query.hashes, query.features, t, votes=[]) == []


def test_the_model_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(embed.MODEL_DIR_ENV, raising=False)
    assert embed.model_path().parent == Path(__import__("sys").prefix) / "share" / "lootwatch"
    monkeypatch.setenv(embed.MODEL_DIR_ENV, str(tmp_path))
    assert embed.model_path().parent == tmp_path


def test_look_alikes_only_the_embedding_brought_do_not_compete_with_what_the_hashes_and_votes_found():
    from matcher.decide.rank import _compete

    class Index:
        def same_object(self, a, b):
            return False

        def same_picture(self, a, b):
            return False

    found = Hit(1, 1, "full/r0", 30, 4, 4, inliers=30, region=(0, 0, 100, 100), votes=12)
    voted = Hit(2, 2, "full/r0", 90, 30, 30, inliers=5, region=(0, 0, 100, 100), votes=3)
    look_alike = Hit(3, 3, "full/r0", 90, 30, 30, inliers=9, region=(0, 0, 100, 100), embedding_only=True)
    _compete(Index(), [found, voted, look_alike])
    assert found.other_inliers == 5  # the look-alike's 9 do not count against it
    assert look_alike.other_inliers == 30  # but it faces everything
    assert voted.other_inliers == 30


def test_a_lot_photo_held_by_one_record_still_finds_another_records_different_photo_of_the_object():
    """One registry holds an object by one photo, another registry by another. A lot photo that is the
    first record's photo is as near that photo as can be; it must not hide the second record, which
    only the embedding finds."""
    t = Thresholds(embed_margins=((1, 0.05),))
    registry = {
        0: _drawing("vessel", 40, 400),  # one registry's photo of the vessel
        1: _drawing("vessel", 40, 401, "grey"),  # another registry's photo of the same vessel
        2: _drawing("coin", 41, 402),
        3: _drawing("tablet", 42, 403),
    }
    index = _registry(registry)
    query = fingerprint(registry[0])  # the first registry's photo, offered as it is
    hits = {
        h.object_id: h
        for h in rank_photo(index, query.hashes, query.features, t, embeddings=query.embeddings)
    }
    assert tier(hits[0], t) == "strong"
    other = hits[1]
    assert other.cosine_rank == 2 and other.cosine_next < other.cosine  # the first record is no rival
    assert by_embedding(other, t) and tier(other, t) is not None
    # A lot photo that is neither record's photo: the two records of one vessel are rivals again.
    fresh = fingerprint(_drawing("vessel", 40, 404, "black"))
    found = {
        h.object_id: h
        for h in rank_photo(index, fresh.hashes, fresh.features, t, embeddings=fresh.embeddings)
    }
    assert found[1].cosine_next >= min(found[0].cosine, found[1].cosine)


def test_cosines_are_at_most_one_even_from_float16_vectors():
    # A unit vector rounded to float16 whose inner product with itself is 1.000054 (1.0001 when rounded).
    v = np.random.default_rng(5).standard_normal(embed.DIM).astype(np.float32)
    v16 = (v / np.linalg.norm(v)).astype(np.float16)
    assert float(v16.astype(np.float32) @ v16.astype(np.float32)) > 1.00005
    index = EmbeddingIndex([(7, v16)])
    assert index.cosine(7, v16.astype(np.float32).reshape(1, -1)) == 1.0
    near = index.nearest({"full": v16})
    assert near is not None and near.cosine == {7: 1.0} and near.bound <= 1.0


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("relative/models", "is a relative path"),
        ("/dev/null", "is not a folder"),
        ("FILE", "is not a folder"),
    ],
)
def test_a_model_dir_that_is_relative_or_no_folder_is_refused_naming_the_variable(
    tmp_path, monkeypatch, value, words
):
    if value == "FILE":
        value = str(tmp_path / "a-file")
        Path(value).write_text("x")
    monkeypatch.setenv(embed.MODEL_DIR_ENV, value)
    with pytest.raises(embed.ModelError, match=f"^LOOTWATCH_MODEL_DIR={value} {words}"):
        embed.model_path()
    with pytest.raises(embed.ModelError, match="LOOTWATCH_MODEL_DIR"):
        embed.ensure_model()


def test_model_export_in_odd_model_dirs_says_one_line_naming_the_variable(tmp_path, monkeypatch):
    from .conftest import run_cli

    for value, words in [
        ("/dev/null", "LOOTWATCH_MODEL_DIR=/dev/null is not a folder"),
        ("models", "LOOTWATCH_MODEL_DIR=models is a relative path"),
    ]:
        monkeypatch.setenv(embed.MODEL_DIR_ENV, value)
        proc = run_cli("model", "export", cwd=tmp_path, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith(f"lootwatch: {words}: set it to ")
        assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "models").exists()  # nothing exported into the working directory
    pytest.importorskip("torch")
    monkeypatch.setenv(embed.MODEL_DIR_ENV, "/proc/self")  # a folder that takes no file
    proc = run_cli("model", "export", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(
        "lootwatch: cannot write the embedding model into /proc/self (LOOTWATCH_MODEL_DIR)"
    )


def test_model_export_replaces_a_file_that_is_not_the_expected_export(tmp_path, monkeypatch):
    from .conftest import run_cli

    pytest.importorskip("torch")
    monkeypatch.setenv(embed.MODEL_DIR_ENV, str(tmp_path))
    bad = embed.model_path()
    bad.write_bytes(b"not a model")
    with pytest.raises(embed.ModelError) as refused:
        embed.ensure_model(export=False)
    # The message names the file and the exact command that fixes it.
    assert str(bad) in str(refused.value) and "run `lootwatch model export` to replace it" in str(
        refused.value
    )
    proc = run_cli("model", "export", check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"embedding model ready: {bad}" in proc.stdout
    assert embed._sha256(bad) == embed.ONNX_SHA256
    assert [p.name for p in tmp_path.iterdir()] == [bad.name]  # written beside and renamed: no leftovers


def test_a_new_photo_turned_in_the_frame_is_verified_at_any_angle_only_when_the_embedding_ranks_it_near():
    """A new photo of an object lies at any angle to the registry's; the tilt rule that keeps chance
    fits out refuses it. For a registry photo among the embedding's nearest, a fit at any angle counts
    with strong_inliers or more, and says so."""
    from matcher.decide.verify import ANY_TILT, verify

    photo = Image.open(io.BytesIO(_drawing("vessel", 40, 400))).convert("RGB")
    turned = _jpeg(photo.rotate(40, Image.Resampling.BILINEAR, expand=True, fillcolor=(255, 255, 255)))
    index = _registry({0: _drawing("vessel", 40, 400), 1: _drawing("coin", 41, 401)})
    query = fingerprint(turned)
    assert verify(query.features, index.features[0]).inliers == 0  # the tilt rule refuses 40 degrees
    assert verify(query.features, index.features[0], ANY_TILT).inliers >= Thresholds().strong_inliers
    t = Thresholds()
    hits = {
        h.object_id: h
        for h in rank_photo(index, query.hashes, query.features, t, embeddings=query.embeddings)
    }
    assert hits[0].any_angle and hits[0].inliers >= t.strong_inliers and tier(hits[0], t) == "strong"
    without = {h.object_id: h for h in rank_photo(index, query.hashes, query.features, t)}
    assert not without[0].any_angle and (without[0].inliers or 0) < t.strong_inliers


def test_a_registry_photo_whose_embedding_fails_is_still_fingerprinted_for_the_next_match(monkeypatch):
    """The hash pool of registry imports: the model failing is not the photo failing. The photo keeps
    its hashes and features (its original is kept by the import), and `match` embeds it later."""
    from matcher.photo import fingerprint as fingerprint_module
    from matcher.photo.hash_pool import fingerprint_or_error

    def broken(*args, **kwargs):
        raise embed.ModelError("the model file is damaged")

    monkeypatch.setattr(fingerprint_module, "embed_views", broken)
    fp, error = fingerprint_or_error(_drawing("coin", 5, 50), all_transforms=True)
    assert error is None and fp is not None and fp.hashes and fp.features is not None
    assert fp.embeddings == {}


def test_check_lists_the_records_most_alike_by_the_embedding_in_a_registry_too_small_for_its_tier(tmp_path):
    """In a registry of three photos the embedding alone raises no candidate, yet ``check`` shows a new
    photo of a registered object as the record most alike, in plain words and apart from the candidates."""
    import json

    from .conftest import run_cli

    (tmp_path / "photos").mkdir()
    rows = ["source,source_id,title,status,images"]
    for i, kind in enumerate(("vessel", "tablet", "coin")):
        (tmp_path / "photos" / f"{kind}.jpg").write_bytes(_drawing(kind, 70 + i, 700 + i))
        rows.append(f"test,{kind.upper()}-1,A {kind},stolen,photos/{kind}.jpg")
    (tmp_path / "registry.csv").write_text("\n".join(rows) + "\n")
    db = str(tmp_path / "lw.db")
    run_cli("--db", db, "registry", "import", str(tmp_path / "registry.csv"), cwd=tmp_path)
    query = tmp_path / "new-photo.jpg"
    # The vessel again (pose, light, backdrop), soft-focus: too few sharp corners for matching points.
    again = Image.open(io.BytesIO(_drawing("vessel", 70, 999, "black"))).filter(ImageFilter.GaussianBlur(4))
    query.write_bytes(_jpeg(again))
    result = json.loads(run_cli("--db", db, "check", "--json", str(query)).stdout)
    assert result["candidates"] == []
    best = result["likeness"][0]
    assert best["source_id"] == "VESSEL-1" and best["tier"] == "likeness"
    assert best["evidence"]["cosine_rank"] == 1 and best["evidence"]["cosine"] >= FLOOR
    text = run_cli("--db", db, "check", str(query)).stdout
    assert "0 candidates" in text and "most alike by the learned embedding alone" in text
    assert "test:VESSEL-1" in text.split("most alike", 1)[1]
    assert "rank 1 of 3" in text
