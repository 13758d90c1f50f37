import io

import numpy as np
from PIL import Image, ImageFilter

from matcher.decide.verify import verify
from matcher.photo.decode import decode
from matcher.photo.features import Features, orb
from matcher.photo.stability import repeatability, stable_first
from matcher.search.descindex import spread
from seeds.demo import draw


def decoded(im: Image.Image, quality: int = 85) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return decode(buf.getvalue())


def photos():
    for n, kind in enumerate(["tablet", "coin", "relief", "vessel", "figurine"]):
        yield decoded(draw.photo(draw.sprite(kind, draw.TYPE_MATERIALS[kind][0], n), "white", n))


def share(f: Features, k: int = 64) -> Features:
    keep = spread(f.xy, k)
    return Features(f.xy[keep], f.desc[keep])


def test_stable_share_verifies_an_edited_copy_better():
    # An edit that is not one of EDITS: smaller, turned the other way, blurred, recompressed.
    by_response = by_stability = 0
    for im in photos():
        f = orb(im)
        edited = im.rotate(-4, resample=Image.Resampling.BILINEAR, fillcolor="white")
        edited = edited.resize((im.width * 2 // 5, im.height * 2 // 5)).filter(ImageFilter.GaussianBlur(0.8))
        query = orb(decoded(edited, 60))
        by_response += verify(query, share(f)).inliers
        by_stability += verify(query, share(stable_first(np.asarray(im.convert("L")), f))).inliers
    assert by_stability >= 2 * by_response and by_stability >= 40, (by_stability, by_response)


def test_reordering_keeps_every_keypoint():
    im = next(photos())
    f = orb(im)
    s = stable_first(np.asarray(im.convert("L")), f)
    assert len(s) == len(f)
    assert sorted(map(bytes, s.desc)) == sorted(map(bytes, f.desc))
    scores = repeatability(np.asarray(im.convert("L")), s)
    assert scores[:50].mean() > scores[-50:].mean()


def test_no_keypoints_no_scores():
    grey = np.full((64, 64), 128, np.uint8)
    assert repeatability(grey, Features.empty()).shape == (0,)
    assert len(stable_first(grey, Features.empty())) == 0
