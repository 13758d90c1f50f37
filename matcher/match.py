"""Match listing photos against the registry and write object-level candidates.

Each listing photo is ranked against the registry (``registry_index.rank_photo``: hash search over every
registry photo variant, descriptor votes, geometric verification); the best evidence over all photos of
a lot, per registry object, decides the candidate's tier. Every distance and inlier count is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlite_utils import Database

from . import hashes, store
from .evidence import Hit, Thresholds, better, score, tier
from .features import FEATURE_VERSION, Features
from .registry_index import RegistryIndex, rank_photo

__all__ = ["MATCHER_VERSION", "match_listings"]

# Changing the matcher, the hashes or the features makes every listing photo due for matching again.
MATCHER_VERSION = f"match-2;{hashes.HASH_VERSION};{FEATURE_VERSION}"


def match_listings(
    db: Database,
    rematch_all: bool = False,
    t: Thresholds | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Match listing photos not yet matched by this matcher against this registry (all of them with
    ``rematch_all``): a registry import or a bank switched on or off makes every stored listing due
    again, so a new record finds the lots that were crawled before it (retro-matching).

    Candidates are keyed by (listing, registry object): re-running converges on the same rows, and a
    candidate that no longer holds keeps its row (and its verdicts) with ``tier`` NULL. Photos whose
    hashes predate the current code are skipped here; ``ingest.refresh`` brings them up to date first.
    """
    t = t or Thresholds()
    index = RegistryIndex.from_db(db)
    version = f"{MATCHER_VERSION};{store.registry_state(db)}"
    where = "1=1" if rematch_all else "COALESCE(li.matched_version, '') != :v"
    listing_ids = [
        r["listing_id"]
        for r in db.query(
            f"SELECT DISTINCT li.listing_id FROM listing_images li WHERE {where} ORDER BY li.listing_id",
            {"v": version},
        )
    ]
    counts = {"listings": len(listing_ids), "registry_variants": len(index), "candidates": 0}
    for n, listing_id in enumerate(listing_ids, start=1):
        counts["candidates"] += _match_listing(db, index, listing_id, t, version)
        if progress:
            progress(n, len(listing_ids))
    return counts


def _match_listing(db: Database, index: RegistryIndex, listing_id: int, t: Thresholds, version: str) -> int:
    best: dict[int, Hit] = {}
    for image_id, views, features in _photos(db, listing_id):
        for hit in rank_photo(index, views, features, t):
            hit.listing_image_id = image_id
            if tier(hit, t) and better(hit, best.get(hit.object_id), t):
                best[hit.object_id] = hit
    with store.atomic(db):
        written = _write_candidates(db, listing_id, best, t)
        db.execute(
            "UPDATE listing_images SET matched_version = ? WHERE listing_id = ?",
            [version, listing_id],
        )
    return written


def _photos(db: Database, listing_id: int) -> list[tuple[int, dict[str, dict], Features | None]]:
    rows = list(
        db.query(
            "SELECT li.id, h.variant, h.pdq, h.phash, h.dhash, h.quality, h.colour, f.xy, f.desc, "
            "f.colour AS photo_colour "
            "FROM listing_images li "
            "JOIN image_hashes h ON h.sha256 = li.sha256 AND h.hash_version = ? "
            "LEFT JOIN image_features f ON f.sha256 = li.sha256 AND f.feature_version = ? "
            "WHERE li.listing_id = ? AND li.error IS NULL AND li.matchable = 1 AND h.variant LIKE '%/r0' "
            "ORDER BY li.id, h.variant",
            [hashes.HASH_VERSION, FEATURE_VERSION, listing_id],
        )
    )
    photos: dict[int, tuple[dict[str, dict], Features | None]] = {}
    for r in rows:
        feats = Features.from_blobs(r["xy"], r["desc"], r["photo_colour"]) if r["desc"] is not None else None
        photos.setdefault(r["id"], ({}, feats))[0][r["variant"]] = r
    return [(i, views, feats) for i, (views, feats) in photos.items()]


def _write_candidates(db: Database, listing_id: int, best: dict[int, Hit], t: Thresholds) -> int:
    store.sync_candidates(
        db,
        listing_id,
        "image",
        {
            obj_id: {
                "tier": tier(hit, t),
                "score": score(hit),
                "pdq_distance": hit.pdq,
                "phash_distance": hit.phash,
                "dhash_distance": hit.dhash,
                "inliers": hit.inliers,
                "variant": f"{hit.view}:{hit.variant}",
                "listing_image_id": hit.listing_image_id,
                "registry_image_id": hit.registry_image_id,
                "evidence_json": json.dumps(hit.evidence(), sort_keys=True),
                "matcher_version": MATCHER_VERSION,
            }
            for obj_id, hit in best.items()
        },
    )
    return len(best)
