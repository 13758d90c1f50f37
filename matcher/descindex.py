"""Find registry photos that share local features with a query, without comparing it to each of them.

Every registry photo's ORB descriptors go into one FAISS binary index (exact ``IndexBinaryFlat`` for a
small registry, an inverted file ``IndexBinaryIVF`` once there are more than ``EXACT_LIMIT`` descriptors).
A query's descriptors are matched against all of them at once (2 nearest neighbours, Lowe's ratio test)
and each registry photo gets one vote per query keypoint matched to it. The few photos with most votes go
on to geometric verification. This is how a registry photo pasted as one tile of a collage is found.
"""

from __future__ import annotations

from collections import Counter

import faiss
import numpy as np

from .features import Features

__all__ = ["DescriptorIndex", "EXACT_LIMIT"]

EXACT_LIMIT = 20_000
NPROBE = 16


class DescriptorIndex:
    """ORB descriptors of many photos, searchable together."""

    def __init__(self, photos: dict[int, Features], ratio: float = 0.8):
        self.ratio = ratio
        self.ids = [i for i in photos if len(photos[i])]
        parts = [photos[i].desc for i in self.ids]
        self._owner = (
            np.concatenate([np.full(len(photos[i]), n, dtype=np.int32) for n, i in enumerate(self.ids)])
            if parts
            else np.zeros(0, np.int32)
        )
        desc = np.ascontiguousarray(np.concatenate(parts)) if parts else np.zeros((0, 32), np.uint8)
        self.index = _build(desc)

    def __len__(self) -> int:
        return len(self.ids)

    def votes(self, query: Features | None, top: int = 5, min_votes: int = 4) -> list[tuple[int, int]]:
        """``[(photo id, votes)]`` for the ``top`` photos with at least ``min_votes``, most first."""
        if query is None or len(query) == 0 or self.index.ntotal < 2:
            return []
        dist, nearest = self.index.search(np.ascontiguousarray(query.desc), 2)
        keep = (nearest[:, 1] >= 0) & (dist[:, 0] < self.ratio * dist[:, 1])
        counts = Counter(self._owner[nearest[keep, 0]].tolist())
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        return [(self.ids[n], c) for n, c in ranked if c >= min_votes]


def _build(desc: np.ndarray) -> faiss.IndexBinary:
    n = desc.shape[0]
    if n <= EXACT_LIMIT:
        index = faiss.IndexBinaryFlat(256)
    else:
        nlist = int(2 * np.sqrt(n))  # FAISS wants about 40 training points per list
        index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, nlist)
        sample = desc[np.random.default_rng(0).choice(n, size=min(n, nlist * 40), replace=False)]
        index.train(sample)
        index.nprobe = NPROBE
    if n:
        index.add(desc)
    return index
