"""Candidates the learned embedding raised, as the review UI and the evidence pack show them: the matching
points the matcher kept (and only those), both photos large enough to compare, the similarity with its
margin over every other record, and the worklist's filter for them."""

import asyncio
import html as html_lib
import io
import json
import re
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from matcher.db import connect, store
from matcher.decide.evidence import Hit
from matcher.decide.verify import verify
from matcher.photo.embed import EMBED_VERSION, MODEL, ONNX_SHA256
from matcher.photo.features import orb
from reports.candidate_page import similarity_note
from reports.evidence_pack import write_pack
from reports.worklist import (
    LARGE_SIDE,
    NO_POINTS,
    match_geometry,
    next_undecided,
    similarity_words,
    why_line,
    worklist_query,
)

from .evidence_home import build_home
from .review_db import hostile_db
from .test_datasette import signed_in
from .test_worklist import _picture, get, rows, ui

RECORD = {"kind": "image", "source": "interpol", "source_id": "12345"}
# Hashes and points found nothing; the embedding found the record's photo 0.23 above any other record's.
EMBEDDED = {
    "pdq": 120,
    "phash": 30,
    "dhash": 29,
    "inliers": 0,
    "view": "full",
    "variant": "full/r0",
    "cosine": 0.8912,
    "cosine_rank": 1,
    "cosine_of": 208,
    "cosine_next": 0.6188,
}
EMBEDDED_COLUMNS = {
    "tier": "review",
    "pdq_distance": 120,
    "phash_distance": 30,
    "dhash_distance": 29,
    "inliers": 0,
    "variant": "full:full/r0",
}
REGISTRY_SHA = "b" * 64


def _why(html: str) -> str:
    return html_lib.unescape(re.search(r'<p class="lw-why" id="why">(.*?)</p>', html).group(1))


def _embedded(db, cid, evidence=EMBEDDED, **columns):
    db.table("candidates").update(cid, {**EMBEDDED_COLUMNS, **columns, "evidence_json": json.dumps(evidence)})


def _two_photos(db, lot: Image.Image, registry: Image.Image) -> None:
    """The hostile candidate's lot and registry photos as two photos of these sizes, with their local
    features stored (the registry photo's mirror image too), as the matcher stores them."""
    db.execute("UPDATE registry_images SET sha256 = ?", [REGISTRY_SHA])
    db.execute("UPDATE listing_images SET width = ?, height = ?", list(lot.size))
    db.execute("UPDATE registry_images SET width = ?, height = ?", list(registry.size))
    thumb = bytes(db.execute("SELECT jpeg FROM thumbnails").fetchone()[0])
    store.put_thumbnail(db, REGISTRY_SHA, thumb, 300, 200)
    for sha, picture, mirror in (("a" * 64, lot, None), (REGISTRY_SHA, registry, True)):
        features = orb(picture)
        mirrored = orb(picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)).to_blobs() if mirror else None
        store.put_features(db, sha, *features.to_blobs(), len(features), "", "test", mirror=mirrored)


# ------------------------------------------------------------------------- 1. the matcher's own points


@pytest.mark.parametrize("angle", [30, 45, -56])
def test_geometry_draws_no_points_the_matcher_rejects_for_a_turn(angle):
    registry = _picture()
    lot = registry.rotate(angle, expand=True, fillcolor=(255, 255, 255))
    q, r = orb(lot), orb(registry)
    assert verify(q, r).inliers == 0  # turned beyond MAX_TILT: the matcher counts no point
    g = match_geometry(q.to_blobs(), r.to_blobs(), lot.size, registry.size)
    assert g == NO_POINTS
    assert g["listing_points"] == g["registry_points"] == [] and g["listing_region"] is None
    assert g["points"] == 0 and g["turn"] == "" and g["crop_percent"] is None


def test_geometry_counts_the_points_the_matcher_counts():
    registry = _picture()
    r = orb(registry)
    for angle in (0, 5):
        lot = registry.rotate(angle, expand=True, fillcolor=(255, 255, 255))
        q = orb(lot)
        # The stored blobs, as the candidate page reads them.
        stored_q, stored_r = type(q).from_blobs(*q.to_blobs()), type(r).from_blobs(*r.to_blobs())
        g = match_geometry(q.to_blobs(), r.to_blobs(), lot.size, registry.size)
        assert g["points"] == verify(stored_q, stored_r).inliers > 50
        assert len(g["listing_points"]) == len(g["registry_points"]) > 50


def test_the_candidate_page_draws_no_box_when_the_matcher_found_no_matching_points(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    registry = _picture()
    # The lot photo is the registry photo turned 45°: RANSAC fits dozens of points, the matcher none.
    _two_photos(db, registry.rotate(45, expand=True, fillcolor=(255, 255, 255)), registry)
    _embedded(db, cid)
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    assert 'id="listing-region"' not in page and 'id="registry-region"' not in page
    assert "<circle" not in page and 'id="lw-show-points"' not in page
    assert "the yellow box surrounds" not in page
    assert 'id="lw-no-points"' in page and "No matching points were found" in page
    assert "0 matching points" in page  # the numbers say what the picture shows


def test_the_page_draws_no_points_when_the_stored_evidence_says_the_matcher_found_none(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    registry = _picture()
    _two_photos(db, registry, registry)  # points would fit now; the matcher's evidence says none
    _embedded(db, cid, evidence={**EMBEDDED, "region": [1.0, 1.0, 300.0, 200.0]})
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    assert 'id="listing-region"' not in page and "<circle" not in page
    assert "No matching points were found" in page
    # With the matcher's points stored, they are drawn.
    _embedded(db, cid, evidence={**EMBEDDED, "inliers": 300}, inliers=300)
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    assert 'id="listing-region"' in page and "<circle" in page and "No matching points" not in page


# ------------------------------------------------------------------------------- 2. the evidence pack


def test_the_evidence_pack_says_why_in_the_review_uis_words_and_names_the_embedding_model(tmp_path):
    made = build_home(tmp_path / "home")
    db = connect.open_db(made["db"])
    db.table("candidates").update(made["cid"], {**EMBEDDED_COLUMNS, "evidence_json": json.dumps(EMBEDDED)})
    vector = {"full": np.zeros(1280, dtype=np.float16)}
    store.put_embeddings(db, made["sha"], vector, MODEL, EMBED_VERSION)
    store.put_embeddings(db, made["registry_sha"], vector, MODEL, "an-older-version")
    pack = write_pack(db, made["cid"], made["db"].parent / "data", tmp_path / "packs")
    files = zipfile.ZipFile(pack.path)
    summary = files.read("summary.html").decode()
    why = html_lib.unescape(re.search(r'<p id="why"><strong>(.*?)</strong></p>', summary).group(1))
    assert why == (
        "A different photo of what may be the same object as bulletin A1's (similarity 0.89, 0.27 above any "
        "other record's photo; rank 1 of 208)"
    )
    similarity = html_lib.unescape(re.search(r'<td id="similarity">(.*?)</td>', summary, re.S).group(1))
    assert similarity.startswith(similarity_note(EMBEDDED)[:1].upper() + similarity_note(EMBEDDED)[1:])
    assert MODEL in similarity and EMBED_VERSION in similarity and ONNX_SHA256 in similarity
    assert "another version than this lootwatch's" in similarity  # the registry photo's older embedding
    manifest = json.loads(files.read("manifest.json"))
    assert manifest["embedding"]["model"] == MODEL
    assert manifest["embedding"]["embed_version"] == EMBED_VERSION
    assert manifest["embedding"]["onnx_sha256"] == ONNX_SHA256
    assert [(p["owner"], p["embed_version"]) for p in manifest["embedding"]["photos"]] == [
        ("listing", EMBED_VERSION),
        ("registry", "an-older-version"),
    ]


def test_a_pack_without_a_similarity_records_no_embedding(tmp_path):
    made = build_home(tmp_path / "home")
    db = connect.open_db(made["db"])
    pack = write_pack(db, made["cid"], made["db"].parent / "data", tmp_path / "packs")
    files = zipfile.ZipFile(pack.path)
    assert "embedding" not in json.loads(files.read("manifest.json"))
    summary = files.read("summary.html").decode()
    assert 'id="similarity"' not in summary
    assert re.search(r'<p id="why"><strong>[^<]*bulletin A1[^<]*</strong></p>', summary)


# ------------------------------------------------------------------- 3. both photos large enough to see


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_the_photos_side_by_side_are_drawn_from_the_originals_at_a_size_to_compare(tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password("secret"))
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    db.execute("UPDATE registry_images SET sha256 = ?", [REGISTRY_SHA])
    store.put_thumbnail(
        db, REGISTRY_SHA, bytes(db.execute("SELECT jpeg FROM thumbnails").fetchone()[0]), 300, 200
    )
    sha = "a" * 64
    folder = tmp_path / "data" / "originals"
    (folder / sha[:2]).mkdir(parents=True)
    original = io.BytesIO()
    _picture(size=(1600, 1200)).save(original, "JPEG")
    (folder / sha[:2] / sha).write_bytes(original.getvalue())
    # A photo the database holds whose original claims 200 million pixels, and one that is not a photo.
    bomb, page_sha = "c" * 64, "d" * 64
    for other, data in (
        (bomb, _png_claiming(20_000, 10_000)),
        (page_sha, b"<html><script>alert(1)</script>"),
    ):
        (folder / other[:2]).mkdir(exist_ok=True)
        (folder / other[:2] / other).write_bytes(data)
        store.upsert_listing_image(
            db, 1, f"https://x.example/{other[:4]}.jpg", 5 + len(other[:1]), sha256=other
        )
    stray = "e" * 64  # an original no photo of the database has
    (folder / stray[:2]).mkdir()
    (folder / stray[:2] / stray).write_bytes(original.getvalue())

    async def go():
        ds = ui(db_path)
        await ds.invoke_startup()
        out = {"anonymous": await ds.client.get(f"/-/lootwatch/large/{sha}")}
        cookies = await signed_in(ds)
        for name, path in (
            ("large", f"/-/lootwatch/large/{sha}"),
            ("bomb", f"/-/lootwatch/large/{bomb}"),
            ("not a photo", f"/-/lootwatch/large/{page_sha}"),
            ("stray", f"/-/lootwatch/large/{stray}"),
            ("no original", f"/-/lootwatch/large/{REGISTRY_SHA}"),
            ("dots", "/-/lootwatch/large/..%2F..%2Flootwatch.db"),
            ("page", f"/-/lootwatch/candidate/{cid}"),
        ):
            out[name] = await ds.client.get(path, cookies=cookies)
        return out

    r = asyncio.run(go())
    assert r["anonymous"].status_code == 302 and r["anonymous"].headers["location"].startswith("/-/login")
    got = r["large"]
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.content != original.getvalue()  # drawn here, never the stored bytes
    assert Image.open(io.BytesIO(got.content)).size == (LARGE_SIDE, LARGE_SIDE * 3 // 4)
    for refused in ("bomb", "not a photo", "stray", "no original"):
        assert r[refused].status_code == 404, refused
        assert b"<script>alert(1)" not in r[refused].content
    assert r["dots"].status_code != 200 and b"SQLite format" not in r["dots"].content
    page = r["page"].text
    # The lot photo beside the registry photo from its original; the registry photo (no original) from
    # its small copy at its own size, said so.
    assert f'id="listing-photo" src="/-/lootwatch/large/{sha}"' in page
    assert 'id="registry-photo" src="data:image/jpeg;base64,' in page
    assert "only the small copy kept in the database can be shown" in page
    assert f'id="listing-big" src="/-/lootwatch/original/{sha}"' in page  # full size, one at a time
    css = re.search(r"\.lw \.lw-frame img \{([^}]*)\}", page).group(1)
    assert "width: 480px" not in css and "max-width: 100%" in css  # never a thumbnail stretched


# ---------------------------------------------------------------- 4 and 6. the similarity and its margin


def test_the_similarity_says_its_margin_over_every_other_record():
    hit = Hit(
        object_id=1,
        registry_image_id=1,
        variant="full/r0",
        pdq=120,
        phash=30,
        dhash=29,
        **{k: EMBEDDED[k] for k in ("cosine", "cosine_rank", "cosine_of", "cosine_next")},
    )
    assert similarity_words(hit) == "similarity 0.89, 0.27 above any other record's photo; rank 1 of 208"
    assert why_line(RECORD, EMBEDDED, []) == (
        "A different photo of what may be the same object as interpol 12345's (similarity 0.89, 0.27 above "
        "any other record's photo; rank 1 of 208)"
    )
    assert similarity_note(EMBEDDED) == (
        "similarity 0.89 of the two photos' learned embeddings (1 is the same picture), 0.27 above the most "
        "similar photo of any other record (0.62); rank 1 of the 208 registry photos searched"
    )
    # Every other record under the index's floor: its value is not told, so the margin is a least one.
    floor = {**EMBEDDED, "cosine_next": 0.5}
    assert "(similarity 0.89, at least 0.39 above any other record's photo; rank 1 of 208)" in why_line(
        RECORD, floor, []
    )
    assert "at least 0.39 above the most similar photo of any other record (under 0.50)" in similarity_note(
        floor
    )


def test_the_similarity_reads_the_same_on_the_worklist_and_the_candidate_page(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    _embedded(db, cid)
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    listed = get(db_path, "/").text
    row = [html_lib.unescape(w) for w in re.findall(r'<div class="lw-rowwhy">(.*?)</div>', listed)]
    assert row == [_why(page)] and "0.27 above any other record's photo" in _why(page)
    numbers = html_lib.unescape(re.search(r'<span id="similarity">(.*?)</span>', page).group(1))
    assert "0.27 above the most similar photo of any other record (0.62)" in numbers


def test_the_evidence_list_keeps_the_similarity_in_its_brackets_whole(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    flags = [{"rule": "r", "family": "origin", "text": "Syria", "weight": 30, "why": "w"}]
    _embedded(db, cid, reasons_json=json.dumps(flags))
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    assert _why(page).endswith("rank 1 of 208); red flags: “Syria”")
    item = html_lib.unescape(re.search(r'<li id="lw-photo-why">(.*?)\n', page).group(1))
    assert item == (
        "A different photo of what may be the same object as demo A1's (similarity 0.89, 0.27 above any "
        "other record's photo; rank 1 of 208)."
    )


def test_a_cosine_is_never_shown_above_one(tmp_path):
    above = {**EMBEDDED, "cosine": 1.0071, "cosine_next": 0.61}
    assert "(similarity 1.00, 0.39 above any other record's photo;" in why_line(RECORD, above, [])
    assert similarity_note(above).startswith("similarity 1.00 of the two photos'")
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    _embedded(db, cid, evidence=above)
    for path in (f"/-/lootwatch/candidate/{cid}", "/", "/-/lootwatch/worklist.json"):
        text = html_lib.unescape(get(db_path, path).text)
        assert "similarity 1.00" in text.lower() and "1.01" not in text and "1.0071" not in text


# --------------------------------------------------------------------------- 5. nothing shown as None


def test_an_empty_description_and_missing_sizes_are_not_shown_as_none(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    db.execute("UPDATE registry_objects SET description = NULL")
    text = {"sizes_agree": 0, "sizes_given": 0, "listing_cm": [12, 8], "words": 0.2, "score": 10}
    db.table("candidates").update(cid, {"text_json": json.dumps(text)})
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    shown = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"\bNone\b", shown)
    assert "record  cm" not in shown and "record cm" not in shown
    assert "lot 12 x 8 cm, record not given" in shown
    assert "No description given." in shown

    made = build_home(tmp_path / "home")
    home_db = connect.open_db(made["db"])
    home_db.execute("UPDATE registry_objects SET description = NULL, source_url = NULL")
    home_db.table("candidates").update(made["cid"], {"text_json": json.dumps(text)})
    pack = write_pack(home_db, made["cid"], made["db"].parent / "data", tmp_path / "packs")
    summary = zipfile.ZipFile(pack.path).read("summary.html").decode()
    summary = re.sub(r"all measures.*?</tr>", "", summary, flags=re.S)  # the stored JSON, as recorded
    summary = re.sub(r"<[^>]+>", " ", summary)
    assert not re.search(r"\bNone\b(?! recorded\.)", summary)  # "Verdicts: None recorded." is words
    assert "record not given" in summary and "record  cm" not in summary


# ------------------------------------------------------------------------ 7. the worklist's filter


def test_the_worklist_filters_the_candidates_found_by_likeness_alone(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, likeness = hostile_db(db_path)
    _embedded(db, likeness)
    lid = db.execute("SELECT listing_id FROM candidates WHERE id = ?", [likeness]).fetchone()[0]
    same_photo = (
        db.table("candidates")
        .insert(
            {
                "listing_id": lid,
                "kind": "image",
                "tier": "strong",
                "score": 90.0,
                "pdq_distance": 6,
                "phash_distance": 0,
                "dhash_distance": 2,
                "inliers": 80,
                "variant": "full:full/r0",
                "evidence_json": json.dumps({**EMBEDDED, "pdq": 6, "phash": 0, "dhash": 2, "inliers": 80}),
            }
        )
        .last_pk
    )
    flags = (
        db.table("candidates")
        .insert(
            {
                "listing_id": lid,
                "kind": "flags",
                "tier": "review",
                "score": 20.0,
                "evidence_json": "{not json",
            }
        )
        .last_pk
    )
    assert set(rows(get(db_path, "/-/lootwatch/worklist?kind=image").text)) == {likeness, same_photo}
    page = get(db_path, "/-/lootwatch/worklist?kind=likeness").text
    assert rows(page) == [likeness]
    assert re.search(
        r'<option value="likeness" selected>found by likeness \(learned embedding\) alone</option>', page
    )
    listed = get(db_path, "/-/lootwatch/worklist.json?kind=likeness").json()
    assert [r["id"] for r in listed["rows"]] == [likeness] and listed["filters"]["kind"] == "likeness"
    assert "A different photo of what may be the same object" in listed["rows"][0]["why"]
    assert set(rows(get(db_path, "/").text)) == {likeness, same_photo, flags}
    # The candidate page opened from that worklist leads on under the same filter.
    assert worklist_query("kind=likeness") == "kind=likeness"

    async def following():
        ds = ui(db_path)
        await ds.invoke_startup()
        database = ds.get_database("lootwatch")
        return (
            await next_undecided(database, same_photo, {"kind": "likeness"}),
            await next_undecided(database, likeness, {"kind": "likeness"}),
        )

    assert asyncio.run(following()) == (likeness, None)


def test_a_pair_the_matcher_verified_at_any_angle_is_drawn_at_any_angle():
    """A new photo the embedding ranked near is verified at any angle (matcher.search.registry_index); the
    drawing follows the stored evidence, and draws nothing at a turn the matcher would refuse otherwise."""
    from matcher.photo.fingerprint import fingerprint
    from reports.worklist import any_angle, match_geometry

    photo = Image.open(io.BytesIO(_drawing_bytes())).convert("RGB")
    turned = photo.rotate(40, Image.Resampling.BILINEAR, expand=True, fillcolor=(255, 255, 255))
    buf = io.BytesIO()
    turned.save(buf, "JPEG", quality=90)
    query, reference = fingerprint(buf.getvalue()), fingerprint(_drawing_bytes(), all_transforms=True)
    blobs = (query.features.to_blobs(), (*reference.features.to_blobs(), None, None))
    sizes = (turned.size, photo.size)
    assert match_geometry(*blobs, *sizes)["points"] == 0
    drawn = match_geometry(*blobs, *sizes, any_angle=True)
    assert drawn["points"] >= 30 and drawn["listing_points"]
    assert any_angle('{"any_angle": true}') and not any_angle('{"any_angle": "yes"}') and not any_angle("{")


def _drawing_bytes() -> bytes:
    from seeds.demo import draw

    buf = io.BytesIO()
    draw.photo(draw.sprite("vessel", draw.TYPE_MATERIALS["vessel"][0], 40), "white", 400).save(
        buf, "JPEG", quality=90
    )
    return buf.getvalue()
