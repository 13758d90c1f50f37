"""Which registry photos show the same picture, so that one copy never masks another.

Real registries hold one photo several times: the same object listed by two agencies, a bulletin
re-reporting last year's object with its photo re-cropped, one photo of two objects filed under both.
Copies identical to the byte are indexed once (``registry_index``); near-identical ones (a re-crop, a
re-encode, a resize) are different photos in the index, and every test that asks "is this match
distinctive?" must not count one such copy against another:

- Lowe's ratio test (Lowe, "Distinctive image features from scale-invariant keypoints", IJCV 2004,
  section 7.1: "if there are multiple training images of the same object, then we define the
  second-closest neighbor as being the closest neighbor that is known to come from a different object
  than the first"), in the descriptor votes;
- the competition between registry objects after geometric verification (``other_inliers``).

Two registry photos are twins when one verifies against the other with at least ``TWIN_INLIERS``
distinct inliers in one similarity transform (``verify``): a 12 % re-crop keeps 53 or more of them
(1st percentile over 80 demo registry photos), different objects drawn in the same house style, pose
and light at most 19 (99th percentile); measured with the script quoted in docs/matching.md.
Asked only for the few pairs a query brings up, and remembered.
"""

from __future__ import annotations

from functools import lru_cache

from ..decide.verify import verify
from ..photo.features import Features

__all__ = ["TWIN_INLIERS", "Twins"]

TWIN_INLIERS = 30  # the inliers that make verified evidence strong (evidence.Thresholds.strong_inliers)


class Twins:
    """``same(a, b)``: do registry photos ``a`` and ``b`` (ids as the index knows them) show the same
    picture? ``features`` is anything with ``get(id) -> Features | None`` (a dict, ``StoredFeatures``)."""

    def __init__(self, features, mirror_features=None, cached: int = 65536):
        self.features = features
        self.mirror_features = mirror_features or {}
        self._pair = lru_cache(maxsize=cached)(self._twins)

    def same(self, a: int, b: int) -> bool:
        """True for the same photo and for twins; the answer for a pair is computed once."""
        if a == b:
            return True
        return self._pair(min(a, b), max(a, b))

    def _twins(self, a: int, b: int) -> bool:
        fa, fb = self.features.get(a), self.features.get(b)
        if fa is None or fb is None:
            return False
        # Either way round: the larger copy keeps keypoints the smaller one lost.
        mirror = self.mirror_features.get(b)
        pairs: list[tuple[Features, Features | None]] = [(fa, fb), (fb, fa), (fa, mirror)]
        return any(ref is not None and verify(q, ref).inliers >= TWIN_INLIERS for q, ref in pairs)
