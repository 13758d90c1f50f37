"""Rank registry objects for arbitrary photos: the ID-Art use case behind ``lootwatch check``.

A photo goes through each package once: ``photo`` (its signals), ``search`` (what the registry holds
near them), ``decide`` (what that evidence is worth)."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from .decide.evidence import Hit, Thresholds, score, tier
from .decide.rank import rank
from .photo.fingerprint import fingerprint
from .search.embindex import FLOOR
from .search.registry_index import RegistryIndex, find

__all__ = ["check_photo", "LIKENESS"]

LIKENESS = 5  # records listed as most alike by the embedding alone: the photos it sends to verification


def check_photo(
    db: Database,
    index: RegistryIndex,
    data: bytes,
    limit: int = 10,
    t: Thresholds | None = None,
    likeness: int = LIKENESS,
) -> dict[str, list[dict[str, Any]]]:
    """What one photo may show, from the registry: ``{"candidates": [...], "likeness": [...]}``.

    ``candidates``: up to ``limit`` registry objects whose evidence earns a tier (``strong`` or
    ``review``), best first. ``likeness``: up to ``likeness`` other objects the learned embedding alone
    finds most alike (cosine at least ``embindex.FLOOR``, most alike first), with ``tier`` "likeness".
    They are not candidates: a shortlist for a person to compare, as ID-Art shows one, since a new photo
    of an object can be found this way in a registry too small for the embedding's own tier
    (``evidence.embed_margin``). Each entry carries the record's source, source_id, title and status,
    its score (0-100), the other records holding the same photo, and the evidence numbers.
    Raises DecodeError for bad bytes.
    """
    t = t or Thresholds()
    fp = fingerprint(data, thumbnail=False)
    if not fp.matchable:
        return {"candidates": [], "likeness": []}
    # The photo's signals, what the registry's searches find for them, then what that evidence is worth.
    found = find(index, fp.hashes, fp.features, embeddings=fp.embeddings)
    ranked = rank(index, found, fp.hashes, fp.features, t)
    hits = [h for h in ranked if tier(h, t)][:limit]
    listed = {h.object_id for h in hits}
    alike = sorted(
        (h for h in ranked if h.object_id not in listed and h.cosine is not None and h.cosine >= FLOOR),
        key=lambda h: (-h.cosine, h.object_id),
    )[:likeness]
    return {
        "candidates": _described(db, hits, [tier(h, t) for h in hits]),
        "likeness": _described(db, alike, ["likeness"] * len(alike)),
    }


def _described(db: Database, hits: list[Hit], tiers: list[str | None]) -> list[dict[str, Any]]:
    """Each hit with its registry record's names, in order."""
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
            "tier": tier_,
            "score": score(h),
            # Other records holding this same photo (or a re-crop or re-encode of it), as source:source_id.
            "same_photo_as": [f"{refs[o]['source']}:{refs[o]['source_id']}" for o in h.shared if o in refs],
            "evidence": h.evidence(),
        }
        for h, tier_ in zip(hits, tiers, strict=True)
    ]
