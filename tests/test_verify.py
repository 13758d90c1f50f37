import io

import numpy as np
import pytest
from PIL import Image

from matcher.decide.evidence import Hit, Thresholds, tier, verified
from matcher.decide.verify import verify
from matcher.photo.decode import decode
from matcher.photo.features import Features, colour_signature, colour_similarity, orb
from matcher.search.descindex import DescriptorIndex, spread
from seeds.demo import draw


def photo(kind: str, seed: int) -> Image.Image:
    return draw.photo(draw.sprite(kind, draw.TYPE_MATERIALS[kind][0], seed), "white", seed)


def decoded(im: Image.Image, quality: int = 85) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return decode(buf.getvalue())


@pytest.fixture(scope="module")
def pictures():
    return {n: photo(kind, n) for n, kind in enumerate(["tablet", "coin", "relief", "tablet"])}


def test_features_round_trip(pictures):
    f = orb(decoded(pictures[0]))
    assert len(f) > 50
    g = Features.from_blobs(*f.to_blobs())
    assert np.array_equal(f.desc, g.desc) and np.allclose(f.xy, g.xy, atol=0.5)


def test_copy_as_collage_tile_verifies(pictures):
    sheet = Image.new("RGB", (pictures[0].width * 2 + 30, pictures[0].height + 20), "white")
    sheet.paste(pictures[1], (10, 10))
    sheet.paste(pictures[0], (pictures[0].width + 20, 10))
    query = orb(decoded(sheet))
    v = verify(query, orb(decoded(pictures[0])))
    assert v.inliers >= 10 and v.overlap >= 0.1


def test_quarter_turn_and_crop_verify(pictures):
    ref = orb(decoded(pictures[0]))
    turned = pictures[0].transpose(Image.Transpose.ROTATE_90)
    w, h = pictures[0].size
    cropped = pictures[0].crop((int(w * 0.1), int(h * 0.1), w, h))
    assert verify(orb(decoded(turned)), ref).inliers >= 30
    assert verify(orb(decoded(cropped)), ref).inliers >= 30


def test_different_objects_of_one_type_do_not_verify(pictures):
    # Two tablets drawn in the same house style: shapes alike, surfaces different.
    v = verify(orb(decoded(pictures[3])), orb(decoded(pictures[0])))
    assert v.inliers < 10 or v.overlap < 0.1


def test_descriptor_votes_rank_the_source_first(pictures):
    index = DescriptorIndex((n, orb(decoded(p))) for n, p in pictures.items())
    query = orb(decoded(pictures[2].resize((400, 320)), quality=40))
    assert index.votes(query)[0][0] == 2


def test_vote_index_keeps_a_spread_share_of_each_photo(pictures):
    features = orb(decoded(pictures[0]))
    kept = spread(features.xy, 64)
    assert len(kept) == 64 == len(set(kept.tolist()))
    lo, hi = features.xy.min(axis=0), features.xy.max(axis=0)
    cell = np.minimum(3, ((features.xy - lo) * 4 / (hi - lo)).astype(int))
    occupied = {tuple(c) for c in cell}
    assert {tuple(c) for c in cell[kept]} == occupied  # every part of the photo keeps its share
    assert len({tuple(c) for c in cell[:64]}) < len(occupied)  # which the first 64 stored would not
    index = DescriptorIndex(((n, orb(decoded(p))) for n, p in pictures.items()), per_photo=100)
    assert index.index.ntotal == 100 * len(pictures)
    w, h = pictures[1].size
    query = orb(decoded(pictures[1].crop((int(0.1 * w), int(0.1 * h), w, h))))
    assert index.votes(query)[0][0] == 1


def test_colour_signature():
    red, blue = Image.new("RGB", (50, 50), (200, 30, 30)), Image.new("RGB", (50, 50), (30, 30, 200))
    assert colour_similarity(colour_signature(red), colour_signature(red)) == pytest.approx(1.0)
    assert colour_similarity(colour_signature(red), colour_signature(blue)) < 0.1


def hit(**kw) -> Hit:
    base = {
        "object_id": 1,
        "registry_image_id": 1,
        "variant": "full/r0",
        "pdq": 100,
        "phash": 30,
        "dhash": 30,
    }
    return Hit(**{**base, **kw})


T = Thresholds()


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"pdq": 10, "phash": 2}, "strong"),
        ({"pdq": 10, "phash": 2, "inliers": 0, "overlap": 0.0}, "review"),  # features contradict
        ({"pdq": 10, "phash": 2, "variant": "full/m0"}, "strong"),  # no mirror features to compare
        ({"pdq": 10, "phash": 2, "variant": "full/m0", "inliers": 0}, "review"),  # mirror features contradict
        ({"pdq": 45, "phash": 6}, "review"),
        ({"pdq": 45, "phash": 6, "inliers": 3, "overlap": 0.02}, None),  # house-style look-alike
        ({"pdq": 45, "phash": 20}, None),
        ({"pdq": 28, "phash": 4, "variant": "full/r90"}, "review"),
        ({"inliers": 15, "overlap": 0.3, "votes": 6}, "review"),  # collage tile, found by descriptor votes
        ({"inliers": 15, "overlap": 0.3, "votes": 6, "colour": 0.1}, None),  # ... whose hues disagree
        ({"inliers": 45, "overlap": 0.3, "votes": 6, "colour": 0.1}, "strong"),  # many inliers outweigh them
        ({"inliers": 45, "overlap": 0.3, "votes": 6}, "strong"),
        (
            {"inliers": 15, "overlap": 0.3},
            None,
        ),  # features alone, but the registry-wide votes did not pick it
        ({"pdq": 24, "phash": 2, "view": "trim", "inliers": 6, "overlap": 0.02}, None),  # same outline only
        ({"pdq": 12, "phash": 2, "view": "trim", "inliers": 6, "overlap": 0.02}, "strong"),  # near-exact
        ({"inliers": 15, "overlap": 0.3, "other_inliers": 12}, None),  # not distinctive
        ({"inliers": 15, "overlap": 0.05}, None),
        ({"pdq": 20, "phash": 4, "quality": 30}, "strong"),
        ({"pdq": 20, "phash": 12, "quality": 30}, None),  # low PDQ quality needs pHash agreement
        # another object's features agree better: a look-alike whose hash came close
        ({"pdq": 28, "phash": 4, "inliers": 3, "overlap": 0.01, "other_inliers": 10}, None),
        ({"pdq": 28, "phash": 4, "inliers": 3, "overlap": 0.01, "other_inliers": 4}, "review"),
        # a padded or watermarked copy: many inliers, a small share, nothing else comes near
        (
            {"pdq": 40, "phash": 6, "view": "trim", "inliers": 24, "overlap": 0.06, "other_inliers": 3},
            "review",
        ),
        ({"pdq": 40, "phash": 6, "view": "trim", "inliers": 24, "overlap": 0.06, "other_inliers": 8}, None),
        ({"inliers": 30, "overlap": 0.07, "other_inliers": 2, "votes": 12}, "strong"),
        ({"inliers": 30, "overlap": 0.07, "other_inliers": 2, "votes": 5}, None),  # few votes
        # a half-size copy: the hashes and the registry-wide votes both found it, few inliers agree
        ({"pdq": 36, "phash": 0, "inliers": 15, "overlap": 0.06, "other_inliers": 2, "votes": 10}, "review"),
        ({"pdq": 36, "phash": 0, "inliers": 15, "overlap": 0.06, "other_inliers": 2, "votes": 8}, None),
        ({"pdq": 36, "phash": 0, "inliers": 15, "overlap": 0.06, "other_inliers": 8, "votes": 10}, None),
    ],
)
def test_tiers(kw, expected):
    assert tier(hit(**kw), T) == expected


def test_verified_needs_all_three():
    assert verified(hit(inliers=12, overlap=0.2), T)
    assert not verified(hit(inliers=9, overlap=0.9), T)
    assert not verified(hit(), T)


def test_mirrored_copy_verifies_against_mirror_features(pictures):
    from matcher.photo.fingerprint import fingerprint

    buf = io.BytesIO()
    pictures[0].save(buf, "JPEG", quality=90)
    registry = fingerprint(buf.getvalue(), all_transforms=True)
    query = orb(decoded(pictures[0].transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    assert verify(query, registry.mirror_features).inliers >= 30
    assert verify(query, registry.features).inliers < 10


def test_colour_signature_ignores_gamma_and_grey():
    rng = np.random.default_rng(3)
    warm = Image.fromarray((rng.random((64, 64, 3)) * [255, 120, 40]).astype(np.uint8))
    darker = warm.point([int(255 * (i / 255) ** 1.4) for i in range(256)] * 3)
    assert colour_similarity(colour_signature(warm), colour_signature(darker)) > 0.8
    grey = warm.convert("L").convert("RGB")
    assert colour_similarity(colour_signature(warm), colour_signature(grey)) == 1.0
    assert colour_similarity("", colour_signature(warm)) == 1.0


def test_colour_filter_drops_unverified_evidence_only():
    t = Thresholds()
    assert tier(hit(pdq=20, phash=4, colour=0.1), t) is None
    assert tier(hit(pdq=20, phash=4, colour=0.9), t) == "strong"
    assert tier(hit(pdq=20, phash=4, colour=0.1, inliers=60, overlap=0.5, votes=3), t) == "strong"


def test_hues_that_disagree_ask_more_of_the_features():
    t = Thresholds()
    seen = {"pdq": 44, "phash": 4, "view": "trim", "inliers": 44, "overlap": 0.12, "other_inliers": 21}
    assert tier(hit(**seen, colour=0.9), t) == "strong"  # twice the other object's inliers will do
    assert tier(hit(**seen, colour=0.0), t) is None  # with hues apart, three times are needed
    assert tier(hit(**seen | {"other_inliers": 10}, colour=0.0), t) == "strong"


def test_inverted_file_votes_carry_registry_photo_ids(pictures):
    from matcher.search.descindex import EXACT_LIMIT, PER_PHOTO

    rng = np.random.default_rng(0)
    noise = [
        (
            10_000 + n,
            Features(
                rng.uniform(0, 500, (PER_PHOTO, 2)).astype(np.float32),
                rng.integers(0, 256, (PER_PHOTO, 32), dtype=np.uint8),
            ),
        )
        for n in range(EXACT_LIMIT // PER_PHOTO + 10)
    ]
    index = DescriptorIndex([*noise, (7, orb(decoded(pictures[2])))])
    assert index.index.ntotal > EXACT_LIMIT  # the inverted file, not the exact index
    query = orb(decoded(pictures[2].resize((400, 320)), quality=40))
    assert index.votes(query)[0][0] == 7


def test_the_points_say_how_the_copy_lies(pictures):
    ref = orb(decoded(pictures[0]))
    assert verify(orb(decoded(pictures[0])), ref).quarter == 0
    left = pictures[0].transpose(Image.Transpose.ROTATE_90)  # turned to the left, like variant r90
    assert verify(orb(decoded(left)), ref).quarter == 1
    right = pictures[0].transpose(Image.Transpose.ROTATE_270)
    assert verify(orb(decoded(right)), ref).quarter == 3


def test_the_evidence_keeps_how_the_points_lie_when_the_hashes_do_not_match(pictures):
    from matcher.photo.fingerprint import fingerprint
    from matcher.search.registry_index import RegistryIndex, rank_photo

    buf = io.BytesIO()
    pictures[0].save(buf, "JPEG", quality=90)
    registry = fingerprint(buf.getvalue(), all_transforms=True)
    rows = [
        {**h, "variant": v, "registry_image_id": 0, "object_id": 0, "sha256": registry.sha256}
        for v, h in registry.hashes.items()
    ]
    index = RegistryIndex.from_rows(rows, {0: registry.features}, {0: registry.mirror_features})
    w, h = pictures[0].size
    # Mirrored and cropped hard: the hashes no longer agree, the points still do.
    edited = pictures[0].transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((0, 0, int(w * 0.55), int(h * 0.6)))
    out = io.BytesIO()
    edited.save(out, "JPEG", quality=85)
    query = fingerprint(out.getvalue())
    (hit,) = rank_photo(index, query.hashes, query.features, Thresholds())
    assert hit.inliers >= 10 and hit.points_turn == "m0"
    assert hit.evidence()["points_turn"] == "m0"
