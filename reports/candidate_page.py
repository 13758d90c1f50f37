"""The candidate page of the review UI, and verdicts posted from it.

``/-/lootwatch/candidate/ID`` shows the listing photo beside the registry photo, every distance and
inlier count, the red flags with the seller's words, the text comparison, links to both sides, the
current status and the whole verdict history. A signed-in reviewer (datasette-auth-passwords) records
confirm, dismiss, escalate or a note; the verdict is appended to ``reviews`` with the reviewer's id and
time, in the words of ``store.VERDICTS`` (confirmed, dismissed, escalated, note) that ``add_review`` uses.
Without a signed-in reviewer, or in read-only mode, nothing can be posted.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from datasette.utils.asgi import Forbidden, NotFound, Response

from matcher.store import VERDICTS, now

from .digest import safe_url
from .reasons import reasons_from_json, split_reasons

__all__ = ["candidate_page", "post_verdict", "cut_notes"]

# One vocabulary in ``reviews`` whoever writes it, so the queue's status column facets as one.
BUTTONS = {"confirmed": "confirm", "dismissed": "dismiss", "escalated": "escalate", "note": "note"}
MAX_NOTE = 5000


def _database(datasette):
    return datasette.get_database(next(iter(datasette.databases.keys() - {"_internal", "_memory"})))


def read_only(datasette) -> bool:
    config = datasette.plugin_config("lootwatch") or {}
    return bool(config.get("read_only"))


async def candidate_page(request, datasette) -> Response:
    db = _database(datasette)
    cid = int(request.url_vars["id"])
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
    queue = (await db.execute("SELECT * FROM review_queue WHERE candidate_id = ?", [cid])).first()
    reviews = [
        dict(r) for r in await db.execute("SELECT * FROM reviews WHERE candidate_id = ? ORDER BY id", [cid])
    ]
    evidence = json.loads(candidate["evidence_json"] or "{}")
    context = {
        "same_photo": await _same_photo(db, candidate["listing_id"], evidence.get("shared") or []),
        "candidate": candidate,
        "listing": listing,
        "record": dict(record) if record else None,
        "listing_photo": _data_uri(queue["listing_photo"] if queue else None),
        "registry_photo": _data_uri(queue["registry_photo"] if queue else None),
        "cut_notes": cut_notes(listing.get("cut_json")),
        **split_reasons(reasons_from_json(candidate["reasons_json"])),  # red_flags, lowering, notes
        "evidence": evidence,
        "text": json.loads(candidate.get("text_json") or "null"),
        "reviews": reviews,
        "status": reviews[-1]["verdict"] if reviews else "open",
        "verdicts": [(v, BUTTONS[v]) for v in VERDICTS],
        "can_post": bool(request.actor) and not read_only(datasette),
        "read_only": read_only(datasette),
        "database": db.name,
        "safe_url": safe_url,
    }
    return Response.html(
        await datasette.render_template("lootwatch_candidate.html", context, request=request)
    )


async def post_verdict(request, datasette) -> Response:
    if read_only(datasette):
        raise Forbidden("this review UI is read-only")
    if not request.actor or not request.actor.get("id"):
        raise Forbidden("sign in to record a verdict")
    cid = int(request.url_vars["id"])
    form = await request.post_vars()
    verdict = form.get("verdict", "")
    note = (form.get("note") or "").strip()[:MAX_NOTE]
    if verdict not in VERDICTS:
        return Response.text(f"unknown verdict {verdict[:40]!r}", status=400)
    if verdict == "note" and not note:
        return Response.text("a note needs some text", status=400)
    db = _database(datasette)

    def write(conn) -> bool:
        # One transaction that takes the write lock first, so it waits for a crawl or a match writing.
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT listing_id, registry_object_id FROM candidates WHERE id = ?", [cid]
            ).fetchone()
            if row is not None:
                conn.execute(
                    "INSERT INTO reviews (candidate_id, listing_id, registry_object_id, verdict, note, "
                    "reviewer, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [cid, row[0], row[1], verdict, note or None, str(request.actor["id"])[:100], now()],
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return row is not None

    if not await db.execute_write_fn(write, block=True):
        raise NotFound(f"no candidate {cid}")
    return Response.redirect(datasette.urls.path(f"/-/lootwatch/candidate/{cid}"))


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
# Fields red-flag screening reads (matcher/screen.py) and listing search indexes (listings_fts).
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
