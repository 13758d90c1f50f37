"""The candidate page of the review UI, and verdicts posted from it.

``/-/lootwatch/candidate/ID`` says first, in one sentence, why the candidate was raised
(``worklist.why_line``), then shows the listing photo beside the registry photo, each drawn from its
original at up to ``worklist.LARGE_SIDE`` pixels (click to enlarge to full size), the matched region
outlined on both and the matching points on request, only those the matcher's verification keeps (when it
keeps none, the page says so and marks nothing), the evidence in plain words with the
distances and inlier counts beneath, the red flags with the seller's words apart from what lowers the
risk, the text comparison, links to both sides, the verdict buttons, the current status and the whole
verdict history. A signed-in reviewer (datasette-auth-passwords) records confirm, dismiss, escalate or a
note; the verdict is appended to ``reviews`` with the reviewer's id and time, in the words of
``store.VERDICTS`` (confirmed, dismissed, escalated, note) that ``add_review`` uses.
Without a signed-in reviewer, or in read-only mode, nothing can be posted. Confirm, escalate and note need
a note saying why (an HTML 400 page otherwise; a note of only invisible characters is none, and control
characters other than line breaks and tabs are dropped); a form with two verdicts is refused, and the same
form posted again (same reviewer, verdict and note as the latest review) is recorded once. After a verdict
the page says so (only when that reviewer's latest review of the candidate is that verdict) and links to
the next undecided candidate in the worklist's order, under the worklist's filters when the page was
opened from a filtered worklist (``from``).
"""

from __future__ import annotations

import base64
import json
import math
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl

from datasette.utils.asgi import Forbidden, NotFound, Response

from matcher.db.connect import now
from matcher.db.store import VERDICTS
from matcher.search.embindex import FLOOR

from .digest import safe_url
from .reasons import reasons_from_json, split_reasons
from .worklist import (
    any_angle,
    candidate_url,
    from_filters,
    geometry_of,
    json_object,
    may_view,
    next_undecided,
    original_file,
    photo_facts,
    record_name,
    sign_in_url,
    similarity_margin,
    size_words,
    sizes_differ,
    variant_words,
    why_line,
    worklist_query,
    worklist_url,
)

__all__ = ["candidate_page", "post_verdict", "cut_notes", "clean_note", "similarity_note", "first_clause"]

# One vocabulary in ``reviews`` whoever writes it, so the queue's status column facets as one.
BUTTONS = {"confirmed": "confirm", "dismissed": "dismiss", "escalated": "escalate", "note": "note"}
# Verdicts that must say why: a confirm or an escalate is acted on by others, a note is nothing else.
NEEDS_NOTE = ("confirmed", "escalated", "note")
MAX_NOTE = 20_000  # characters; a longer note is refused, never cut (the form cap is 100 KB)
# The buttons of a candidate raised for red flags alone (no registry record): what confirming means there.
FLAG_WORDS = {
    "confirm": "Confirm: the red flags hold, act on it",
    "dismiss": "Dismiss: nothing of concern",
    "ask": "Confirm: the red flags in this lot's text hold? Others will act on it.",
}
RECORD_WORDS = {
    "confirm": "Confirm: it is the registered object",
    "dismiss": "Dismiss: not the same object",
    "ask": "Confirm: this lot is the object in {record}? Others will act on it.",
}


def _database(datasette):
    return datasette.get_database(next(iter(datasette.databases.keys() - {"_internal", "_memory"})))


def read_only(datasette) -> bool:
    config = datasette.plugin_config("lootwatch") or {}
    return bool(config.get("read_only"))


async def candidate_page(request, datasette) -> Response:
    db = _database(datasette)
    await may_view(datasette, request, db)
    cid = _candidate_id(request)
    rows = await db.execute("SELECT * FROM candidates WHERE id = ?", [cid])
    candidate = rows.first()
    if candidate is None:
        raise NotFound(f"no candidate {cid}")
    candidate = dict(candidate)
    listing = dict(
        (await db.execute("SELECT * FROM listings WHERE id = ?", [candidate["listing_id"]])).first()
    )
    record = (
        await db.execute("SELECT * FROM registry_objects WHERE id = ?", [candidate["registry_object_id"]])
    ).first()
    record = dict(record) if record else None
    queue = (await db.execute("SELECT * FROM review_queue WHERE candidate_id = ?", [cid])).first()
    reviews = [
        dict(r) for r in await db.execute("SELECT * FROM reviews WHERE candidate_id = ? ORDER BY id", [cid])
    ]
    evidence = json_object(candidate["evidence_json"])
    reasons = reasons_from_json(candidate["reasons_json"])
    listing_sha = queue["listing_sha256"] if queue else None
    registry_sha = queue["registry_sha256"] if queue else None
    geometry = (
        await geometry_of(db, listing_sha, registry_sha, any_angle(evidence))
        if candidate["kind"] == "image"
        else None
    )
    named = {
        **candidate,
        "source": (record or {}).get("source"),
        "source_id": (record or {}).get("source_id"),
    }
    actor_id = str(request.actor["id"])[:100] if request.actor and request.actor.get("id") else None
    came_from = _from(request.args)
    decisions = [r["verdict"] for r in reviews if r["verdict"] != "note"]
    facts = photo_facts(named, evidence, geometry) if candidate["kind"] == "image" else {}
    shown = _points_shown(candidate, geometry)
    next_id = await next_undecided(db, cid, from_filters(came_from), actor_id)
    words = FLAG_WORDS if candidate["kind"] == "flags" and record is None else RECORD_WORDS
    why = why_line(named, evidence, reasons, geometry)
    context = {
        "why": why,
        "photo_why": first_clause(why),
        "same_photo": await _same_photo(db, candidate["listing_id"], evidence.get("shared") or []),
        "candidate": candidate,
        "listing": listing,
        "record": record,
        "record_name": record_name(named),
        "listing_photo": _side_by_side(datasette, listing_sha, queue["listing_photo"] if queue else None),
        "registry_photo": _side_by_side(datasette, registry_sha, queue["registry_photo"] if queue else None),
        "listing_full": _enlarged(datasette, listing_sha),
        "registry_full": _enlarged(datasette, registry_sha),
        "overlay": await _overlay(db, listing_sha, registry_sha, evidence, shown),
        "geometry": shown,
        # Features on both photos, but no points the matcher's verification keeps: said in words.
        "no_points": geometry is not None and not (shown or {}).get("listing_points"),
        # The hash variant says something only when the hashes matched; the crop when the fit is trusted.
        "variant_words": variant_words(candidate.get("variant")) if facts.get("hashes") else "",
        "shown_percent": facts.get("shown"),
        "similarity": similarity_note(evidence),
        "cut_notes": cut_notes(listing.get("cut_json")),
        **split_reasons(reasons),  # red_flags, lowering, notes
        "evidence": evidence,
        "text": json_object(candidate.get("text_json")) or None,
        "sizes_differ": sizes_differ(json_object(candidate.get("text_json"))),
        "sizes": size_words,
        "reviews": reviews,
        "status": decisions[-1] if decisions else _open(len(reviews) - len(decisions)),
        "decision": decisions[-1] if decisions else None,
        "done": _done(request.args.get("done"), reviews, actor_id),
        "next_id": next_id,
        "next_url": candidate_url(datasette, next_id, came_from) if next_id else None,
        "back_url": worklist_url(datasette, came_from),
        "came_from": came_from,
        "buttons": {k: v.format(record=record_name(named)) for k, v in words.items()},
        "verdicts": [(v, BUTTONS[v]) for v in VERDICTS],
        "needs_note": NEEDS_NOTE,
        "can_post": bool(request.actor) and not read_only(datasette),
        "signed_in": bool(request.actor),
        "read_only": read_only(datasette),
        "sign_in": sign_in_url(datasette, request),
        "database": db.name,
        "safe_url": safe_url,
        "record_name_of": record_name,
        "candidate_url": lambda other: candidate_url(datasette, other, came_from),
    }
    return Response.html(
        await datasette.render_template("lootwatch_candidate.html", context, request=request)
    )


def first_clause(line: str) -> str:
    """The first clause of a why line, up to its first "; " outside brackets: what the photos say, without
    the text and the red flags ("… (similarity 0.89, 0.27 above any other record's photo; rank 1 of 208)"
    keeps its brackets whole)."""
    depth = 0
    for i, c in enumerate(line):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth <= 0 and line.startswith("; ", i):
            return line[:i]
    return line


def _open(notes: int) -> str:
    """The status of a candidate without a decision, in the worklist's words: notes decide nothing
    ("still to decide, 1 note")."""
    return f"still to decide, {notes} note{'' if notes == 1 else 's'}" if notes else "still to decide"


def _from(args) -> str:
    """The worklist query the page was opened from (``from``, once, checked), or ""."""
    values = args.getlist("from") if hasattr(args, "getlist") else [args.get("from")]
    return worklist_query(values[0]) if len(values) == 1 else ""


def _done(done: Any, reviews: list[dict], actor_id: str | None) -> str | None:
    """The verdict to say "Recorded" of: ``done`` when the signed-in reviewer's latest review of the
    candidate is that verdict, None otherwise (an address typed or shared proves nothing)."""
    if done not in VERDICTS or not actor_id:
        return None
    mine = [r for r in reviews if r["reviewer"] == actor_id]
    return done if mine and mine[-1]["verdict"] == done else None


def _points_shown(candidate: dict, geometry: dict | None) -> dict | None:
    """The geometry the page draws: the matcher's verified points (``worklist.match_geometry``), none at
    all when the candidate's stored evidence says the matcher found no matching points."""
    if geometry is None:
        return None
    inliers = candidate.get("inliers")
    if not geometry.get("points") or (isinstance(inliers, int) and inliers <= 0):
        return {
            **geometry,
            "listing_points": [],
            "registry_points": [],
            "listing_region": None,
            "registry_region": None,
        }
    return geometry


def _side_by_side(datasette, sha: str | None, thumbnail: Any) -> dict | None:
    """The photo shown beside the other: drawn from its original at up to ``worklist.LARGE_SIDE`` pixels
    (``/-/lootwatch/large``) when the server has it, else the small copy in the database at its own size
    (``large`` False: the page says so)."""
    if sha and original_file(datasette, sha):
        return {"src": datasette.urls.path(f"/-/lootwatch/large/{sha}"), "large": True}
    uri = _data_uri(thumbnail)
    return {"src": uri, "large": False} if uri else None


def _enlarged(datasette, sha: str | None) -> dict | None:
    """The photo to enlarge: its original when the server has it, else the thumbnail (and says so)."""
    if not sha:
        return None
    if original_file(datasette, sha):
        return {"url": datasette.urls.path(f"/-/lootwatch/original/{sha}"), "original": True}
    return {"url": datasette.urls.path(f"/-/lootwatch/thumbnail/{sha}"), "original": False}


def _candidate_id(request) -> int:
    digits = request.url_vars["id"]
    if len(digits) > 18:  # beyond SQLite's integers: no such candidate
        raise NotFound(f"no candidate {digits[:30]}")
    return int(digits)


async def _overlay(db, listing_sha, registry_sha, evidence: dict, geometry: dict | None) -> dict:
    """The matched region on each photo as an SVG box in that photo's pixels (``viewBox``), and the
    matching points, where the evidence or the recomputed geometry (the matcher's verification) has them:
    no box and no points when that geometry has none, whatever region older evidence stored."""
    out: dict[str, Any] = {}
    for side, sha, table in (
        ("listing", listing_sha, "listing_images"),
        ("registry", registry_sha, "registry_images"),
    ):
        if not sha:
            continue
        size = (
            await db.execute(
                f"SELECT width, height FROM {table} WHERE sha256 = ? AND width > 0 LIMIT 1", [sha]
            )
        ).first()
        if not size:
            continue
        region = (geometry or {}).get(f"{side}_region")
        # The region the matcher stored, unless the recomputed verification found no points to draw.
        if side == "listing" and (geometry is None or region is not None) and _box(evidence.get("region")):
            region = evidence["region"]
        box = _box(region)
        out[side] = {
            "width": size[0],
            "height": size[1],
            "region": box and {"x": box[0], "y": box[1], "w": box[2] - box[0], "h": box[3] - box[1]},
            "points": (geometry or {}).get(f"{side}_points") or [],
        }
    return out


def _box(value: Any) -> list[float] | None:
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in value):
        return None
    x0, y0, x1, y1 = value
    return [float(x0), float(y0), float(x1), float(y1)] if x1 > x0 and y1 > y0 else None


async def _error_page(
    datasette, request, title: str, message: str, cid: int | None, status: int = 400, came_from: str = ""
):
    back = candidate_url(datasette, cid, came_from) if cid is not None else datasette.urls.path("/")
    html = await datasette.render_template(
        "lootwatch_error.html", {"title": title, "message": message, "back": back}, request=request
    )
    return Response.html(html, status=status)


async def post_verdict(request, datasette) -> Response:
    if request.method != "POST":  # a verdict address opened in the browser: back to the candidate
        return Response.redirect(datasette.urls.path(f"/-/lootwatch/candidate/{int(request.url_vars['id'])}"))
    if read_only(datasette):
        raise Forbidden("this review UI is read-only")
    if not request.actor or not request.actor.get("id"):
        raise Forbidden("sign in to record a verdict")
    cid = _candidate_id(request)
    body = await request.post_body()
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)  # not UTF-8: a 400 page (security.py)
    form = dict(pairs)
    came_from = worklist_query(form.get("from")) if [k for k, _ in pairs].count("from") == 1 else ""
    verdicts = [v for k, v in pairs if k == "verdict"]
    if len(verdicts) > 1:
        return await _error_page(
            datasette,
            request,
            "One verdict at a time",
            "The form sent more than one verdict. Nothing was recorded. Go back and press one button.",
            cid,
            came_from=came_from,
        )
    verdict = form.get("verdict", "")
    note = clean_note(form.get("note") or "")
    if verdict not in VERDICTS:
        return await _error_page(
            datasette,
            request,
            "Unknown verdict",
            f"{verdict[:40]!r} is not a verdict: use the buttons.",
            cid,
            came_from=came_from,
        )
    if len(note) > MAX_NOTE:
        return await _error_page(
            datasette,
            request,
            "The note is too long",
            f"The note has {len(note):,} characters; a note may have up to {MAX_NOTE:,}. Nothing was "
            "recorded. Go back, shorten it (or keep the long account in your case file and note where it "
            "is) and press the button again.",
            cid,
            came_from=came_from,
        )
    if verdict in NEEDS_NOTE and not note:
        return await _error_page(
            datasette,
            request,
            "Say why before you " + {"note": "add a note"}.get(verdict, BUTTONS[verdict]),
            f"To {BUTTONS[verdict]} this candidate, write in the note what you checked and what you found "
            '(for example: "same chip on the left foot; registry photo is the 2011 police photo"). '
            "Nothing was recorded. Go back, write the note and press the button again.",
            cid,
            came_from=came_from,
        )
    reviewer = str(request.actor["id"])[:100]
    db = _database(datasette)

    def write(conn) -> bool:
        # One transaction that takes the write lock first, so it waits for a crawl or a match writing.
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT listing_id, registry_object_id FROM candidates WHERE id = ?", [cid]
            ).fetchone()
            latest = conn.execute(
                "SELECT reviewer, verdict, note FROM reviews WHERE candidate_id = ? ORDER BY id DESC LIMIT 1",
                [cid],
            ).fetchone()
            # The same form posted again (a reload, a double click) is the same verdict: recorded once.
            again = latest is not None and tuple(latest) == (reviewer, verdict, note or None)
            if row is not None and not again:
                conn.execute(
                    "INSERT INTO reviews (candidate_id, listing_id, registry_object_id, verdict, note, "
                    "reviewer, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [cid, row[0], row[1], verdict, note or None, reviewer, now()],
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return row is not None

    if not await db.execute_write_fn(write, block=True):
        raise NotFound(f"no candidate {cid}")
    return Response.redirect(candidate_url(datasette, cid, came_from, done=verdict))


# Invisible characters a note of nothing else is made of: Unicode format characters (zero-width space,
# joiners, direction marks, BOM), beside the spaces str.isspace knows (NBSP among them).
def _invisible(c: str) -> bool:
    return c.isspace() or unicodedata.category(c) == "Cf"


_LINE_BREAKS = re.compile(r"\r\n?")


def clean_note(text: str) -> str:
    """A reviewer's note as kept: control characters dropped but for line breaks and tabs, invisible
    characters trimmed from both ends; "" when nothing visible is left. Its length is checked by the caller
    against ``MAX_NOTE``."""
    text = _LINE_BREAKS.sub("\n", text)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


async def _same_photo(db, listing_id: int, object_ids: list) -> list[dict]:
    """The other records holding the candidate's registry photo, with their candidate on this lot."""
    ids = [int(i) for i in object_ids if isinstance(i, int)][:50]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = await db.execute(
        f"SELECT o.id, o.source, o.source_id, o.title, (SELECT c.id FROM candidates c WHERE c.listing_id = ? "
        f"AND c.registry_object_id = o.id AND c.kind = 'image') AS candidate_id "
        f"FROM registry_objects o WHERE o.id IN ({marks}) ORDER BY o.source, o.source_id",
        [listing_id, *ids],
    )
    return [dict(r) for r in rows]


# How the candidate page names a lot's fields when it says one was cut (spiders/pipelines/caps.py).
CUT_NAMES = {
    "description_html": "description",
    "lot_id": "lot number",
    "url": "lot URL",
    "house": "auction house",
    "seller": "seller's name",
    "sale_date": "sale date",
    "etag": "ETag header",
    "last_modified": "Last-Modified header",
}
# Fields red-flag screening reads (matcher/text/screen.py) and listing search indexes (listings_fts).
SCREENED = {"title", "description_html", "provenance"}
SEARCHED = {"title", "description_html", "provenance", "seller"}


def cut_notes(cut_json: str | None) -> list[str]:
    """One plain sentence per field the crawler's caps cut, from ``listings.cut_json``.

    ``cut_json`` is ``{field: {"length": N, "kept": K}}`` for text and ``{"image_urls": {"count": N,
    "kept": K, "too_long": T}}`` for photos; NULL, unreadable JSON or odd entries give no sentence.
    """
    try:
        cuts = json.loads(cut_json or "{}")
    except (TypeError, ValueError):
        return []
    if not isinstance(cuts, dict):
        return []
    notes = []
    for field, cut in sorted(cuts.items(), key=lambda kv: (kv[0] != "description_html", kv[0])):
        if not isinstance(cut, dict):
            continue
        if field == "image_urls":
            note = _photo_note(cut)
        elif isinstance(cut.get("length"), int) and isinstance(cut.get("kept"), int):
            note = (
                f"The {CUT_NAMES.get(field, field.replace('_', ' '))} on the page was {cut['length']:,} "
                f"characters long; lootwatch kept the first {cut['kept']:,} (its limit)"
            )
            if field in SCREENED:
                note += ", so red-flag screening and search saw only that part."
            else:
                note += ", so search saw only that part." if field in SEARCHED else "."
        else:
            note = None
        if note:
            notes.append(note)
    return notes


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def similarity_note(evidence: dict) -> str | None:
    """The embedding's numbers in words for the evidence list, from the evidence JSON (odd values give
    none): how alike the two photos are and, what decides, how far above every other record's photo
    (a cosine alone does not tell the same object from one drawn alike): "similarity 0.87 of the two
    photos' learned embeddings (1 is the same picture), 0.23 above the most similar photo of any other
    record (0.64); rank 1 of the 1,242 registry photos searched". A cosine is never shown above 1.00."""
    cosine = _number(evidence.get("cosine"))
    if cosine is None:
        return None
    cosine = min(1.0, max(-1.0, cosine))
    words = f"similarity {cosine:.2f} of the two photos' learned embeddings (1 is the same picture)"
    following = _number(evidence.get("cosine_next"))
    margin = similarity_margin(cosine, following)
    if following is not None and margin is not None:
        following = min(1.0, max(-1.0, following))
        other = f"under {FLOOR:.2f}" if following <= FLOOR else f"{following:.2f}"
        words += f", {margin[1]}{margin[0]} above the most similar photo of any other record ({other})"
    rank, of = _number(evidence.get("cosine_rank")), _number(evidence.get("cosine_of"))
    if rank is not None and of:
        words += f"; rank {int(rank):,} of the {int(of):,} registry photos searched"
    return words


def _photo_note(cut: dict[str, Any]) -> str | None:
    count, kept, too_long = cut.get("count"), cut.get("kept"), cut.get("too_long") or 0
    if not all(isinstance(n, int) for n in (count, kept, too_long)):
        return None
    listed = f"The page listed {count:,} photo{'' if count == 1 else 's'}"
    long_urls = f"{too_long:,} had a URL too long to fetch"
    tail = "so only those were fetched and matched."
    if count - too_long > kept:  # photos beyond the count limit were dropped too
        if too_long:
            return (
                f"{listed}; {long_urls} and lootwatch kept the first {kept:,} of the rest (its limit), {tail}"
            )
        return f"{listed}; lootwatch kept the first {kept:,} (its limit), {tail}"
    return f"{listed}; {long_urls}, so only {kept:,} were fetched and matched."


def _data_uri(jpeg: Any) -> str | None:
    if not isinstance(jpeg, bytes | bytearray) or not jpeg:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(bytes(jpeg)).decode("ascii")
