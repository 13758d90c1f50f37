"""Order a registry photo's ORB keypoints by how reliably ORB finds them again in an edited copy.

The vote index keeps only a share of each registry photo's descriptors, which is what bounds its memory.
Taken by detector response alone, many of them sit on fine texture that a downscale, a blur or a few
degrees of rotation wash away. Each registry photo is therefore edited a few known ways; a keypoint
counts as found again where the edited copy has a keypoint at its mapped position with a similar
descriptor, and scores more the closer that descriptor is. The most repeatable keypoints come first
(then by response), so a spread share taken in stored order is made of the ones a reused copy still
shares.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from .features import Features, orb_of_grey

__all__ = ["EDITS", "repeatability", "stable_first"]

RADIUS = 4.0  # pixels, in the original photo, between a keypoint and where it is found again
MAX_HAMMING = 64  # of 256 bits: ORB descriptors of one corner under such edits differ by less

Edit = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # grey -> (edited grey, 3x3 map to it)


def _half(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = grey.shape
    small = cv2.resize(grey, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    return small, np.diag([small.shape[1] / w, small.shape[0] / h, 1.0])


def _turned(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 6.0, 0.85)
    return cv2.warpAffine(grey, m, (w, h), borderMode=cv2.BORDER_REPLICATE), np.vstack([m, [0, 0, 1]])


def _rephotographed(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = grey.shape
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    shift = np.float32([[0.06, 0.03], [-0.03, 0.05], [-0.05, -0.02], [0.04, -0.06]])
    moved = corners + shift * np.float32([w, h])
    m = cv2.getPerspectiveTransform(corners, moved)
    warped = cv2.warpPerspective(grey, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(warped, (0, 0), 1.2), m


EDITS: list[Edit] = [_half, _turned, _rephotographed]


def repeatability(grey: np.ndarray, features: Features) -> np.ndarray:
    """For each keypoint, summed over ``EDITS``: how many of ``MAX_HAMMING`` bits its descriptor kept
    where the edited copy shows it again (0 where it does not)."""
    score = np.zeros(len(features), np.int32)
    if not len(features):
        return score
    words = features.desc.view(np.uint64)
    for edit in EDITS:
        edited, m = edit(grey)
        found = orb_of_grey(edited)
        if not len(found):
            continue
        mapped = cv2.perspectiveTransform(features.xy.reshape(-1, 1, 2), m).reshape(-1, 2)
        scale = float(np.sqrt(abs(np.linalg.det(m[:2, :2]))))
        far = ((mapped[:, None, :] - found.xy[None, :, :]) ** 2).sum(axis=2) > (RADIUS * scale) ** 2
        xor = words[:, None, :] ^ found.desc.view(np.uint64)[None, :, :]
        bits = np.bitwise_count(xor).sum(axis=2, dtype=np.int32)
        bits[far] = MAX_HAMMING
        score += MAX_HAMMING - np.minimum(bits.min(axis=1), MAX_HAMMING)
    return score


def stable_first(grey: np.ndarray, features: Features) -> Features:
    """``features`` reordered: most repeatable first, stored (strongest-first) order among equals."""
    order = np.lexsort((np.arange(len(features)), -repeatability(grey, features)))
    return Features(features.xy[order], features.desc[order], features.colour)
