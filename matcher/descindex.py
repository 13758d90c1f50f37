"""Find registry photos that share local features with a query, without comparing it to each of them.

Every registry photo's ORB descriptors are held in one array; a query's descriptors are matched against
all of them at once (OpenCV brute-force Hamming k-NN with Lowe's ratio test) and each registry photo
gets one vote per distinct query keypoint matched to it. The few photos with most votes go on to
geometric verification. This is how a registry photo pasted as one tile of a collage is found.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

from .features import Features

__all__ = ["DescriptorIndex"]


class DescriptorIndex:
    """ORB descriptors of many photos, searchable together."""

    def __init__(self, photos: dict[int, Features], ratio: float = 0.8):
        self.ratio = ratio
        self.ids = list(photos)
        self.features = photos
        parts = [photos[i].desc for i in self.ids if len(photos[i])]
        owners = [
            np.full(len(photos[i]), n, dtype=np.int32) for n, i in enumerate(self.ids) if len(photos[i])
        ]
        self._desc = np.concatenate(parts) if parts else np.zeros((0, 32), np.uint8)
        self._owner = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def __len__(self) -> int:
        return len(self.ids)

    def votes(self, query: Features, top: int = 5, min_votes: int = 4) -> list[tuple[int, int]]:
        """``[(photo id, votes)]`` for the ``top`` photos with at least ``min_votes``, most first."""
        if len(query) == 0 or self._desc.shape[0] < 2:
            return []
        counts: Counter[int] = Counter()
        for pair in self._matcher.knnMatch(query.desc, self._desc, k=2):
            if len(pair) == 2 and pair[0].distance < self.ratio * pair[1].distance:
                counts[int(self._owner[pair[0].trainIdx])] += 1
        return [(self.ids[n], c) for n, c in counts.most_common(top) if c >= min_votes]
