"""Screen every listing's text for red flags and keep the result with the listing and its candidates.

A listing at or above the review threshold becomes a candidate of kind ``flags`` (with no registry
object) even without an image match; the reasons are also written onto the listing's image candidates,
so the review UI and the digest show them beside the photos.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlite_utils import Database

from ..db import connect
from .flags import REVIEW_THRESHOLD, FlagEngine, default_engine

__all__ = ["screen_listings"]


def screen_listings(
    db: Database,
    engine: FlagEngine | None = None,
    rescreen_all: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Screen listings whose text or whose vocabularies changed since they were last screened."""
    engine = engine or default_engine()
    rows = list(
        db.query("SELECT id, title, description, provenance, content_sha256, flag_version FROM listings")
    )
    todo = [r for r in rows if rescreen_all or r["flag_version"] != f"{engine.version}:{r['content_sha256']}"]
    counts = {"screened": len(todo), "flagged": 0}
    for n, r in enumerate(todo, start=1):
        result = engine.screen(r["title"], r["description"], r["provenance"])
        reasons = json.dumps([x.as_dict() for x in result.reasons], ensure_ascii=False)
        with connect.atomic(db):
            db.table("listings").update(
                r["id"],
                {
                    "flag_score": result.score,
                    "flag_reasons_json": reasons,
                    "flag_version": f"{engine.version}:{r['content_sha256']}",
                },
            )
            _flag_candidate(db, r["id"], result.score, reasons)
            db.execute(
                "UPDATE candidates SET reasons_json = ? WHERE listing_id = ? AND kind = 'image' "
                "AND COALESCE(reasons_json, '') != ?",
                [reasons, r["id"], reasons],
            )
        counts["flagged"] += int(result.score >= REVIEW_THRESHOLD)
        if progress:
            progress(n, len(todo))
    return counts


def _flag_candidate(db: Database, listing_id: int, score: int, reasons: str) -> None:
    existing = next(
        db.table("candidates").rows_where("listing_id = ? AND kind = 'flags'", [listing_id]), None
    )
    tier = "review" if score >= REVIEW_THRESHOLD else None
    fields = {"tier": tier, "score": float(score), "reasons_json": reasons}
    if existing is None:
        if tier:
            db.table("candidates").insert(
                {
                    "listing_id": listing_id,
                    "registry_object_id": None,
                    "kind": "flags",
                    "created_at": connect.now(),
                    "updated_at": connect.now(),
                    **fields,
                }
            )
    elif any(existing[k] != v for k, v in fields.items()):
        db.table("candidates").update(existing["id"], {**fields, "updated_at": connect.now()})
