"""Red-flag reasons as a reader sees them: what raises the risk apart from what lowers it.

A reason with a negative weight (an export licence, a PAS record, a sale before 1970) lowers the risk;
shown under "Red flag" it would read as the opposite. Reasons of weight 0 are not shown, except notices
(text that was not screened), which say what the score could not see.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["split_reasons", "reasons_from_json", "summary"]


def reasons_from_json(value: Any) -> list[dict]:
    """The reasons stored as JSON (``reasons_json``, ``flag_reasons``); [] for anything that is not a
    list of objects, so a damaged row shows no reasons rather than failing the page."""
    if not isinstance(value, str | bytes) or not value:
        return []
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def split_reasons(reasons: list[dict]) -> dict[str, list[dict]]:
    """``{"red_flags": [...], "lowering": [...], "notes": [...]}``: positive weights, negative weights,
    and notices of weight 0, each in the order given."""
    out: dict[str, list[dict]] = {"red_flags": [], "lowering": [], "notes": []}
    for r in reasons:
        weight = _weight(r)
        if weight > 0:
            out["red_flags"].append(r)
        elif weight < 0:
            out["lowering"].append(r)
        elif r.get("family") == "notice":
            out["notes"].append(r)
    return out


def summary(reasons: list[dict], score: int | None) -> str:
    """One plain line on the text's risk that never reads "risk 0/100" alone: "Red flags in the text
    (risk 72/100)", "Red flags in the text, outweighed by what lowers the risk (risk 0/100)", or
    "No red flag in the text; 2 reasons lower the risk"."""
    parts = split_reasons(reasons)
    flags, lowering = len(parts["red_flags"]), len(parts["lowering"])
    if flags and lowering and not score:
        return f"Red flags in the text, outweighed by what lowers the risk (risk {score or 0}/100)"
    if flags:
        return f"Red flags in the text (risk {score or 0}/100)"
    if lowering:
        says = "1 reason lowers" if lowering == 1 else f"{lowering} reasons lower"
        return f"No red flag in the text; {says} the risk"
    return "No red flag in the text"


def _weight(reason: dict) -> int:
    try:
        return int(reason.get("weight") or 0)
    except (TypeError, ValueError):
        return 0
