"""Everything known about the registry's photos, in memory, and the search of one photo against it.

Built once per process from the database: the PDQ hashes of every registry photo variant (exact Hamming
search, ``index.HammingIndex``) and the ORB descriptors of every registry photo (``DescriptorIndex``).
``rank_photo`` takes one photo's hashes and features to ranked, verified evidence per registry object.
"""

from __future__ import annotations

from collections import defaultdict

from sqlite_utils import Database

from . import hashes
from .descindex import DescriptorIndex
from .evidence import Hit, Thresholds, better, rank_key
from .features import FEATURE_VERSION, Features
from .index import HammingIndex, hamming
from .verify import verify

__all__ = ["RegistryIndex", "rank_photo", "HASH_SHORTLIST", "VOTE_SHORTLIST"]

HASH_SHORTLIST = 5  # registry photos closest by PDQ that go on to verification
VOTE_SHORTLIST = 5  # registry photos with most shared descriptors that go on to verification
SEARCH_RADIUS = 90  # PDQ bits: beyond this a hash says nothing


class RegistryIndex:
    """Hashes and local features of every matchable registry photo."""

    def __init__(self, rows: list[dict], features: dict[int, Features]):
        self.rows = rows
        self.pdq = HammingIndex([r["pdq"] for r in rows], 256)
        self.image_rows: dict[int, list[int]] = defaultdict(list)
        self.object_of: dict[int, int] = {}
        for pos, r in enumerate(rows):
            self.image_rows[r["registry_image_id"]].append(pos)
            self.object_of[r["registry_image_id"]] = r["object_id"]
        self.features = features
        self.descriptors = DescriptorIndex(features)

    @classmethod
    def from_db(cls, db: Database) -> RegistryIndex:
        """Load every matchable registry photo (withdrawn records excluded)."""
        rows = list(
            db.query(
                """
            SELECT h.pdq, h.phash, h.dhash, h.variant, h.quality, ri.id AS registry_image_id, ri.object_id
            FROM image_hashes h
            JOIN registry_images ri ON ri.sha256 = h.sha256
            JOIN registry_objects o ON o.id = ri.object_id
            WHERE ri.error IS NULL AND ri.matchable = 1 AND h.hash_version = ?
              AND COALESCE(o.status, '') NOT IN ('withdrawn')
            ORDER BY ri.id, h.variant
            """,
                [hashes.HASH_VERSION],
            )
        )
        ids = {r["registry_image_id"] for r in rows}
        features = {}
        for r in db.query(
            "SELECT ri.id, f.xy, f.desc FROM registry_images ri "
            "JOIN image_features f ON f.sha256 = ri.sha256 "
            "WHERE f.feature_version = ? ORDER BY ri.id",
            [FEATURE_VERSION],
        ):
            if r["id"] in set(ids):
                features[r["id"]] = Features.from_blobs(r["xy"], r["desc"])
        return cls(rows, features)

    def __len__(self) -> int:
        return len(self.rows)

    def hit(self, registry_image_id: int, views: dict[str, dict]) -> Hit:
        """Hash distances between a photo's views and one registry photo's closest variant."""
        best: Hit | None = None
        for name, h in views.items():
            for pos in self.image_rows[registry_image_id]:
                row = self.rows[pos]
                cand = Hit(
                    row["object_id"],
                    registry_image_id,
                    row["variant"],
                    hamming(h["pdq"], row["pdq"]),
                    hamming(h["phash"], row["phash"]),
                    hamming(h["dhash"], row["dhash"]),
                    min(h["quality"], row["quality"]),
                    name.split("/")[0],
                )
                if best is None or (cand.pdq, cand.phash, cand.variant) < (
                    best.pdq,
                    best.phash,
                    best.variant,
                ):
                    best = cand
        return best

    def shortlist(self, views: dict[str, dict], limit: int) -> list[int]:
        """Registry photos whose variants come closest to any view, by PDQ, at most ``limit``."""
        closest: dict[int, int] = {}
        for h in views.values():
            for pos, dist in self.pdq.search(h["pdq"], radius=SEARCH_RADIUS):
                image = self.rows[int(pos)]["registry_image_id"]
                if image not in closest or dist < closest[image]:
                    closest[image] = int(dist)
        return sorted(closest, key=lambda i: (closest[i], i))[:limit]


def rank_photo(
    index: RegistryIndex, views: dict[str, dict], features: Features | None, t: Thresholds
) -> list[Hit]:
    """The best evidence per registry object for one photo, best first (including hits with no tier)."""
    if not index.rows:
        return []
    images = set(index.shortlist(views, HASH_SHORTLIST))
    votes = dict(index.descriptors.votes(features, top=VOTE_SHORTLIST)) if features is not None else {}
    images |= set(votes)
    hits = [index.hit(i, views) for i in sorted(images) if index.image_rows.get(i)]
    for h in hits:
        h.votes = votes.get(h.registry_image_id, 0)
        ref = index.features.get(h.registry_image_id)
        if features is not None and ref is not None:
            h.inliers, h.overlap = verify(features, ref)
    for h in hits:
        h.other_inliers = max((o.inliers or 0 for o in hits if o.object_id != h.object_id), default=0)
    best: dict[int, Hit] = {}
    for h in hits:
        if better(h, best.get(h.object_id), t):
            best[h.object_id] = h
    return sorted(best.values(), key=lambda h: (*rank_key(h, t), h.object_id))
