"""The analyst's worklist: the home page of the review UI, one row per candidate in plain words.

``/`` and ``/-/lootwatch/worklist`` list the candidates still to decide, soonest sale first (unknown
dates last), then strong before review, then by score; filters (query parameters) show decided,
escalated or all candidates, the signed-in reviewer's own, one site, one bank (registry source), one
red-flag family or one kind (photo, text, red flags, or the photo candidates the learned embedding alone
raised, ``by_likeness``). Pages hold ``PER_PAGE`` rows.

A candidate is *decided* when its latest confirm or dismiss verdict is the latest decision, *escalated*
when that is an escalate, *undecided* while it has none (notes decide nothing).

``why_line`` says in one sentence why a candidate was raised, from its evidence: the same photo (turned,
mirrored, set inside a larger picture, cropped by about N %), a very similar photo (the hashes match, but
only on a trimmed or partial view and not near-exactly), or matching points in the same arrangement, or the
text, then the red flags in the seller's words and, said as such, what lowers the risk. A crop or a turn
read from the matching points is said only when the fit is trustworthy (``photo_facts``).
``worklist_json`` answers the worklist's rows as JSON, with the same filters, order and paging.
Candidate links carry the worklist's query (``from``, checked by ``worklist_query``) so the candidate
page leads back to the same filtered page and on to the next undecided candidate under the same filters.
``match_geometry`` recomputes where the matching points lie on both photos from the stored local features,
for the outline of the matched region, the crop and the points shown on request, with the matcher's own
verification (``matcher.decide.verify.verify``): points it rejects are never shown.
``thumbnail``, ``original`` and ``large`` serve a photo by its SHA-256 to whoever may view the review
queue: the stored thumbnail, the original bytes, or the original drawn at up to ``LARGE_SIDE`` pixels for
the candidate page's side-by-side view.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from datasette.utils.asgi import NotFound, Response

from matcher.decide.evidence import Hit, Thresholds, by_embedding, hash_tier

from .digest import safe_url
from .reasons import reasons_from_json, split_reasons

__all__ = [
    "why_line",
    "similarity_words",
    "similarity_margin",
    "by_likeness",
    "likeness_line",
    "likeness_sql",
    "evidence_hit",
    "any_angle",
    "photo_facts",
    "worklist_json",
    "worklist_query",
    "filters_of",
    "family_label",
    "variant_words",
    "sizes_differ",
    "size_words",
    "match_geometry",
    "worklist_page",
    "home_page",
    "remember_next",
    "thumbnail",
    "original",
    "original_file",
    "large",
    "large_jpeg",
    "next_undecided",
    "record_name",
    "safe_next",
    "here",
    "json_object",
]

PER_PAGE = 50
STATUSES = {
    "undecided": "still to decide",
    "decided": "confirmed or dismissed",
    "escalated": "escalated",
    "all": "all",
}
HEADINGS = {
    "undecided": "Candidates still to decide",
    "decided": "Confirmed or dismissed candidates",
    "escalated": "Escalated candidates",
    "all": "All candidates",
}
# Red-flag families (seeds/flags/*.yaml, matcher/text/flags.py) in plain words; the filter keeps the values.
FAMILIES = {
    "origin": "origin in a country at risk",
    "category": "a kind of object on a Red List",
    "date": "a date after a cut-off",
    "digging": "signs of recent digging",
    "documents": "no papers",
    "provenance": "a vague provenance",
    "unverified": "nothing that can be checked",
    "claims": "assurances that are not evidence",
}
KINDS = {
    "image": "photo matches",
    "likeness": "found by likeness (learned embedding) alone",
    "text": "text matches",
    "flags": "red flags only",
}
# A kind the candidates table does not hold: photo candidates the learned embedding alone raised.
LIKENESS_SQL = (
    "lootwatch_likeness(w.kind, w.evidence_json, w.variant, w.pdq_distance, w.phash_distance, "
    "w.dhash_distance, w.inliers)"
)
NEXT_COOKIE = "lootwatch_next"
TURNS = {
    "r0": "",
    "r90": "turned 90° to the left",
    "r180": "turned upside down",
    "r270": "turned 90° to the right",
    "m0": "mirrored",
    "m90": "mirrored and turned 90°",
    "m180": "mirrored top to bottom",
    "m270": "mirrored and turned 90°",
}
MAX_WORDS = 5  # red flags quoted in one line; the candidate page shows them all
# A crop or a turn read from the matching points is said when the hashes matched too, or when at least this
# many points agree (the matcher's bound for a strong match from points alone): in the demo, unrelated
# photos fit 11 and 21 points, and every real match the hashes missed fits 23 or more, those with a crop 71
# or more.
TRUSTED_POINTS = Thresholds().strong_inliers
PLAIN_CHARS = 110  # a rule's explanation in a why line, cut at a word beyond this

# The latest decision (not a note) of each candidate, and who made it.
_DECISION = (
    "(SELECT {col} FROM reviews r WHERE r.candidate_id = c.id AND r.verdict != 'note' "
    "ORDER BY r.id DESC LIMIT 1)"
)
ROWS_SQL = f"""
SELECT c.id, c.listing_id, c.kind, c.tier, c.score, c.variant,
       c.pdq_distance, c.phash_distance, c.dhash_distance, c.inliers,
       c.evidence_json, c.reasons_json, c.text_json,
       l.title, l.site, l.house, l.seller, l.sale_date, l.url AS listing_url,
       o.source, o.source_id, o.title AS registry_title,
       li.sha256 AS listing_sha256, ri.sha256 AS registry_sha256,
       {_DECISION.format(col="verdict")} AS decision,
       {_DECISION.format(col="reviewer")} AS decided_by,
       (SELECT count(*) FROM reviews n WHERE n.candidate_id = c.id AND n.verdict = 'note') AS notes
FROM candidates c
JOIN listings l ON l.id = c.listing_id
LEFT JOIN registry_objects o ON o.id = c.registry_object_id
LEFT JOIN listing_images li ON li.id = COALESCE(c.listing_image_id,
    (SELECT id FROM listing_images WHERE listing_id = l.id AND error IS NULL ORDER BY position LIMIT 1))
LEFT JOIN registry_images ri ON ri.id = COALESCE(c.registry_image_id,
    (SELECT id FROM registry_images WHERE object_id = o.id AND error IS NULL ORDER BY position LIMIT 1))
WHERE c.tier IS NOT NULL
"""
# A lot's candidates (several records, or a record and its red flags) stay together, placed by the lot's
# strongest, so the worklist shows them as one lot with several leads.
_STRENGTH = "CASE tier WHEN 'strong' THEN 0 ELSE 1 END"
ORDER_SQL = (
    "ORDER BY (sale_date IS NULL OR sale_date = ''), sale_date, "
    f"MIN({_STRENGTH}) OVER (PARTITION BY listing_id), MAX(score) OVER (PARTITION BY listing_id) DESC, "
    f"listing_id, {_STRENGTH}, score DESC, id"
)
STATUS_SQL = {
    "undecided": "decision IS NULL",
    "decided": "decision IN ('confirmed', 'dismissed')",
    "escalated": "decision = 'escalated'",
    "all": "1",
}


# ---------------------------------------------------------------------------------------------- words


def record_name(candidate: dict) -> str:
    """The registry record as people name it: "interpol 12345"; "the registry record" when unknown."""
    source, source_id = candidate.get("source"), candidate.get("source_id")
    if source and source_id:
        return f"{source} {source_id}"
    record = candidate.get("registry_record")
    return str(record).replace(":", " ", 1) if record else "the registry record"


def evidence_hit(candidate: dict, evidence: dict) -> Hit | None:
    """The stored evidence as a ``Hit``; the candidate's own columns fill what the JSON lacks."""
    known = {f.name for f in fields(Hit)}
    data = {k: v for k, v in (evidence or {}).items() if k in known}
    view, _, variant = str(candidate.get("variant") or "").partition(":")
    data.setdefault("variant", variant or "full/r0")
    data.setdefault("view", view or "full")
    for key, column in (("pdq", "pdq_distance"), ("phash", "phash_distance"), ("dhash", "dhash_distance")):
        if key not in data:
            if candidate.get(column) is None:
                return None
            data[key] = candidate[column]
    data.setdefault("inliers", candidate.get("inliers"))
    data.setdefault("object_id", 0)
    data.setdefault("registry_image_id", 0)
    try:
        return Hit(**data)
    except TypeError:
        return None


def _turn_words(turn: str) -> str:
    return TURNS.get(turn, "")


def variant_words(variant: Any, photo: str = "lot photo") -> str:
    """The hash variant a candidate's distances were measured on, in words: ``"full:full/m0"`` ->
    "the whole lot photo, mirrored" (``photo`` names the photo compared); "" for an empty or unknown
    value. It names what was compared, not what was done to the photo: the trimmed view is tried on every
    photo, border or not."""
    view, _, registry_variant = str(variant or "").partition(":")
    if view == "full":
        what = f"the whole {photo}"
    elif view == "trim":
        what = f"the {photo} with any plain border cut off"
    elif view.startswith("part"):
        what = f"one part of the {photo}"
    else:
        return ""
    turn = _turn_words(registry_variant.rpartition("/")[2])
    return f"{what}, {turn}" if turn else what


def photo_facts(candidate: dict, evidence: dict | None, geometry: dict | None) -> dict:
    """What the stored numbers of a photo candidate allow the words to say.

    ``hashes``: the hashes matched (the matcher's hash tier); ``same``: they matched closely enough to say
    "same photo": on the whole lot photo, or near-exactly (``Thresholds.trim_exact_pdq``) on its trimmed
    view or one part of it, where a smaller picture, often little more than the object, is compared and a
    different photo of the object taken from the same spot comes as close (demo candidates 99 and 123:
    PDQ 18 and 30 on the trimmed view); ``trusted``: the fit of the matching points can be believed (the
    hashes matched, or ``TRUSTED_POINTS`` points agree); ``turn``: how the lot photo lies ("r90", "m0";
    "" when unknown); ``crop``: the percentage of the registry photo cut off, when at least 5, and
    ``shown``: the percentage of the registry photo the lot photo shows, below 100;
    ``crop``/``shown`` only when ``same``: between different photos a frame that differs is no crop.
    """
    hit = evidence_hit(candidate, evidence if isinstance(evidence, dict) else {})
    if hit is None:
        return {
            "hit": None,
            "hashes": False,
            "same": False,
            "trusted": False,
            "turn": "",
            "crop": None,
            "shown": None,
        }
    thresholds = Thresholds()
    hashes = hash_tier(hit, thresholds) is not None
    same = hashes and (hit.view == "full" or hit.pdq <= thresholds.trim_exact_pdq)
    trusted = hashes or (hit.inliers or 0) >= TRUSTED_POINTS
    if hashes:
        turn = hit.variant.rpartition("/")[2]
    elif trusted:
        # The hashes did not match, so their closest variant says nothing: the points say how the photo
        # lies (stored with the evidence; recomputed on the candidate page for evidence made before).
        turn = hit.points_turn or (geometry or {}).get("turn") or ""
    else:
        turn = ""
    # Only the same photo can be said to be cropped: when the photos differ (another shot of the object,
    # or a copy edited beyond the hashes), the frames differ anyway and a "crop" would be made up.
    crop = (geometry or {}).get("crop_percent") if same else None
    crop = crop if isinstance(crop, int) else None
    return {
        "hit": hit,
        "hashes": hashes,
        "same": same,
        "trusted": trusted,
        "turn": turn,
        "crop": crop if crop is not None and crop >= 5 else None,
        "shown": 100 - crop if crop else None,
    }


def _photo_words(candidate: dict, evidence: dict, geometry: dict | None) -> str:
    record = record_name(candidate)
    facts = photo_facts(candidate, evidence, geometry)
    hit = facts["hit"]
    if hit is None:
        return f"a photo like {record}'s"
    mods = []
    if _turn_words(facts["turn"]):
        mods.append(_turn_words(facts["turn"]))
    # The trimmed view coming closest proves nothing was trimmed (it is tried on every photo): not said.
    if hit.view.startswith("part") and facts["hashes"]:
        mods.append("set inside a larger picture (a frame, a collage or a screenshot)")
    if facts["crop"] is not None:
        mods.append(f"cropped about {facts['crop']} %")
    if facts["same"]:
        words = f"same photo as {record}"
    elif facts["hashes"]:
        words = f"a very similar photo to {record}'s (an edited copy, or one taken from the same spot)"
    elif by_likeness(candidate, evidence):
        # Hashes and points found nothing: the learned embedding alone raised it (matcher/photo/embed.py).
        return f"a different photo of what may be the same object as {record}'s ({similarity_words(hit)})"
    else:
        points = hit.inliers or 0
        words = f"{points} matching points in the same arrangement as on {record}'s photo " + (
            "(a cropped or edited copy, or a different photo of the same object)"
            if facts["trusted"]
            else "(only a few: an edited copy, another photo of the same object, or a different object "
            "that looks alike; compare the photos)"
        )
    if mods:
        words += ", " + " and ".join([", ".join(mods[:-1]), mods[-1]] if len(mods) > 1 else mods)
    shared = [i for i in evidence.get("shared") or [] if isinstance(i, int)]
    if shared:
        words += f" (the same photo is held by {len(shared)} other record{'s' if len(shared) > 1 else ''})"
    return words


def _cosine(value: Any) -> float | None:
    """A stored cosine as shown: a finite number, never above 1 (float16 embeddings can sum to 1.0001)
    nor below -1; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(1.0, max(-1.0, float(value)))


def similarity_margin(cosine: Any, following: Any) -> tuple[str, str] | None:
    """How far the candidate's photo stands above every other record's, as shown: ``("0.27", "")``, or
    ``("0.39", "at least ")`` when the other records' best is under the index's floor (values under it
    are not told apart); from the two values as shown (two decimals), so the words add up. None when
    either is unknown."""
    from matcher.search.embindex import FLOOR

    cosine, following = _cosine(cosine), _cosine(following)
    if cosine is None or following is None:
        return None
    margin = round(cosine, 2) - round(following, 2)
    return f"{margin:.2f}", "at least " if following <= FLOOR else ""


def similarity_words(hit: Hit) -> str:
    """How alike the learned embeddings find the two photos, and by how much more than any other record's
    photo (what decides: a cosine alone does not tell the same object from one drawn alike):
    "similarity 0.87, 0.23 above any other record's photo; rank 1 of 1,242"."""
    cosine = _cosine(hit.cosine)
    if cosine is None:
        return "similarity unknown"
    words = f"similarity {cosine:.2f}"
    margin = similarity_margin(cosine, hit.cosine_next)
    if margin is not None:
        words += f", {margin[1]}{margin[0]} above any other record's photo"
    rank, of = _cosine_count(hit.cosine_rank), _cosine_count(hit.cosine_of)
    if rank is not None and of:
        words += f"; rank {rank:,} of {of:,}"
    return words


def likeness_line(evidence: dict) -> str:
    """The plain words for a record ``lootwatch check`` lists as most alike by the learned embedding
    alone (``matcher.check``): how alike, and that nothing else supports it. ``evidence``: the hit's
    evidence JSON, parsed."""
    evidence = evidence if isinstance(evidence, dict) else {}
    cosine = _cosine(evidence.get("cosine"))
    rank, of = _cosine_count(evidence.get("cosine_rank")), _cosine_count(evidence.get("cosine_of"))
    # No margin here: unlike a candidate's, this photo need not stand above any other.
    alike = ""
    if cosine is not None:
        ranked = f"; rank {rank:,} of {of:,}" if rank is not None and of else ""
        alike = f" (similarity {cosine:.2f}{ranked})"
    return (
        f"Among the photos most alike by the learned embedding{alike}; the hashes and matching points "
        "do not make it a match: it may be another photo of the same object, or another object like it"
    )


def _cosine_count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def by_likeness(candidate: dict, evidence: dict | None) -> bool:
    """Was the candidate raised by the learned embedding alone ("a different photo of what may be the same
    object"): a photo candidate whose hashes and matching points found nothing, the embedding finding the
    record's photo clearly more alike than any other (``matcher.decide.evidence.by_embedding``)? The
    worklist's filter and the why line both ask this."""
    if candidate.get("kind") != "image":
        return False
    hit = evidence_hit(candidate, evidence if isinstance(evidence, dict) else {})
    if hit is None:
        return False
    thresholds = Thresholds()
    try:
        return (
            hash_tier(hit, thresholds) is None
            and (hit.inliers or 0) < thresholds.min_inliers
            and by_embedding(hit, thresholds)
        )
    except TypeError:  # odd values in the evidence JSON
        return False


def likeness_sql(
    kind: Any, evidence_json: Any, variant: Any, pdq: Any, phash: Any, dhash: Any, inliers: Any
) -> int:
    """``by_likeness`` as an SQLite function (``lootwatch_likeness``, registered on every connection of
    the review UI) over a candidate's columns, for the worklist's filter."""
    candidate = {
        "kind": kind,
        "variant": variant,
        "pdq_distance": pdq,
        "phash_distance": phash,
        "dhash_distance": dhash,
        "inliers": inliers,
    }
    return int(by_likeness(candidate, json_object(evidence_json)))


def _text_words(text: dict | None, record: str, alone: bool) -> str:
    if not isinstance(text, dict):
        return f"the text matches {record}" if alone else ""
    inventory = text.get("inventory_number")
    agree, given = text.get("sizes_agree") or 0, text.get("sizes_given") or 0
    shared = [str(w) for w in text.get("shared_words") or []][:4]
    bits = []
    if inventory:
        bits.append(f"the lot gives {record}'s inventory number {inventory}")
    if agree:
        bits.append(f"{agree} of {given} sizes agree")
    if shared and alone:
        bits.append("words in common: " + ", ".join(shared))
    if alone:
        return f"the text matches {record}" + (": " + ", ".join(bits) if bits else "")
    if inventory or agree >= 2:
        return "the text matches too: " + ", ".join(bits)
    return ""


def _says_something(words: str) -> bool:
    """Quoted alone, do these words say anything? A bare year or number ("1968", "1990s") does not."""
    return bool(re.search(r"[^\W\d_]{3,}", words))


def _plain(why: Any) -> str:
    """A rule's explanation, cut to its first clause: "a dated publication of the object"."""
    words = " ".join(str(why or "").split())
    words = re.split(r"(?<=\w)[.;:](?:\s|$)", words, maxsplit=1)[0]
    cut = len(words) > PLAIN_CHARS
    if cut:  # at a word
        words = words[:PLAIN_CHARS].rsplit(" ", 1)[0].rstrip(" ,")
    if words.count("(") > words.count(")"):  # cut inside a parenthesis: leave the aside out
        words, cut = words[: words.rfind("(")].rstrip(" ,"), False
    words += "…" if cut else ""
    first = words.split(" ", 1)[0]
    if first[:1].isupper() and (len(first) == 1 or first[1:].islower()):  # "A date" -> "a date", not "UNESCO"
        words = words[:1].lower() + words[1:]
    return words


def _span(r: dict) -> tuple[int, int] | None:
    start, end = r.get("start"), r.get("end")
    if isinstance(start, int) and isinstance(end, int) and end > start:
        return start, end
    return None


def _quoted(reasons: list[dict]) -> str:
    """The seller's words behind ``reasons``, each once: a quote inside (or overlapping) a longer one is
    left out; words that say nothing alone (a bare year) give way to the rule's plain explanation."""
    items = []
    for i, r in enumerate(reasons):
        words = " ".join(str(r.get("text") or "").split())
        items.append((i, words, _span(r), r))
    kept: list[tuple[int, str, tuple[int, int] | None, dict]] = []
    for item in sorted(items, key=lambda it: -len(it[1])):
        _, words, span, _ = item
        folded = words.casefold()
        if words and any(
            folded in k[1].casefold() or (span and k[2] and span[0] < k[2][1] and k[2][0] < span[1])
            for k in kept
        ):
            continue
        kept.append(item)
    seen: list[str] = []
    for _, words, _, r in sorted(kept, key=lambda it: it[0]):
        if words and _says_something(words):
            shown = f"“{words[:80]}”"
        else:
            plain = _plain(r.get("why")) or str(r.get("rule") or "")
            shown = f"{plain} (“{words}”)" if plain and words else plain or (f"“{words}”" if words else "")
        if shown and shown.casefold() not in (s.casefold() for s in seen):
            seen.append(shown)
    shown = ", ".join(seen[:MAX_WORDS])
    if len(seen) > MAX_WORDS:
        shown += f" and {len(seen) - MAX_WORDS} more"
    return shown


def size_words(values: Any) -> str:
    """Sizes in centimetres as the text comparison read them: "12 x 8 cm"; "not given" when there are
    none (or none that are numbers)."""
    numbers = (
        [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if isinstance(values, list | tuple)
        else []
    )
    return " x ".join(f"{v:g}" for v in numbers) + " cm" if numbers else "not given"


def sizes_differ(text: Any) -> str | None:
    """When the lot's text and the record both give sizes and none agree, say so with the sizes:
    "the sizes in the text differ: lot 12 x 8 cm, record 30 x 20 cm"; None otherwise."""
    if not isinstance(text, dict):
        return None
    mine, theirs = text.get("listing_cm") or [], text.get("record_cm") or []
    if not isinstance(mine, list) or not isinstance(theirs, list) or not mine or not theirs:
        return None
    if (text.get("sizes_agree") or 0) > 0 or not text.get("sizes_given"):
        return None

    return f"the sizes in the text differ: lot {size_words(mine)}, record {size_words(theirs)}"


def why_line(
    candidate: dict, evidence: dict | None, reasons: list[dict] | None, geometry: dict | None = None
) -> str:
    """One plain sentence on why the candidate was raised.

    ``candidate``: a ``candidates`` row (with ``source``/``source_id`` of its record or ``registry_record``,
    and ``text_json``); ``evidence``: its evidence JSON, parsed; ``reasons``: its red-flag reasons;
    ``geometry``: ``match_geometry``'s answer when known (the crop, how the points say the photo lies).

    "same photo as interpol 12345, mirrored and cropped about 15 %; red flags: “Syria”, “no papers”,
    “acquired 2013”; lowers the risk: “export licence”".
    """
    evidence = evidence if isinstance(evidence, dict) else {}
    record = record_name(candidate)
    kind = candidate.get("kind")
    text = candidate.get("text_json")
    if isinstance(text, str):
        try:
            text = json.loads(text)
        except ValueError:
            text = None
    parts = []
    if kind == "image":
        parts.append(_photo_words(candidate, evidence, geometry))
        parts.append(_text_words(text, record, alone=False))
    elif kind == "text":
        parts.append(_text_words(text, record, alone=True))
    if kind in ("image", "text"):
        parts.append(sizes_differ(text) or "")
    split = split_reasons(reasons or [])
    if split["red_flags"]:
        parts.append("red flags: " + _quoted(split["red_flags"]))
    elif kind == "flags":
        parts.append("red flags in the text")
    if split["lowering"]:
        parts.append("lowers the risk: " + _quoted(split["lowering"]))
    line = "; ".join(p for p in parts if p)
    return line[:1].upper() + line[1:] if line else "Raised by the matcher"


# ------------------------------------------------------------------------------------------- geometry


def _pairs(query, reference, any_angle: bool = False):
    """The inlier pairs (query xy, reference xy) and the similarity transform of ``matcher.decide.verify``, or
    None when ``matcher.decide.verify.verify`` finds no match (a turn beyond ``MAX_TILT``, unless the matcher
    verified the pair at any angle, a collapsing scale, too few descriptors): the points the matcher rejected
    are never drawn."""
    from matcher.decide.verify import ANY_TILT, MAX_TILT, fit, verify

    found = verify(query, reference, ANY_TILT if any_angle else MAX_TILT)
    if not found.inliers:
        return None
    fitted = fit(query, reference)  # the same fit verify judged (OpenCV's RANSAC starts from a fixed seed)
    if fitted is None:
        return None
    src, dst, model, keep = fitted
    return src[keep], dst[keep], model, found


def match_geometry(
    listing_features: tuple | None,
    registry_features: tuple | None,
    listing_size: tuple[int, int] | None,
    registry_size: tuple[int, int] | None,
    max_points: int = 300,
    any_angle: bool = False,
) -> dict | None:
    """Where the matching points lie on both photos, from their stored local features.

    ``listing_features``: ``(xy, desc)`` blobs of ``image_features``; ``registry_features``:
    ``(xy, desc, xy_m, desc_m)`` (the mirror image's may be None); sizes: each photo's decoded
    ``(width, height)``. Returns ``{"listing_points", "registry_points", "listing_region",
    "registry_region", "crop_percent", "turn", "mirrored", "points"}`` in each photo's own pixels (the
    registry's unmirrored), or None when there is nothing to compare. The points are those the matcher's
    own verification keeps (``matcher.decide.verify.verify``, on the registry photo and its mirror image, the
    better agreement counting): when it finds none (fewer than 6 points agree, or they agree only on a
    turn or scale it rejects), ``NO_POINTS``: no points, no region, no crop, no turn. ``any_angle``: the
    matcher verified the pair at any angle (``any_angle`` in its evidence), and so does the drawing.
    """
    if not listing_features or not registry_features or not listing_size or not registry_size:
        return None
    import numpy as np

    from matcher.decide.verify import quarter_turns
    from matcher.photo.features import Features

    try:
        query = Features.from_blobs(*listing_features[:2])
        refs = [(Features.from_blobs(*registry_features[:2]), False)]
        if len(registry_features) > 3 and registry_features[2] and registry_features[3]:
            refs.append((Features.from_blobs(*registry_features[2:4]), True))
    except (TypeError, ValueError):
        return None
    found = []
    for ref, mirrored in refs:
        pairs = _pairs(query, ref, any_angle)
        if pairs is not None:
            found.append((pairs[3][:2], mirrored, pairs))
    if not found:
        # The matcher's verification (matcher.search.registry_index: the photo as it is and its mirror image)
        # found no points in one consistent geometry: nothing to draw, and said so.
        return dict(NO_POINTS)
    # The better agreement counts, as the matcher counts it: inliers, then their share.
    _, mirrored, (src, dst, model, verified) = max(found, key=lambda f: f[0])
    rw, rh = registry_size
    lw, lh = listing_size
    if mirrored:  # points found on the mirror image, drawn on the photo as stored
        dst = np.column_stack([rw - 1 - dst[:, 0], dst[:, 1]])
    # How much of the registry photo the lot photo shows: its frame mapped onto the registry photo.
    corners = np.float32([[0, 0], [lw, 0], [lw, lh], [0, lh]]) @ model[:, :2].T + model[:, 2]
    x0, y0 = max(0.0, float(corners[:, 0].min())), max(0.0, float(corners[:, 1].min()))
    x1, y1 = min(float(rw), float(corners[:, 0].max())), min(float(rh), float(corners[:, 1].max()))
    shown = max(0.0, x1 - x0) * max(0.0, y1 - y0) / max(1.0, float(rw * rh))
    turn = ("m" if mirrored else "r") + str(quarter_turns(model) * 90)

    def box(points) -> list[float]:
        return [round(float(v), 1) for v in (*points.min(axis=0), *points.max(axis=0))]

    step = max(1, math.ceil(len(src) / max_points))
    return {
        "listing_points": [[round(float(x), 1), round(float(y), 1)] for x, y in src[::step]],
        "registry_points": [[round(float(x), 1), round(float(y), 1)] for x, y in dst[::step]],
        "listing_region": box(src),
        "registry_region": box(dst),
        "crop_percent": int(round(100 * (1 - min(1.0, shown)))),
        "turn": turn,
        "mirrored": mirrored,
        "points": verified.inliers,  # as matcher.decide.verify counts them
    }


# ``match_geometry`` of two photos whose features are known but share no verified points.
NO_POINTS: dict[str, Any] = {
    "listing_points": [],
    "registry_points": [],
    "listing_region": None,
    "registry_region": None,
    "crop_percent": None,
    "turn": "",
    "mirrored": False,
    "points": 0,
}


_GEOMETRY: OrderedDict[tuple[str, str, str, bool], dict | None] = OrderedDict()
GEOMETRY_CACHE = 4096  # photo pairs whose geometry a server keeps (a few KB each)


def any_angle(evidence: Any) -> bool:
    """Did the matcher verify the pair at any angle (stored evidence, as JSON text or a dict)?"""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return False
    return isinstance(evidence, dict) and evidence.get("any_angle") is True


async def geometry_of(
    db, listing_sha: str | None, registry_sha: str | None, any_angle: bool = False
) -> dict | None:
    """``match_geometry`` for two stored photos, reading their features and sizes; computed off the event
    loop (about 10 ms a pair) and kept for the pairs seen last, so the worklist and the candidate page
    read the same answer."""
    if not listing_sha or not registry_sha:
        return None
    key = (str(db.path), listing_sha, registry_sha, any_angle)
    if key in _GEOMETRY:
        _GEOMETRY.move_to_end(key)
        return _GEOMETRY[key]
    found = await _geometry(db, listing_sha, registry_sha, any_angle)
    _GEOMETRY[key] = found
    while len(_GEOMETRY) > GEOMETRY_CACHE:
        _GEOMETRY.popitem(last=False)
    return found


async def _geometry(db, listing_sha: str, registry_sha: str, any_angle: bool) -> dict | None:
    lf = (await db.execute("SELECT xy, desc FROM image_features WHERE sha256 = ?", [listing_sha])).first()
    rf = (
        await db.execute("SELECT xy, desc, xy_m, desc_m FROM image_features WHERE sha256 = ?", [registry_sha])
    ).first()
    ls = (
        await db.execute(
            "SELECT width, height FROM listing_images WHERE sha256 = ? AND width > 0 LIMIT 1", [listing_sha]
        )
    ).first()
    rs = (
        await db.execute(
            "SELECT width, height FROM registry_images WHERE sha256 = ? AND width > 0 LIMIT 1", [registry_sha]
        )
    ).first()
    if not (lf and rf and ls and rs):
        return None
    return await asyncio.to_thread(
        match_geometry, tuple(lf), tuple(rf), tuple(ls), tuple(rs), any_angle=any_angle
    )


# ---------------------------------------------------------------------------------------------- pages


def database(datasette):
    return datasette.get_database(next(iter(datasette.databases.keys() - {"_internal", "_memory"})))


async def may_view(datasette, request, db) -> None:
    """The worklist, its photos and the candidate page show what the review queue shows."""
    await datasette.ensure_permissions(
        request.actor,
        [("view-table", (db.name, "review_queue")), ("view-database", db.name), "view-instance"],
    )


FILTER_KEYS = ("status", "mine", "site", "bank", "family", "kind")
NO_FILTERS = {"status": "undecided", "mine": "", "site": "", "bank": "", "family": "", "kind": ""}


def filters_of(args) -> dict[str, str]:
    """The worklist's filters from query parameters (anything unknown falls back to its default)."""
    status = args.get("status") or "undecided"
    return {
        "status": status if status in STATUSES else "undecided",
        "mine": "1" if args.get("mine") == "1" else "",
        "site": (args.get("site") or "")[:200],
        "bank": (args.get("bank") or "")[:200],
        "family": (args.get("family") or "")[:200],
        "kind": args.get("kind") if args.get("kind") in KINDS else "",
    }


def _filters(request) -> dict[str, str]:
    return filters_of(request.args)


def filtered(filters: dict[str, str]) -> bool:
    """Do ``filters`` hide candidates beyond the status shown (one site, mine, one family, ...)?"""
    return any(filters.get(k) for k in FILTER_KEYS if k != "status")


def _query(filters: dict[str, str], page: int = 1) -> str:
    """The worklist's query string for ``filters`` and ``page``, defaults left out ("" for the home page)."""
    query = {
        k: filters[k]
        for k in FILTER_KEYS
        if filters.get(k) and not (k == "status" and filters[k] == "undecided")
    }
    if page > 1:
        query["page"] = str(page)
    return urlencode(query)


def _plain_value(value: str) -> bool:
    return len(value) <= 200 and not any(ord(c) < 32 or ord(c) == 127 for c in value)


def worklist_query(value: Any) -> str:
    """A worklist query carried to the candidate page (``from``), checked strictly: only the worklist's
    own parameters, each once, with values it would accept. Returns it in the worklist's own spelling, or
    "" for anything else (and for the unfiltered first page)."""
    if not isinstance(value, str) or not value or len(value) > 1000:
        return ""
    try:
        pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return ""
    args = dict(pairs)
    if len(args) != len(pairs) or not set(args) <= {*FILTER_KEYS, "page"}:
        return ""
    if not all(_plain_value(v) for v in args.values()):
        return ""
    checks = {
        "status": lambda v: v in STATUSES,
        "mine": lambda v: v in ("", "1"),
        "kind": lambda v: v == "" or v in KINDS,
        "page": lambda v: v.isascii() and v.isdigit() and len(v) <= 7,
    }
    if not all(check(args[k]) for k, check in checks.items() if k in args):
        return ""
    return _query(filters_of(args), int(args.get("page") or 1))


def from_filters(query: str) -> dict[str, str]:
    """The filters of a query ``worklist_query`` let through."""
    return filters_of(dict(parse_qsl(query)))


def worklist_url(datasette, query: str) -> str:
    """The worklist page of ``query`` (from ``worklist_query``): the home page when it is ""."""
    return datasette.urls.path(f"/-/lootwatch/worklist?{query}" if query else "/")


def candidate_url(datasette, cid: int, query: str = "", **extra: str) -> str:
    """A candidate's page, carrying the worklist's ``query`` when there is one."""
    params = {**extra, **({"from": query} if query else {})}
    return datasette.urls.path(f"/-/lootwatch/candidate/{cid}") + ("?" + urlencode(params) if params else "")


def _where(filters: dict[str, str], actor_id: str | None) -> tuple[str, list]:
    clauses, params = [STATUS_SQL[filters["status"]]], []
    if filters["mine"]:
        clauses.append("EXISTS (SELECT 1 FROM reviews m WHERE m.candidate_id = w.id AND m.reviewer = ?)")
        params.append(actor_id or "")
    if filters["kind"] == "likeness":
        clauses.append(LIKENESS_SQL)
    for key, column in (("site", "w.site"), ("bank", "w.source"), ("kind", "w.kind")):
        if filters[key] and not (key == "kind" and filters[key] == "likeness"):
            clauses.append(f"{column} = ?")
            params.append(filters[key])
    if filters["family"]:
        clauses.append(
            "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(w.reasons_json) THEN w.reasons_json "
            "ELSE '[]' END) f WHERE json_extract(f.value, '$.family') = ? "
            "AND json_extract(f.value, '$.weight') > 0)"
        )
        params.append(filters["family"])
    return " AND ".join(clauses), params


def _page_number(request) -> int:
    try:
        return max(1, min(int(request.args.get("page") or 1), 1_000_000))
    except ValueError:
        return 1


def _link(base: str, filters: dict[str, str], **changes) -> str:
    query = {
        k: v for k, v in {**filters, **changes}.items() if v and not (k == "status" and v == "undecided")
    }
    if "page" in query and str(query["page"]) == "1":
        del query["page"]
    return base + ("?" + urlencode(query) if query else "")


def family_label(family: str) -> str:
    """A red-flag family in plain words ("no papers"); an unknown one as it is named."""
    return FAMILIES.get(family, family)


async def _choices(db) -> dict[str, list]:
    async def values(sql: str) -> list[str]:
        return [r[0] for r in await db.execute(sql) if r[0]]

    houses: dict[str, set] = {}
    for site, house in await db.execute(
        "SELECT DISTINCT l.site, l.house FROM candidates c JOIN listings l ON l.id = c.listing_id "
        "WHERE c.tier IS NOT NULL AND l.site IS NOT NULL AND l.site != '' ORDER BY 1"
    ):
        houses.setdefault(site, set()).add(house or "")
    sites = []
    for site, names in houses.items():
        # The house beside the site id, when the site is one house ("demo_bazaar (Bazaar Antiques)").
        (house,) = names if len(names) == 1 else ("",)
        sites.append((site, f"{site} ({house})" if house and house != site else site))
    families = await values(
        "SELECT DISTINCT json_extract(f.value, '$.family') FROM candidates c, json_each(CASE WHEN "
        "json_valid(c.reasons_json) THEN c.reasons_json ELSE '[]' END) f "
        "WHERE c.tier IS NOT NULL AND json_extract(f.value, '$.weight') > 0 ORDER BY 1"
    )
    return {
        "site": sites,
        "bank": await values(
            "SELECT DISTINCT o.source FROM candidates c "
            "JOIN registry_objects o ON o.id = c.registry_object_id WHERE c.tier IS NOT NULL ORDER BY 1"
        ),
        "family": [(f, family_label(str(f))) for f in families],
    }


def _row(r: dict, datasette, geometry: dict | None, query: str, signed_in: bool) -> dict:
    evidence = json_object(r.get("evidence_json"))
    reasons = reasons_from_json(r.get("reasons_json"))
    path = datasette.urls.path
    return {
        **r,
        # Who decided is for signed-in reviewers, as on the candidate page.
        "decided_by": r.get("decided_by") if signed_in else None,
        "why": why_line(r, evidence, reasons, geometry),
        "listing_link": safe_url(r.get("listing_url")),
        "listing_thumb": path(f"/-/lootwatch/thumbnail/{r['listing_sha256']}")
        if r.get("listing_sha256")
        else None,
        "registry_thumb": path(f"/-/lootwatch/thumbnail/{r['registry_sha256']}")
        if r.get("registry_sha256")
        else None,
        "page": candidate_url(datasette, r["id"], query),
    }


def json_object(value: Any) -> dict:
    """A JSON column read as a dict: ``{}`` when it is empty, malformed, too deep or not an object."""
    try:
        data = json.loads(value) if isinstance(value, str) and value else {}
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


async def _worklist(request, datasette) -> dict:
    """The worklist's page of rows for the request's filters and page, each with its why line."""
    db = database(datasette)
    await may_view(datasette, request, db)
    filters = _filters(request)
    actor_id = str(request.actor["id"]) if request.actor and request.actor.get("id") else None
    where, params = _where(filters, actor_id)
    page = _page_number(request)
    inner = f"SELECT * FROM ({ROWS_SQL}) w WHERE {where}"
    total = (await db.execute(f"SELECT count(*) FROM ({inner})", params)).first()[0]
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(page, pages)
    rows = await db.execute(
        f"{inner} {ORDER_SQL} LIMIT ? OFFSET ?", [*params, PER_PAGE, (page - 1) * PER_PAGE]
    )
    rows = [dict(r) for r in rows]
    # The same geometry the candidate page reads, so the row's why line says what the page says.
    geometries = [
        await geometry_of(db, r["listing_sha256"], r["registry_sha256"], any_angle(r.get("evidence_json")))
        if r["kind"] == "image"
        else None
        for r in rows
    ]
    query = _query(filters, page)
    rows = [_row(r, datasette, g, query, bool(actor_id)) for r, g in zip(rows, geometries, strict=True)]
    return {
        "db": db,
        "rows": rows,
        "filters": filters,
        "actor_id": actor_id,
        "total": total,
        "page": page,
        "pages": pages,
    }


async def worklist_page(request, datasette) -> Response:
    found = await _worklist(request, datasette)
    db, filters, page, rows = found["db"], found["filters"], found["page"], found["rows"]
    base = datasette.urls.path("/-/lootwatch/worklist")
    context = {
        **found,
        "choices": await _choices(db),
        "statuses": STATUSES,
        "heading": HEADINGS[filters["status"]],
        "kinds": KINDS,
        "filtered": filtered(filters),
        "first": (page - 1) * PER_PAGE + 1,
        "last": (page - 1) * PER_PAGE + len(rows),
        "link": lambda **changes: _link(base, filters, **changes),
        "base": base,
        "database": db.name,
        "json_url": _link(datasette.urls.path("/-/lootwatch/worklist.json"), filters, page=page),
        "table_url": datasette.urls.path(f"/{db.name}/review_queue"),
        "sign_in_url": sign_in_url(datasette, request),
        "read_only": bool((datasette.plugin_config("lootwatch") or {}).get("read_only")),
    }
    return Response.html(await datasette.render_template("lootwatch_worklist.html", context, request=request))


JSON_COLUMNS = (
    "id",
    "kind",
    "tier",
    "score",
    "title",
    "site",
    "house",
    "seller",
    "sale_date",
    "decision",
    "decided_by",
    "notes",
)


async def worklist_json(request, datasette) -> Response:
    """``/-/lootwatch/worklist.json``: the worklist's rows as JSON, with the same filters, order and
    paging as the page (``?status=all&site=...&page=2``), each row with its why line and its page."""
    found = await _worklist(request, datasette)
    filters, page, pages = found["filters"], found["page"], found["pages"]
    base = datasette.urls.path("/-/lootwatch/worklist.json")
    rows = [
        {
            **{k: r.get(k) for k in JSON_COLUMNS},
            "registry_record": record_name(r) if r.get("source") else None,
            "why": r["why"],
            "listing_url": r["listing_link"],
            "candidate_page": r["page"],
        }
        for r in found["rows"]
    ]
    return Response.json(
        {
            "filters": {k: v for k, v in filters.items() if v},
            "total": found["total"],
            "page": page,
            "pages": pages,
            "per_page": PER_PAGE,
            "next_page": _link(base, filters, page=page + 1) if page < pages else None,
            "rows": rows,
        }
    )


async def home_page(request, datasette) -> Response:
    """The home page is the worklist; just after signing in, the page the reviewer signed in from."""
    target = safe_next(unquote(request.cookies.get(NEXT_COOKIE) or ""))
    if request.actor and target:
        response = Response.redirect(target)
        response.set_cookie(NEXT_COOKIE, "", max_age=0, httponly=True, samesite="lax")
        return response
    return await worklist_page(request, datasette)


def safe_next(value: Any) -> str | None:
    """A path on this server to return to ("/-/lootwatch/candidate/5"), or None for anything else."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return None
    if len(value) > 500 or "\\" in value or any(ord(c) < 33 or ord(c) == 127 for c in value):
        return None
    return value


def here(request) -> str:
    """The page ``request`` asks for, as a path to come back to ("/-/lootwatch/candidate/5?done=note")."""
    return request.path + (f"?{request.query_string}" if request.query_string else "")


def sign_in_url(datasette, request) -> str:
    """datasette-auth-passwords' sign-in page, told where to come back to."""
    return datasette.urls.path("/-/login") + "?" + urlencode({"next": here(request)})


def remember_next(datasette):
    """An ASGI wrapper: ``/-/login?next=PATH`` (from a "Sign in" link, or a page that needs signing in)
    sets a short-lived cookie with PATH. datasette-auth-passwords sends every reviewer to ``/`` once
    signed in, whatever they asked for; ``home_page`` then sends them on to PATH."""
    login = datasette.urls.path("/-/login")
    logout = datasette.urls.path("/-/logout")

    def wrap(app):
        async def remembering(scope, receive, send):
            if scope.get("type") == "http" and scope.get("path") == logout and scope.get("method") == "POST":
                return await app(scope, receive, _back_after_sign_out(scope, send, login))
            if scope.get("type") != "http" or scope.get("path") != login or scope.get("method") != "GET":
                return await app(scope, receive, send)
            query = dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1")))
            target = safe_next(query.get("next"))
            if not target:
                return await app(scope, receive, send)
            cookie = f"{NEXT_COOKIE}={quote(target, safe='')}; Path=/; Max-Age=900; HttpOnly; SameSite=Lax"

            async def with_cookie(message):
                if message["type"] == "http.response.start":
                    headers = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, with_cookie)

        return remembering

    return wrap


def _back_after_sign_out(scope, send, login: str):
    """Signing out (``POST /-/logout?next=PATH``, the header's "Sign out") leads to the sign-in page told
    to come back to PATH, rather than to the home page."""
    query = dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1")))
    target = safe_next(query.get("next"))
    if not target:
        return send

    async def to_sign_in(message):
        if message["type"] == "http.response.start" and message.get("status") in (301, 302, 303):
            location = (login + "?" + urlencode({"next": target})).encode("latin-1")
            headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != b"location"]
            message = {**message, "headers": [*headers, (b"location", location)]}
        await send(message)

    return to_sign_in


async def thumbnail(request, datasette) -> Response:
    """A stored thumbnail (JPEG made by lootwatch from the decoded photo), by its photo's SHA-256."""
    db = database(datasette)
    await may_view(datasette, request, db)
    row = (
        await db.execute("SELECT jpeg FROM thumbnails WHERE sha256 = ?", [request.url_vars["sha"]])
    ).first()
    if row is None or not row[0]:
        raise NotFound("No such photo.")
    return Response(
        bytes(row[0]),
        content_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# Originals served for enlarging: what browsers show, told apart by their first bytes, and at most this large.
ORIGINAL_CAP = 64 * 2**20
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_SHA = re.compile(r"[0-9a-f]{64}")
NO_ORIGINAL = "The original of this photo is not on this server."


def image_type(head: bytes) -> str | None:
    """The content type of a JPEG, PNG, GIF or WebP by its first bytes; None for anything else."""
    for magic, ctype in _MAGIC:
        if head.startswith(magic):
            return ctype
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def originals_dir(datasette) -> Path | None:
    """Where the photos' original bytes are: the plugin's ``originals`` setting, else ``data/originals``
    beside the review database (where ``lootwatch`` keeps them by default)."""
    configured = (datasette.plugin_config("lootwatch") or {}).get("originals")
    if configured:
        return Path(configured)
    path = database(datasette).path
    return Path(path).parent / "data" / "originals" if path else None


def original_file(datasette, sha: str) -> tuple[Path, str] | None:
    """The original of the photo with SHA-256 ``sha`` and its content type, when the server has it inside
    the originals folder and it is a photo a browser shows; None otherwise."""
    root = originals_dir(datasette)
    if root is None or not isinstance(sha, str) or not _SHA.fullmatch(sha):
        return None
    try:
        base = root.resolve(strict=True)
        path = (root / sha[:2] / sha).resolve(strict=True)
        if not path.is_relative_to(base) or not path.is_file() or path.stat().st_size > ORIGINAL_CAP:
            return None
        with path.open("rb") as f:
            ctype = image_type(f.read(16))
    except OSError:
        return None
    return (path, ctype) if ctype else None


async def _viewable_original(request, datasette) -> tuple:
    """The kept original (path, content type) of the photo the address names by its SHA-256, for a
    reviewer who may view the review queue, and only of a photo the database holds; NotFound else."""
    db = database(datasette)
    await may_view(datasette, request, db)
    sha = request.url_vars["sha"]
    known = (
        await db.execute(
            "SELECT 1 FROM listing_images WHERE sha256 = ? UNION ALL "
            "SELECT 1 FROM registry_images WHERE sha256 = ? LIMIT 1",
            [sha, sha],
        )
    ).first()
    found = original_file(datasette, sha) if known else None
    if found is None:
        raise NotFound(NO_ORIGINAL) from None
    return found


async def original(request, datasette) -> Response:
    """The original bytes of a photo in the database, by its SHA-256, for enlarging it: only photos a
    browser shows (checked by their first bytes), inline, never sniffed as anything else."""
    path, _ = await _viewable_original(request, datasette)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError:
        raise NotFound(NO_ORIGINAL) from None
    ctype = image_type(data[:16])
    if ctype is None or len(data) > ORIGINAL_CAP:
        raise NotFound(NO_ORIGINAL) from None
    return Response(
        data,
        content_type=ctype,
        headers={
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=86400",
        },
    )


# The side-by-side photos of the candidate page: the original drawn at most this many pixels on its long
# side (never a thumbnail stretched), decoded with the matcher's caps (matcher.photo.decode: bytes, pixels).
LARGE_SIDE = 640
LARGE_QUALITY = 85
# Photos decoded at once per server (the two of one candidate page); the others wait in their thread.
_LARGE_AT_ONCE = threading.BoundedSemaphore(2)


def large_jpeg(data: bytes, side: int = LARGE_SIDE) -> bytes:
    """A photo's original bytes drawn as a JPEG at most ``side`` pixels on its long side (never enlarged),
    upright by its EXIF orientation, in sRGB. Raises ``matcher.photo.decode.DecodeError`` for what the matcher
    would not decode (too many pixels, too many bytes, not a photo)."""
    from matcher.photo.decode import decode

    with _LARGE_AT_ONCE:
        picture = decode(data, side)
        buf = io.BytesIO()
        picture.save(buf, "JPEG", quality=LARGE_QUALITY)
    return buf.getvalue()


async def large(request, datasette) -> Response:
    """A photo in the database, by its SHA-256, drawn from its original at most ``LARGE_SIDE`` pixels on
    its long side, for comparing two photos side by side: only originals ``original`` would serve, served
    as a JPEG made here (never the stored bytes), to whoever may view the review queue."""
    from matcher.photo.decode import DecodeError

    found = await _viewable_original(request, datasette)
    try:
        data = await asyncio.to_thread(found[0].read_bytes)
        if len(data) > ORIGINAL_CAP or image_type(data[:16]) is None:
            raise NotFound(NO_ORIGINAL)
        jpeg = await asyncio.to_thread(large_jpeg, data)
    except (OSError, DecodeError):
        raise NotFound(NO_ORIGINAL) from None
    return Response(
        jpeg,
        content_type="image/jpeg",
        headers={
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=86400",
        },
    )


async def next_undecided(
    db, after: int, filters: dict[str, str] | None = None, actor_id: str | None = None
) -> int | None:
    """The undecided candidate that follows ``after`` in the worklist's order under ``filters`` (site,
    mine, family, ...; whatever their status, the undecided ones), from the top when none follows; never
    ``after`` itself."""
    where, params = _where({**NO_FILTERS, **(filters or {}), "status": "undecided"}, actor_id)
    rows = [
        (r[0], r[1])
        for r in await db.execute(
            f"SELECT id, decision FROM ({ROWS_SQL}) w WHERE ({where}) OR w.id = ? {ORDER_SQL}",
            [*params, after],
        )
    ]
    ids = [i for i, _ in rows]
    start = ids.index(after) + 1 if after in ids else 0
    for cid, decision in rows[start:] + rows[:start]:
        if decision is None and cid != after:
            return cid
    return None
