"""Relistings and sellers: the same photo offered again, on another site or another day.

Two lots are linked when a photo of one is byte-identical to a photo of the other (same SHA-256) or a
near-identical copy (PDQ within ``NEAR_PDQ`` bits of 256: recompressed or resized, not merely alike). A
photo shared by more than ``MAX_SHARED`` lots is a placeholder or a site's logo, not evidence, and
featureless photos never link. The ``sellers`` view aggregates each seller's lots, candidates, red flags
and relistings.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from sqlite_utils import Database

from ..db import connect
from ..photo import hashes
from .index import HammingIndex

__all__ = ["link_relistings", "NEAR_PDQ", "MAX_SHARED"]

NEAR_PDQ = 10
MAX_SHARED = 25


def link_relistings(db: Database, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Rebuild the ``relistings`` links from every stored lot photo; returns counts."""
    rows = db.execute(
        "SELECT li.listing_id, li.sha256, h.pdq FROM listing_images li "
        "JOIN image_hashes h ON h.sha256 = li.sha256 AND h.variant = 'full/r0' AND h.hash_version = ? "
        "WHERE li.error IS NULL AND li.matchable = 1",
        [hashes.HASH_VERSION],
    ).fetchall()
    lots_of: dict[str, set[int]] = defaultdict(set)
    for listing, sha, _ in rows:
        lots_of[sha].add(listing)
    photos = [(listing, sha, pdq) for listing, sha, pdq in rows if len(lots_of[sha]) <= MAX_SHARED]
    pairs: dict[tuple[int, int], tuple[str, int]] = {}
    for listings in (lots_of[sha] for sha in {p[1] for p in photos}):
        ordered = sorted(listings)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                pairs[(a, b)] = ("same_bytes", 0)
    distinct = sorted({(sha, pdq) for _, sha, pdq in photos})
    if distinct:
        index = HammingIndex([pdq for _, pdq in distinct], 256)
        for n, (sha, pdq) in enumerate(distinct, start=1):
            near = [
                (int(p), int(d)) for p, d in index.search(pdq, radius=NEAR_PDQ) if distinct[int(p)][0] != sha
            ]
            for pos, dist in near:
                for a in lots_of[sha]:
                    for b in lots_of[distinct[pos][0]]:
                        key = (min(a, b), max(a, b))
                        if a != b and key not in pairs:
                            pairs[key] = ("near_copy", dist)
            if progress:
                progress(n, len(distinct))
    with connect.atomic(db):
        db.execute("DELETE FROM relistings")
        db.table("relistings").insert_all(
            (
                {
                    "listing_id": a,
                    "other_listing_id": b,
                    "kind": kind,
                    "pdq_distance": dist,
                    "linked_at": connect.now(),
                }
                for (a, b), (kind, dist) in sorted(pairs.items())
            ),
            batch_size=1000,
        )
    kinds = Counter(kind for kind, _ in pairs.values())
    return {"pairs": len(pairs), "same_bytes": kinds["same_bytes"], "near_copy": kinds["near_copy"]}
