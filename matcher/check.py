"""Rank registry objects for arbitrary photos: the ID-Art use case behind ``lootwatch check``."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from .fingerprint import fingerprint
from .match import RegistryIndex, Thresholds, rank_photo, score, tier

__all__ = ["check_photo"]


def check_photo(
    db: Database, index: RegistryIndex, data: bytes, limit: int = 10, t: Thresholds | None = None
) -> list[dict[str, Any]]:
    """Up to ``limit`` registry candidates for one photo, best first. Raises DecodeError for bad bytes."""
    t = t or Thresholds()
    fp = fingerprint(data)
    if not fp.matchable:
        return []
    hits = rank_photo(index, fp.hashes, t)[:limit]
    refs = (
        {
            r["id"]: r
            for r in db.query(
                f"SELECT id, source, source_id, title, status FROM registry_objects WHERE id IN "
                f"({','.join('?' * len(hits))})",
                [h.object_id for h in hits],
            )
        }
        if hits
        else {}
    )
    return [
        {
            "source": refs[h.object_id]["source"],
            "source_id": refs[h.object_id]["source_id"],
            "title": refs[h.object_id]["title"],
            "status": refs[h.object_id]["status"],
            "tier": tier(h, t),
            "score": score(h),
            "evidence": h.evidence(),
        }
        for h in hits
    ]
