"""Find registry photos that share local features with a query, without comparing it to each of them.

Every registry photo's ORB descriptors go into one FAISS binary index (exact ``IndexBinaryFlat`` for a
small registry, an inverted file ``IndexBinaryIVF`` once there are more than ``EXACT_LIMIT`` descriptors).
A query's descriptors are matched against all of them at once (2 nearest neighbours, Lowe's ratio test)
and each registry photo gets one vote per query keypoint matched to it. The few photos with most votes go
on to geometric verification. This is how a registry photo pasted as one tile of a collage is found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import faiss
import numpy as np

from ..photo.features import Features

__all__ = ["DescriptorIndex", "EXACT_LIMIT", "PER_PHOTO", "spread"]

EXACT_LIMIT = 20_000
# Registry photos' keypoints are stored most repeatable first (``stability``), so 64 of them find edited
# copies about as often as all 400 did, at a sixth of the memory (docs/benchmarks.md).
PER_PHOTO = 64
# Inverted lists searched per descriptor: 16 shortlisted the right photo no more often, at twice the cost.
NPROBE = 8
# Neighbours fetched per query descriptor when copies of one picture may be among them, and the most
# pairs of photos per query that are checked for being such copies.
TWIN_NEIGHBOURS = 16
MAX_TWIN_PAIRS = 32


class DescriptorIndex:
    """ORB descriptors of many photos, searchable together: at most ``per_photo`` of each photo's,
    spread over it, which is what bounds the index's memory (40 bytes a descriptor in FAISS)."""

    def __init__(
        self, photos: Iterable[tuple[int, Features]], ratio: float = 0.85, per_photo: int = PER_PHOTO
    ):
        self.ratio = ratio
        ids: list[int] = []
        parts, owners = [], []
        for image_id, features in photos:
            if len(features):
                desc = features.desc[spread(features.xy, per_photo)]
                parts.append(desc)
                owners.append(np.full(len(desc), len(ids), dtype=np.int64))
                ids.append(image_id)
        self.ids = np.array(ids, dtype=np.int64)  # registry photo id by position
        owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        desc = np.ascontiguousarray(np.concatenate(parts)) if parts else np.zeros((0, 32), np.uint8)
        del parts, owners
        self.index = _build(desc, owner)  # FAISS keeps each descriptor's photo as its id

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Memory held: FAISS codes and ids (32 + 8 bytes a descriptor), photo ids."""
        return self.index.ntotal * (32 + 8) + self.ids.nbytes

    def votes(
        self,
        query: Features | None,
        top: int = 5,
        min_votes: int = 3,
        same: Callable[[int, int], bool] | None = None,
    ) -> list[tuple[int, int]]:
        """``[(photo id, votes)]`` for the ``top`` photos with at least ``min_votes``, most first.

        ``same(a, b)`` says whether two registry photos show the same picture (``twins.Twins``): the
        ratio test then compares a match with the nearest descriptor of a photo that is *not* a copy of
        the first (Lowe 2004, section 7.1), and the match votes for every copy it passed over.
        """
        if query is None or len(query) == 0 or self.index.ntotal < 2:
            return []
        k = min(TWIN_NEIGHBOURS if same is not None else 2, self.index.ntotal)
        dist, nearest = self.index.search(np.ascontiguousarray(query.desc), k)
        keep = (nearest[:, 1] >= 0) & (dist[:, 0] < self.ratio * dist[:, 1])
        counts = Counter(nearest[keep, 0].tolist())
        twins: set[tuple[int, int]] = set()
        if same is not None:
            counts, twins = self._with_twins(counts, dist, nearest, ~keep, same, min_votes)
        ranked = [(n, c) for n, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_votes]
        chosen = {n for n, _ in ranked[:top]}
        # The copies of a chosen picture go on with it, past ``top``: the shortlist must not pick one copy.
        return [
            (int(self.ids[n]), c)
            for i, (n, c) in enumerate(ranked)
            if i < top or any((min(n, m), max(n, m)) in twins for m in chosen)
        ]

    def _with_twins(
        self,
        counts: Counter,
        dist: np.ndarray,
        nearest: np.ndarray,
        failed: np.ndarray,
        same: Callable[[int, int], bool],
        min_votes: int,
    ) -> tuple[Counter, set[tuple[int, int]]]:
        """Add the votes of the descriptors that failed the plain ratio test only because the runner-up
        came from a copy of the same picture (the test is taken again against the first neighbour that
        is no copy), then give each copy the votes of the picture: a descriptor distinctive enough for
        one copy matched them all. Only pairs that at least ``min_votes`` descriptors confuse are asked.
        Returns the votes and the pairs of copies (positions in the index)."""
        near = failed[:, None] & (nearest >= 0) & (dist[:, :1] >= self.ratio * dist)
        pairs = Counter(
            (min(a, b), max(a, b))
            for row, col in zip(*np.nonzero(near[:, 1:]), strict=True)
            if (a := int(nearest[row, 0])) != (b := int(nearest[row, col + 1]))
        )
        twins = {
            pair
            for pair, n in pairs.most_common(MAX_TWIN_PAIRS)
            if n >= min_votes and same(int(self.ids[pair[0]]), int(self.ids[pair[1]]))
        }
        if not twins:
            return counts, twins
        votes = Counter(counts)
        for row in np.flatnonzero(failed):
            first, group, j = int(nearest[row, 0]), {int(nearest[row, 0])}, 1
            while j < nearest.shape[1] and (other := int(nearest[row, j])) >= 0 and other != first:
                if (min(first, other), max(first, other)) not in twins:
                    break
                group.add(other)
                j += 1
            if len(group) > 1 and (j == nearest.shape[1] or dist[row, 0] < self.ratio * dist[row, j]):
                votes.update(group)
        shared = Counter(votes)
        for a, b in twins:
            shared[a] = shared[b] = max(votes[a], votes[b])
        return shared, twins


def spread(xy: np.ndarray, k: int, grid: int = 4) -> np.ndarray:
    """Indices of at most ``k`` keypoints taken in turn from each cell of a grid over them, each cell's
    in their stored order (strongest first), so a crop or a tile of the photo still has its share."""
    n = len(xy)
    if n <= k:
        return np.arange(n)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    cell = np.minimum(grid - 1, ((xy - lo) * grid / np.maximum(hi - lo, 1e-6)).astype(np.int64))
    cell = cell[:, 1] * grid + cell[:, 0]
    order = np.argsort(cell, kind="stable")
    first = np.searchsorted(cell[order], cell[order])  # where each keypoint's cell starts
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - first
    return np.lexsort((np.arange(n), rank))[:k]


def _build(desc: np.ndarray, owner: np.ndarray) -> faiss.IndexBinary:
    n = desc.shape[0]
    if n <= EXACT_LIMIT:
        index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
    else:
        nlist = int(2 * np.sqrt(n))  # FAISS wants about 40 training points per list
        index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, nlist)
        sample = desc[np.random.default_rng(0).choice(n, size=min(n, nlist * 40), replace=False)]
        index.train(sample)
        index.nprobe = NPROBE
    if n:
        index.add_with_ids(desc, owner)
    return index
