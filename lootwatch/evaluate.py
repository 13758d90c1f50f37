"""Score the candidates in a review database against the demo's ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlite_utils import Database

__all__ = ["evaluate"]


def evaluate(db: Database, ground_truth: Path) -> dict[str, Any]:
    """Precision of the image candidates, recall overall and per edit type, counts per tier; the same
    for text candidates and red-flag candidates.

    An image or text candidate is correct when its lot shows that very registry object (a reused
    registry photo, or the dealer's own photo of it). Image recall counts lots that reuse a registry
    photo; text recall counts lots whose text gives the object's name and size.
    """
    truth = json.loads(Path(ground_truth).read_text())
    shows = {(t["site"], t["lot_id"]): (t["source"], t["source_id"]) for t in truth["lots"] if "source" in t}
    expected = {lot: src for lot, src in shows.items() if lot in _of_kind(truth, "registry_edit")}
    edit_of = {(t["site"], t["lot_id"]): t["edit"] for t in truth["lots"] if t["kind"] == "registry_edit"}
    rows = list(
        db.query(
            "SELECT c.tier, l.site, l.lot_id, o.source, o.source_id, c.evidence_json FROM candidates c "
            "JOIN listings l ON l.id = c.listing_id JOIN registry_objects o ON o.id = c.registry_object_id "
            "WHERE c.kind = 'image' AND c.tier IS NOT NULL"
        )
    )
    correct = [r for r in rows if shows.get((r["site"], r["lot_id"])) == (r["source"], r["source_id"])]
    found = {(r["site"], r["lot_id"]) for r in correct} & set(expected)
    by_edit: dict[str, list[int]] = {}
    for lot, edit in edit_of.items():
        by_edit.setdefault(edit, []).append(int(lot in found))
    tiers = {"strong": 0, "review": 0}
    for r in rows:
        tiers[r["tier"]] = tiers.get(r["tier"], 0) + 1
    flag_truth = {(t["site"], t["lot_id"]) for t in truth["lots"] if t.get("flag_text")}
    flagged = {
        (r["site"], r["lot_id"])
        for r in db.query(
            "SELECT l.site, l.lot_id FROM candidates c JOIN listings l ON l.id = c.listing_id "
            "WHERE c.kind = 'flags' AND c.tier IS NOT NULL"
        )
    }
    text_rows = list(
        db.query(
            "SELECT l.site, l.lot_id, o.source, o.source_id FROM candidates c "
            "JOIN listings l ON l.id = c.listing_id JOIN registry_objects o ON o.id = c.registry_object_id "
            "WHERE c.kind = 'text' AND c.tier IS NOT NULL"
        )
    )
    text_right = [
        r for r in text_rows if shows.get((r["site"], r["lot_id"])) == (r["source"], r["source_id"])
    ]
    described = {(t["site"], t["lot_id"]) for t in truth["lots"] if t.get("text_copy")}
    seen = {(r["site"], r["lot_id"]) for r in correct} | {(r["site"], r["lot_id"]) for r in text_right}
    relist_truth = {
        frozenset([(t["site"], t["lot_id"]), tuple(t["relist_of"])])
        for t in truth["lots"]
        if t.get("relist_of")
    }
    linked = {
        frozenset([(r[0], r[1]), (r[2], r[3])])
        for r in db.execute("SELECT site, lot_id, other_site, other_lot_id FROM relisted_lots")
    }
    # Two lots that both reuse the same registry photo do share a photo: a right link, not a relisting.
    photo_of = {
        (t["site"], t["lot_id"]): (t["source_id"], t["registry_photo"])
        for t in truth["lots"]
        if t.get("registry_photo")
    }
    shared = {
        pair
        for pair in linked
        if len({photo_of.get(lot) for lot in pair} - {None}) == 1 and all(lot in photo_of for lot in pair)
    }
    return {
        "relisted_pairs_linked": len(linked),
        "relisting_precision": round(len(linked & (relist_truth | shared)) / len(linked), 4)
        if linked
        else None,
        "relisting_recall": round(len(linked & relist_truth) / len(relist_truth), 4)
        if relist_truth
        else None,
        "candidates_text": len(text_rows),
        "text_precision": round(len(text_right) / len(text_rows), 4) if text_rows else None,
        "described_lots_found": round(len(seen & described) / len(described), 4) if described else None,
        "rephoto_lots_found": _share(seen, _of_kind(truth, "rephoto")),
        **_new_photos(correct, _of_kind(truth, "rephoto")),
        "candidates_flags": len(flagged),
        "flags_precision": round(len(flagged & flag_truth) / len(flagged), 4) if flagged else None,
        "flags_recall": round(len(flagged & flag_truth) / len(flag_truth), 4) if flag_truth else None,
        "candidates_strong": tiers["strong"],
        "candidates_review": tiers["review"],
        "true_candidates": len(correct),
        "false_candidates": len(rows) - len(correct),
        "precision": round(len(correct) / len(rows), 4) if rows else None,
        "recall": round(len(found) / len(expected), 4) if expected else None,
        "recall_by_edit": {e: round(sum(v) / len(v), 4) for e, v in sorted(by_edit.items())},
        "lots_by_edit": {e: len(v) for e, v in sorted(by_edit.items())},
    }


def _new_photos(correct: list[dict], rephoto: set[tuple[str, str]]) -> dict[str, int]:
    """How many lots showing a new photo of a registry object (no copy of a registry photo) have an image
    candidate for it, and how many of those the learned embedding alone raised (no hash tier, fewer
    points than verification needs)."""
    from matcher.decide.evidence import Thresholds, by_embedding, hash_tier
    from reports.worklist import evidence_hit

    t = Thresholds()
    found: set[tuple[str, str]] = set()
    alone: set[tuple[str, str]] = set()
    for r in correct:
        lot = (r["site"], r["lot_id"])
        if lot not in rephoto:
            continue
        found.add(lot)
        hit = evidence_hit(r, json.loads(r["evidence_json"] or "{}"))
        if hit and not hash_tier(hit, t) and (hit.inliers or 0) < t.min_inliers and by_embedding(hit, t):
            alone.add(lot)
    return {
        "rephoto_lots": len(rephoto),
        "rephoto_found_by_photo": len(found),
        "rephoto_found_by_embedding": len(alone),
    }


def _of_kind(truth: dict, kind: str) -> set[tuple[str, str]]:
    return {(t["site"], t["lot_id"]) for t in truth["lots"] if t["kind"] == kind}


def _share(found: set, wanted: set) -> float | None:
    return round(len(found & wanted) / len(wanted), 4) if wanted else None
