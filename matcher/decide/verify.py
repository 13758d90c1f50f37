"""Geometric verification: do two photos share enough local features in one consistent geometry?

Descriptors are matched with a brute-force Hamming matcher and Lowe's ratio test (each reference
keypoint used once), then a similarity transform (rotation, scale, shift) is fitted with RANSAC
(OpenCV ``estimateAffinePartial2D``). Inliers are the distinct query keypoints that agree with it. A copy
of one photo, even as a tile of a collage, shares dozens; different objects shot in one house style share
a handful. A transform that collapses the picture (scale under 0.1 or over 10) or turns it by an angle
more than ``MAX_TILT`` degrees from a quarter turn counts as no match.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from ..photo.features import Features

__all__ = ["Verification", "fit", "verify", "within", "RATIO", "REPROJECTION_PX", "MAX_TILT", "ANY_TILT"]

RATIO = 0.8
REPROJECTION_PX = 4.0
MIN_MATCHES = 6
# A reused photo is turned by quarter turns at most, and a re-photographed print by a few degrees; a
# transform at an arbitrary angle is chance agreement between unrelated pictures.
MAX_TILT = 12.0
ANY_TILT = 45.0  # no quarter turn is further than this: any angle
_matcher = cv2.BFMatcher(cv2.NORM_HAMMING)


class Verification(NamedTuple):
    """``inliers``: distinct query keypoints that agree with the best transform; ``overlap``: their share of
    all query keypoints that the transform puts inside the reference photo; ``region``: the box
    (left, top, right, bottom) of the inliers in the query; ``quarter``: the transform's
    ``quarter_turns``; ``tilt``: its degrees off that quarter turn."""

    inliers: int
    overlap: float
    region: tuple[float, float, float, float] | None = None
    quarter: int = 0
    tilt: float = 0.0


NONE = Verification(0, 0.0)


def fit(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The ratio-tested matches of two feature sets and the similarity transform RANSAC fits to them:
    ``(src, dst, model, inlier)``, where ``src``/``dst`` are the matched points' (n, 2) coordinates in
    the query and the reference, ``model`` the 2x3 transform and ``inlier`` an (n,) boolean mask; None
    when too few descriptors match or no transform fits."""
    if len(query) < MIN_MATCHES or len(reference) < MIN_MATCHES:
        return None
    best: dict[int, cv2.DMatch] = {}
    for pair in _matcher.knnMatch(query.desc, reference.desc, k=2):
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            m = pair[0]
            if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:
                best[m.trainIdx] = m
    if len(best) < MIN_MATCHES:
        return None
    good = list(best.values())
    src = query.xy[[m.queryIdx for m in good]]
    dst = reference.xy[[m.trainIdx for m in good]]
    model, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION_PX, maxIters=2000, confidence=0.995
    )
    if model is None or mask is None:
        return None
    return src, dst, model, mask.ravel().astype(bool)


def verify(query: Features, reference: Features, max_tilt: float = MAX_TILT) -> Verification:
    """Match two feature sets and fit one similarity transform with RANSAC (``fit``), then judge it.

    ``max_tilt``: the degrees off a quarter turn a transform may turn by (45 allows any angle: a new
    photo of an object, taken from another side, lies at any angle to the registry's)."""
    fitted = fit(query, reference)
    if fitted is None:
        return NONE
    src, _, model, keep = fitted
    scale = float(np.sqrt(abs(np.linalg.det(model[:2, :2]))))
    angle = float(np.degrees(np.arctan2(model[1, 0], model[0, 0])))
    if not 0.1 < scale < 10 or _off_axis(angle) > max_tilt:
        return NONE
    agree = src[keep]
    kept = len(np.unique(np.round(agree), axis=0))
    # The reference frame is approximated by the box of its keypoints (sizes are not stored).
    mapped = query.xy @ model[:, :2].T + model[:, 2]
    lo, hi = reference.xy.min(axis=0), reference.xy.max(axis=0)
    inside = int(np.all((mapped >= lo) & (mapped <= hi), axis=1).sum())
    region = (*agree.min(axis=0).tolist(), *agree.max(axis=0).tolist())
    return Verification(
        kept,
        round(kept / max(inside, kept, 1), 3),
        tuple(round(v, 1) for v in region),
        quarter_turns(model),
        _off_axis(angle),
    )


def within(found: Verification, max_tilt: float = MAX_TILT) -> Verification:
    """``found`` as ``verify`` with ``max_tilt`` judges it: a verification made at a wider tilt is judged
    again without fitting again."""
    return found if found.tilt <= max_tilt else NONE


def quarter_turns(model: np.ndarray) -> int:
    """How many quarter turns (0-3) the 2x3 similarity transform ``model`` turns the query by, to the
    nearest: the registry photo's variant ``r{90 * n}`` (``m{90 * n}`` on its mirror image) shows the
    picture as the query shows it."""
    return round(float(np.degrees(np.arctan2(model[1, 0], model[0, 0]))) / 90) % 4


def _off_axis(angle: float) -> float:
    """Degrees from the nearest quarter turn."""
    return abs((angle + 45) % 90 - 45)
