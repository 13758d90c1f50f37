"""Match listing photos against the registry and write object-level candidates.

For each listing photo, every view (as published, border trimmed) is searched in the PDQ index of every
registry photo variant (8 rotations/mirror images of each view). The best evidence per registry object
decides the tier. Every distance that led to a candidate is stored with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlite_utils import Database

from . import hashes, store
from .index import HammingIndex, hamming

__all__ = ["MATCHER_VERSION", "Thresholds", "RegistryIndex", "match_listings", "rank_photo"]

MATCHER_VERSION = "match-1"


@dataclass(frozen=True)
class Thresholds:
    """Distance bands for a tier, in PDQ bits (of 256) and pHash bits (of 64).

    Starting points are Meta's (FIELD.md: PDQ match at <= 31, review band up to about 52); the pHash of
    the same variant must agree too, which removes unrelated objects shot in one house style. A rotated
    or mirrored registry variant is one of 7 extra chances to collide per photo, so it needs closer
    hashes; so does a PDQ hash of quality under 50, which PDQ itself calls unreliable.
    docs/matching.md shows the distances these were calibrated on.
    """

    strong_pdq: int = 31
    strong_phash: int = 16
    review_pdq: int = 52
    review_phash: int = 10
    turned_strong_pdq: int = 24
    turned_review_pdq: int = 31
    turned_phash: int = 8
    low_quality_phash: int = 8


@dataclass
class Hit:
    """The best evidence that a listing photo shows one registry object."""

    object_id: int
    registry_image_id: int
    variant: str
    pdq: int
    phash: int
    dhash: int
    quality: int = 100
    listing_image_id: int | None = None
    view: str = "full"

    @property
    def turned(self) -> bool:
        """The registry variant is rotated or mirrored."""
        return not self.variant.endswith("/r0")

    def evidence(self) -> dict:
        return {
            "pdq": self.pdq,
            "phash": self.phash,
            "dhash": self.dhash,
            "variant": self.variant,
            "view": self.view,
            "quality": self.quality,
            "registry_image_id": self.registry_image_id,
            "listing_image_id": self.listing_image_id,
        }


class RegistryIndex:
    """Every matchable registry photo variant, loaded once per process."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        self.pdq = HammingIndex([r["pdq"] for r in rows], 256)
        self.phash = [r["phash"] for r in rows]
        self.dhash = [r["dhash"] for r in rows]

    @classmethod
    def from_db(cls, db: Database) -> RegistryIndex:
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
        return cls(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def search(self, pdq: str, phash: str, dhash: str, quality: int, radius: int) -> dict[int, Hit]:
        """Best hit per registry object within ``radius`` PDQ bits."""
        best: dict[int, Hit] = {}
        if not self.rows:
            return best
        for pos, dist in self.pdq.search(pdq, radius=radius):
            row = self.rows[int(pos)]
            hit = Hit(
                row["object_id"],
                row["registry_image_id"],
                row["variant"],
                int(dist),
                hamming(phash, self.phash[pos]),
                hamming(dhash, self.dhash[pos]),
                min(quality, row["quality"]),
            )
            if _better(hit, best.get(hit.object_id)):
                best[hit.object_id] = hit
        return best


def tier(hit: Hit, t: Thresholds) -> str | None:
    """``strong``, ``review`` or None for one piece of evidence."""
    if hit.quality < hashes.MIN_QUALITY and hit.phash > t.low_quality_phash:
        return None
    if hit.turned:
        if hit.phash > t.turned_phash:
            return None
        return (
            "strong"
            if hit.pdq <= t.turned_strong_pdq
            else "review"
            if hit.pdq <= t.turned_review_pdq
            else None
        )
    if hit.pdq <= t.strong_pdq and hit.phash <= t.strong_phash:
        return "strong"
    if hit.pdq <= t.review_pdq and hit.phash <= t.review_phash:
        return "review"
    return None


def score(hit: Hit) -> float:
    """0-100, higher is more alike: the share of PDQ bits that agree beyond chance (128 of 256)."""
    return round(max(0.0, 100.0 * (128 - hit.pdq) / 128), 1)


def rank_photo(index: RegistryIndex, variants: dict[str, dict], t: Thresholds) -> list[Hit]:
    """Registry objects a photo may show, best first, from its hashed views (``{"full/r0": {...}}``)."""
    best: dict[int, Hit] = {}
    for name, h in variants.items():
        for obj, hit in index.search(h["pdq"], h["phash"], h["dhash"], h["quality"], t.review_pdq).items():
            hit.view = name.split("/")[0]
            if tier(hit, t) and _better(hit, best.get(obj)):
                best[obj] = hit
    return sorted(best.values(), key=lambda x: (*_rank(x), x.object_id))


def match_listings(
    db: Database,
    rematch_all: bool = False,
    t: Thresholds | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Match listing photos not yet matched by this matcher (all of them with ``rematch_all``).

    Candidates are keyed by (listing, registry object): re-running converges on the same rows, and a
    candidate that no longer holds keeps its row (and its verdicts) with ``tier`` NULL.
    """
    t = t or Thresholds()
    index = RegistryIndex.from_db(db)
    where = "1=1" if rematch_all else "COALESCE(li.matched_version, '') != :v"
    listing_ids = [
        r["listing_id"]
        for r in db.query(
            f"SELECT DISTINCT li.listing_id FROM listing_images li WHERE {where} ORDER BY li.listing_id",
            {"v": MATCHER_VERSION},
        )
    ]
    counts = {"listings": len(listing_ids), "registry_variants": len(index), "candidates": 0}
    for n, listing_id in enumerate(listing_ids, start=1):
        counts["candidates"] += _match_listing(db, index, listing_id, t)
        if progress:
            progress(n, len(listing_ids))
    return counts


def _match_listing(db: Database, index: RegistryIndex, listing_id: int, t: Thresholds) -> int:
    photos = list(
        db.query(
            "SELECT li.id, li.sha256, h.variant, h.pdq, h.phash, h.dhash, h.quality FROM listing_images li "
            "JOIN image_hashes h ON h.sha256 = li.sha256 AND h.hash_version = ? "
            "WHERE li.listing_id = ? AND li.error IS NULL AND li.matchable = 1 AND h.variant LIKE '%/r0' "
            "ORDER BY li.id, h.variant",
            [hashes.HASH_VERSION, listing_id],
        )
    )
    by_image: dict[int, dict[str, dict]] = {}
    for p in photos:
        by_image.setdefault(p["id"], {})[p["variant"]] = p
    best: dict[int, Hit] = {}
    for image_id, variants in by_image.items():
        for hit in rank_photo(index, variants, t):
            hit.listing_image_id = image_id
            if _better(hit, best.get(hit.object_id)):
                best[hit.object_id] = hit
    with db.atomic():
        written = _write_candidates(db, listing_id, best, t)
        db.execute(
            "UPDATE listing_images SET matched_version = ? WHERE listing_id = ?",
            [MATCHER_VERSION, listing_id],
        )
    return written


def _write_candidates(db: Database, listing_id: int, best: dict[int, Hit], t: Thresholds) -> int:
    existing = {
        r["registry_object_id"]: r
        for r in db.table("candidates").rows_where("listing_id = ? AND kind = 'image'", [listing_id])
    }
    for obj_id, row in existing.items():
        if obj_id not in best and row["tier"] is not None:
            db.table("candidates").update(row["id"], {"tier": None, "updated_at": store.now()})
    for obj_id, hit in best.items():
        fields = {
            "tier": tier(hit, t),
            "score": score(hit),
            "pdq_distance": hit.pdq,
            "phash_distance": hit.phash,
            "dhash_distance": hit.dhash,
            "variant": f"{hit.view}:{hit.variant}",
            "listing_image_id": hit.listing_image_id,
            "registry_image_id": hit.registry_image_id,
            "evidence_json": json.dumps(hit.evidence(), sort_keys=True),
            "matcher_version": MATCHER_VERSION,
        }
        row = existing.get(obj_id)
        if row is None:
            db.table("candidates").insert(
                {
                    "listing_id": listing_id,
                    "registry_object_id": obj_id,
                    "kind": "image",
                    "created_at": store.now(),
                    "updated_at": store.now(),
                    **fields,
                }
            )
        elif any(row[k] != v for k, v in fields.items()):
            db.table("candidates").update(row["id"], {**fields, "updated_at": store.now()})
    return len(best)


def _better(hit: Hit, other: Hit | None) -> bool:
    # A total order, so equal distances pick the same evidence on every run.
    return other is None or _rank(hit) < _rank(other)


def _rank(hit: Hit) -> tuple:
    return (
        hit.pdq,
        hit.phash,
        hit.dhash,
        hit.view != "full",
        hit.variant,
        hit.registry_image_id,
        hit.listing_image_id or 0,
    )
