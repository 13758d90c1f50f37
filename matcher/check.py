"""Rank registry objects for arbitrary photos: the ID-Art use case behind ``lootwatch check``."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from .evidence import Thresholds, score, tier
from .fingerprint import fingerprint
from .registry_index import RegistryIndex, rank_photo

__all__ = ["check_photo"]


def check_photo(
    db: Database, index: RegistryIndex, data: bytes, limit: int = 10, t: Thresholds | None = None
) -> list[dict[str, Any]]:
    """Up to ``limit`` registry candidates for one photo, best first. Raises DecodeError for bad bytes."""
    t = t or Thresholds()
    fp = fingerprint(data, thumbnail=False)
    if not fp.matchable:
        return []
    hits = [h for h in rank_photo(index, fp.hashes, fp.features, t, embeddings=fp.embeddings) if tier(h, t)]
    hits = hits[:limit]
    if not hits:
        return []
    wanted = {h.object_id for h in hits} | {o for h in hits for o in h.shared}
    marks = ",".join("?" * len(wanted))
    refs = {
        r["id"]: r
        for r in db.query(
            f"SELECT id, source, source_id, title, status FROM registry_objects WHERE id IN ({marks})",
            sorted(wanted),
        )
    }
    return [
        {
            "source": refs[h.object_id]["source"],
            "source_id": refs[h.object_id]["source_id"],
            "title": refs[h.object_id]["title"],
            "status": refs[h.object_id]["status"],
            "tier": tier(h, t),
            "score": score(h),
            # Other records holding this same photo (or a re-crop or re-encode of it), as source:source_id.
            "same_photo_as": [f"{refs[o]['source']}:{refs[o]['source_id']}" for o in h.shared if o in refs],
            "evidence": h.evidence(),
        }
        for h in hits
    ]
