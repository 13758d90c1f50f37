"""Local features for geometric verification: ORB keypoints and descriptors, and a colour signature.

ORB (Rublee et al., ICCV 2011; OpenCV's implementation) finds the same object parts in a cropped,
padded, rotated, recompressed or collaged copy of a photo, where a global hash of the whole picture
no longer agrees. The colour signature, a coarse hue histogram, is used only as a filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

__all__ = ["FEATURE_VERSION", "Features", "orb", "orb_of_grey", "colour_signature", "colour_similarity"]

ORB_FEATURES = 400
PART_SIDE = 512  # a part of a picture is enlarged towards the size of a photo before its features ...
PART_ZOOM = 2.5  # ... by at most this much
HUE_BINS = 16
MIN_COLOURED = 13  # of 255: under 5 % coloured pixels the picture counts as grey
FEATURE_VERSION = f"orb{ORB_FEATURES}-grid4-mirror-hue{HUE_BINS}-stable3-decode3;opencv={cv2.__version__}"
ORB_EDGE = 15  # pixels: ORB's border, where no keypoint is taken, and its patch size
_orb = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=10, edgeThreshold=ORB_EDGE, patchSize=ORB_EDGE)
_detector = cv2.ORB_create(
    nfeatures=ORB_FEATURES * 5, fastThreshold=10, edgeThreshold=ORB_EDGE, patchSize=ORB_EDGE
)


@dataclass
class Features:
    """Keypoint positions (n, 2) float32, their ORB descriptors (n, 32) uint8, and the picture's colour
    signature (empty when unknown)."""

    xy: np.ndarray
    desc: np.ndarray
    colour: str = ""

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def to_blobs(self) -> tuple[bytes, bytes]:
        return self.xy.astype(np.float16).tobytes(), self.desc.tobytes()

    @classmethod
    def empty(cls) -> Features:
        return cls(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))

    @classmethod
    def from_blobs(cls, xy: bytes, desc: bytes, colour: str | None = "") -> Features:
        d = np.frombuffer(desc, dtype=np.uint8).reshape(-1, 32)
        return cls(np.frombuffer(xy, dtype=np.float16).astype(np.float32).reshape(-1, 2), d, colour or "")


def orb(im: Image.Image, parts: Sequence[tuple[int, int, int, int]] = ()) -> Features:
    """ORB keypoints and descriptors of a decoded picture (grey levels), spread over the picture, and of
    each of ``parts`` (boxes: collage tiles, the photo on a screenshot) at the size of a photo of its own.

    The strongest corners of a photo with a text watermark or a caption are all on the letters; keeping
    at most an equal share per cell of a 4x4 grid leaves features on the object too. A tile a quarter of
    the picture's size gets a quarter of its features, too few to verify it, hence the parts.
    """
    whole = orb_of_grey(np.asarray(im.convert("L")))
    if not parts:
        return whole
    pieces = [whole]
    for left, top, right, bottom in parts:
        tile = im.crop((left, top, right, bottom))
        scale = min(PART_ZOOM, PART_SIDE / max(tile.size))
        if scale > 1:
            tile = tile.resize(
                (round(tile.width * scale), round(tile.height * scale)), Image.Resampling.BILINEAR
            )
        f = orb_of_grey(np.asarray(tile.convert("L")))
        sx, sy = (right - left) / tile.width, (bottom - top) / tile.height
        pieces.append(Features(f.xy * np.float32([sx, sy]) + np.float32([left, top]), f.desc))
    return Features(np.concatenate([p.xy for p in pieces]), np.concatenate([p.desc for p in pieces]))


def orb_of_grey(grey: np.ndarray) -> Features:
    """ORB keypoints and descriptors of a grey picture, spread over a 4x4 grid; none for a picture
    thinner than ORB's two borders (a banner or separator strip), where OpenCV's pyramid fails."""
    if min(grey.shape[:2]) <= 2 * ORB_EDGE:
        return Features.empty()
    candidates = _detector.detect(grey, None)
    if not candidates:
        return Features.empty()
    keypoints = _spread(candidates, grey.shape[1], grey.shape[0])
    keypoints, desc = _orb.compute(grey, keypoints)
    if desc is None or not keypoints:
        return Features.empty()
    return Features(np.array([k.pt for k in keypoints], dtype=np.float32), desc)


def _spread(keypoints: list, width: int, height: int, grid: int = 4) -> list:
    cells: dict[tuple[int, int], list] = {}
    for k in sorted(keypoints, key=lambda k: -k.response):
        cell = (min(grid - 1, int(k.pt[0] * grid / width)), min(grid - 1, int(k.pt[1] * grid / height)))
        cells.setdefault(cell, []).append(k)
    share = ORB_FEATURES // (grid * grid)
    kept = [k for ks in cells.values() for k in ks[:share]]
    rest = sorted((k for ks in cells.values() for k in ks[share:]), key=lambda k: -k.response)
    return kept + rest[: ORB_FEATURES - len(kept)]


def colour_signature(im: Image.Image) -> str:
    """Hue histogram of the picture's coloured pixels (16 bins, each blurred into its neighbours) and
    the share of coloured pixels, as hex bytes.

    Hue only, so gamma, brightness and saturation changes and white or black padding leave it alone; a
    grey photo (an old catalogue print) has no coloured share and is never filtered on colour.
    """
    factor = max(1, max(im.size) // 64)
    small = (im.reduce(factor) if factor > 1 else im).convert("RGB")
    hsv = np.asarray(small.convert("HSV"), dtype=np.int32).reshape(-1, 3)
    coloured = (hsv[:, 1] > 40) & (hsv[:, 2] > 30)
    hist = np.bincount(hsv[coloured, 0] * HUE_BINS // 256, minlength=HUE_BINS).astype(np.float64)
    hist /= max(1.0, hist.sum())
    hist = (2 * hist + np.roll(hist, 1) + np.roll(hist, -1)) / 4
    return np.round(255 * np.append(hist, coloured.mean())).astype(np.uint8).tobytes().hex()


def colour_similarity(a: str, b: str) -> float:
    """Histogram intersection of the hues of two colour signatures: 1.0 for the same hues, 0.0 for
    disjoint ones, and 1.0 (no evidence either way) when either picture is nearly grey or unknown."""
    if not a or not b:
        return 1.0
    ha = np.frombuffer(bytes.fromhex(a), dtype=np.uint8).astype(np.int32)
    hb = np.frombuffer(bytes.fromhex(b), dtype=np.uint8).astype(np.int32)
    if len(ha) != HUE_BINS + 1 or len(hb) != HUE_BINS + 1 or min(ha[-1], hb[-1]) < MIN_COLOURED:
        return 1.0
    return float(np.minimum(ha[:-1], hb[:-1]).sum()) / max(1, min(ha[:-1].sum(), hb[:-1].sum()))
