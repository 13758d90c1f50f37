"""Local features for geometric verification: ORB keypoints and descriptors, and a colour signature.

ORB (Rublee et al., ICCV 2011; OpenCV's implementation) finds the same object parts in a cropped,
padded, rotated, recompressed or collaged copy of a photo, where a global hash of the whole picture
no longer agrees. The colour signature is a coarse histogram used only as a filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

__all__ = ["FEATURE_VERSION", "Features", "orb", "colour_signature", "colour_similarity"]

ORB_FEATURES = 400
FEATURE_VERSION = f"orb{ORB_FEATURES}-grid4-mirror;opencv={cv2.__version__}"
_orb = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=10, edgeThreshold=15, patchSize=15)
_detector = cv2.ORB_create(nfeatures=ORB_FEATURES * 5, fastThreshold=10, edgeThreshold=15, patchSize=15)


@dataclass
class Features:
    """Keypoint positions (n, 2) float32 and their ORB descriptors (n, 32) uint8."""

    xy: np.ndarray
    desc: np.ndarray

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def to_blobs(self) -> tuple[bytes, bytes]:
        return self.xy.astype(np.float16).tobytes(), self.desc.tobytes()

    @classmethod
    def from_blobs(cls, xy: bytes, desc: bytes) -> Features:
        d = np.frombuffer(desc, dtype=np.uint8).reshape(-1, 32)
        return cls(np.frombuffer(xy, dtype=np.float16).astype(np.float32).reshape(-1, 2), d)


def orb(im: Image.Image) -> Features:
    """ORB keypoints and descriptors of a decoded picture (grey levels), spread over the picture.

    The strongest corners of a photo with a text watermark or a caption are all on the letters; keeping
    at most an equal share per cell of a 4x4 grid leaves features on the object too.
    """
    grey = np.asarray(im.convert("L"))
    candidates = _detector.detect(grey, None)
    if not candidates:
        return _empty()
    keypoints = _spread(candidates, grey.shape[1], grey.shape[0])
    keypoints, desc = _orb.compute(grey, keypoints)
    if desc is None or not keypoints:
        return _empty()
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


def _empty() -> Features:
    return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))


def colour_signature(im: Image.Image) -> str:
    """A 64-bin RGB histogram (4 levels per channel) of the picture, each bin 0-255, as hex."""
    small = im.convert("RGB")
    small = small.reduce(max(1, max(small.size) // 64))
    arr = np.asarray(small, dtype=np.uint8) >> 6
    bins = (arr[..., 0].astype(np.int32) * 16 + arr[..., 1] * 4 + arr[..., 2]).ravel()
    hist = np.bincount(bins, minlength=64).astype(np.float64)
    return np.round(255 * hist / hist.sum()).astype(np.uint8).tobytes().hex()


def colour_similarity(a: str, b: str) -> float:
    """Histogram intersection of two colour signatures: 1.0 for the same colours, 0.0 for disjoint ones."""
    ha = np.frombuffer(bytes.fromhex(a), dtype=np.uint8).astype(np.int32)
    hb = np.frombuffer(bytes.fromhex(b), dtype=np.uint8).astype(np.int32)
    return float(np.minimum(ha, hb).sum()) / max(1, min(ha.sum(), hb.sum()))
