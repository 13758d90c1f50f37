"""Score the candidates in a review database against the demo's ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlite_utils import Database

__all__ = ["evaluate"]


def evaluate(db: Database, ground_truth: Path) -> dict[str, Any]:
    """Precision of the image candidates, recall overall and per edit type, counts per tier.

    A candidate is correct when its lot reuses a photo of that very registry object.
    """
    truth = json.loads(Path(ground_truth).read_text())
    expected = {
        (t["site"], t["lot_id"]): (t["source"], t["source_id"])
        for t in truth["lots"]
        if t["kind"] == "registry_edit"
    }
    edit_of = {(t["site"], t["lot_id"]): t["edit"] for t in truth["lots"] if t["kind"] == "registry_edit"}
    rows = list(
        db.query(
            "SELECT c.tier, l.site, l.lot_id, o.source, o.source_id FROM candidates c "
            "JOIN listings l ON l.id = c.listing_id JOIN registry_objects o ON o.id = c.registry_object_id "
            "WHERE c.kind = 'image' AND c.tier IS NOT NULL"
        )
    )
    correct = [r for r in rows if expected.get((r["site"], r["lot_id"])) == (r["source"], r["source_id"])]
    found = {(r["site"], r["lot_id"]) for r in correct}
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
    return {
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
