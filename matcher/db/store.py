"""The rows of the review database: registry records and banks, listings, photos and their signals,
candidates, verdicts, runs and errors (sqlite-utils; opened by ``connect.open_db``).

Machine-written tables (listings, images, hashes, candidates) are upserted with explicit keys, so
re-running a crawl or a match converges on the same rows. ``reviews`` is append-only and only
``add_review`` writes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlite_utils import Database

from .connect import atomic, now
from .schema import OBJECT_ID_FIELDS

__all__ = [
    "upsert_registry_object",
    "upsert_registry_objects",
    "upsert_registry_image",
    "upsert_listing",
    "set_validators",
    "upsert_listing_image",
    "put_hashes",
    "put_features",
    "put_thumbnail",
    "put_embeddings",
    "add_review",
    "start_run",
    "finish_run",
    "record_error",
    "registry_change_seq",
    "registry_changes",
    "prune_registry_changes",
    "VERDICTS",
]

VERDICTS = ("confirmed", "dismissed", "escalated", "note")


def upsert_registry_object(db: Database, record: dict[str, Any]) -> int:
    """Insert or update one registry object keyed by source + source_id; returns its id."""
    row = _registry_row(record)
    existing = _one(db, "registry_objects", "source = ? AND source_id = ?", [row["source"], row["source_id"]])
    if existing is None:
        ensure_bank(db, row["source"])
        row["imported_at"] = row["updated_at"] = now()
        return db.table("registry_objects").insert(row).last_pk
    if any(existing.get(k) != v for k, v in row.items()):
        row["updated_at"] = now()
        db.table("registry_objects").update(existing["id"], row)
    return existing["id"]


def upsert_registry_objects(db: Database, records: list[dict[str, Any]]) -> list[int]:
    """``upsert_registry_object`` for a batch of records (the same rows); returns their ids in order.

    One query finds the batch's existing rows and rows are written with plain SQL: per-row lookups and
    sqlite-utils' table introspection on every insert were most of a 200,000-record import's time.
    """
    rows = [_registry_row(r) for r in records]
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for source in dict.fromkeys(r["source"] for r in rows):  # in file order: banks are added as they come
        ids = [r["source_id"] for r in rows if r["source"] == source]
        for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
            part = ids[start : start + 500]
            cursor = db.execute(
                "SELECT * FROM registry_objects WHERE source = ? AND source_id IN "
                f"({', '.join('?' * len(part))})",
                [source, *part],
            )
            names = [d[0] for d in cursor.description]
            for values in cursor.fetchall():
                found = dict(zip(names, values, strict=True))
                existing[(found["source"], found["source_id"])] = found
        ensure_bank(db, source)
    out = []
    for row in rows:
        key = (row["source"], row["source_id"])
        old = existing.get(key)
        if old is None:
            row["imported_at"] = row["updated_at"] = now()
            out.append(_insert_row(db, "registry_objects", row))
            existing[key] = {**row, "id": out[-1]}
        elif any(old.get(k) != v for k, v in row.items()):
            row["updated_at"] = now()
            sets = ", ".join(f'"{k}" = ?' for k in row)
            db.execute(f"UPDATE registry_objects SET {sets} WHERE id = ?", [*row.values(), old["id"]])
            existing[key] = {**old, **row}
            out.append(old["id"])
        else:
            out.append(old["id"])
    return out


def _registry_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {k: _text(record.get(k)) for k in OBJECT_ID_FIELDS}
    row.update(
        source=record["source"],
        source_id=str(record["source_id"]),
        status=_text(record.get("status")) or "stolen",
        source_url=_text(record.get("source_url")),
        record_json=json.dumps(record, sort_keys=True, default=str),
    )
    return row


def _insert_row(db: Database, table: str, row: dict[str, Any]) -> int:
    names = ", ".join(f'"{k}"' for k in row)
    cursor = db.conn.execute(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values())
    )
    return cursor.lastrowid


# The registry records that take part in matching, as a condition on ``registry_objects o``.
ACTIVE_RECORD = (
    "COALESCE(o.status, '') != 'withdrawn' AND o.source NOT IN (SELECT source FROM banks WHERE enabled = 0)"
)


def ensure_bank(db: Database, source: str) -> None:
    """Make sure the registry source has a row in ``banks`` (enabled by default)."""
    db.execute("INSERT OR IGNORE INTO banks (source, enabled, updated_at) VALUES (?, 1, ?)", [source, now()])


def set_bank(db: Database, source: str, enabled: bool, note: str | None = None) -> None:
    """Switch a registry source's bank on or off; its records stay either way."""
    ensure_bank(db, source)
    db.execute(
        "UPDATE banks SET enabled = ?, note = COALESCE(?, note), updated_at = ? WHERE source = ?",
        [int(enabled), note, now(), source],
    )


def withdraw_unseen(db: Database, source: str, seen: set[str]) -> int:
    """After a complete listing of ``source``, mark its records that were not in it ``withdrawn``
    (recovered or taken down by the source); they keep their rows, photos and candidates."""
    rows = db.execute(
        "SELECT id, source_id FROM registry_objects WHERE source = ? AND COALESCE(status, '') != 'withdrawn'",
        [source],
    ).fetchall()
    gone = [i for i, sid in rows if sid not in seen]
    stamp = now()
    with atomic(db):
        for i in gone:
            db.table("registry_objects").update(i, {"status": "withdrawn", "updated_at": stamp})
        db.execute(
            "UPDATE banks SET records = ?, last_complete = ?, updated_at = ? WHERE source = ?",
            [len(seen), stamp, stamp, source],
        )
    return len(gone)


def registry_state(db: Database) -> str:
    """Changes whenever a registry record, photo or bank changes: stored listings are then due to be
    matched again (retro-matching)."""
    # A digest of every row, not counts and the latest timestamp: timestamps have whole seconds, and an
    # edit or withdrawal in the second of the last change would leave those alone.
    digest = hashlib.sha256()
    for table in ("registry_objects", "registry_images", "banks"):
        for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid"):
            digest.update(repr(row).encode())
    return digest.hexdigest()[:32]


def registry_change_seq(db: Database) -> int:
    """The number of the latest registry change (``registry_changes``, written by triggers); 0 if none.

    Read from ``sqlite_sequence``: it keeps counting after old changes are pruned."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'registry_changes'").fetchone()
    return int(row[0]) if row else 0


def registry_changes(db: Database, since: int, through: int) -> tuple[set[int], set[str]]:
    """Registry records changed after change ``since`` up to ``through`` (a bank switched on or off
    counts as all its records), and the photos (SHA-256) those records held before the change."""
    rows = db.execute(
        "SELECT object_id, source, sha256 FROM registry_changes WHERE seq > ? AND seq <= ?", [since, through]
    ).fetchall()
    objects = {obj for obj, _, _ in rows if obj is not None}
    sources = sorted({src for _, src, _ in rows if src is not None})
    for src in sources:
        objects.update(r[0] for r in db.execute("SELECT id FROM registry_objects WHERE source = ?", [src]))
    return objects, {sha for _, _, sha in rows if sha is not None}


def prune_registry_changes(db: Database, through: int) -> None:
    """Forget changes up to ``through`` once every stored listing is matched through it."""
    db.execute("DELETE FROM registry_changes WHERE seq <= ?", [through])


def upsert_registry_image(db: Database, object_id: int, url: str, position: int, **fields: Any) -> int:
    """Insert or update the photo at ``position`` of a registry object; returns its id."""
    return _upsert_image(db, "registry_images", "object_id", object_id, url, position, fields)


def retire_registry_images(db: Database, object_id: int, listed: int) -> int:
    """A record's photos from position ``listed`` on are no longer in its source: they stop being matched
    (``matchable`` 0, ``error`` says why) and their rows stay, as evidence for the candidates and verdicts
    that rest on them. Listed again, a photo is matched again. Returns the photos retired."""
    return db.execute(
        "UPDATE registry_images SET matchable = 0, error = ? "
        "WHERE object_id = ? AND position >= ? AND error IS NULL",
        [RETIRED_PHOTO, object_id, listed],
    ).rowcount


RETIRED_PHOTO = "no longer listed by the record's source"


def upsert_listing(db: Database, item: dict[str, Any]) -> tuple[int, bool]:
    """Insert or update one lot keyed by site + lot_id; returns (id, changed).

    ``item["cuts"]``, when the crawler's caps cut the lot (``{field: {"length": ..., "kept": ...}}``), is
    stored as JSON in ``cut_json``; a lot stored again without cuts has ``cut_json`` cleared.
    """
    keys = (
        "url",
        "title",
        "description",
        "description_html",
        "provenance",
        "estimate_low",
        "estimate_high",
        "currency",
        "price",
        "house",
        "seller",
        "sale_date",
        "content_sha256",
    )
    row = {k: item.get(k) for k in keys}
    cuts = item.get("cuts")
    row["cut_json"] = json.dumps(cuts, sort_keys=True, default=str) if cuts else None
    seen = now()
    existing = _one(db, "listings", "site = ? AND lot_id = ?", [item["site"], str(item["lot_id"])])
    if existing is None:
        row.update(site=item["site"], lot_id=str(item["lot_id"]), first_seen=seen, last_seen=seen, gone=0)
        return db.table("listings").insert(row).last_pk, True
    changed = any(existing.get(k) != v for k, v in row.items())
    row.update(last_seen=seen, gone=0)
    db.table("listings").update(existing["id"], row if changed else {"last_seen": seen, "gone": 0})
    return existing["id"], changed


def set_validators(db: Database, listing_id: int, etag: str | None, last_modified: str | None) -> None:
    """Remember a lot page's ETag and Last-Modified for conditional requests. Called once the lot and its
    photos are stored: a page answered 304 is never stored again, so a lot stored without its photos
    (a crawl killed in between) must not be able to earn a 304."""
    db.execute(
        "UPDATE listings SET etag = ?, last_modified = ? WHERE id = ?", [etag, last_modified, listing_id]
    )


def sync_candidates(db: Database, listing_id: int, kind: str, found: dict[int, dict[str, Any]]) -> None:
    """Make a listing's candidates of ``kind`` say what was just ``found`` (registry object -> fields).

    Keyed by (listing, registry object, kind), so re-running converges on the same rows; a candidate that
    no longer holds keeps its row, and with it its verdicts, with ``tier`` NULL.
    """
    table = db.table("candidates")
    existing = {
        r["registry_object_id"]: r
        for r in table.rows_where("listing_id = ? AND kind = ?", [listing_id, kind])
    }
    for obj_id, row in existing.items():
        if obj_id not in found and row["tier"] is not None:
            table.update(row["id"], {"tier": None, "updated_at": now()})
    for obj_id, fields in found.items():
        row = existing.get(obj_id)
        if row is None:
            table.insert(
                {
                    "listing_id": listing_id,
                    "registry_object_id": obj_id,
                    "kind": kind,
                    "created_at": now(),
                    "updated_at": now(),
                    **fields,
                }
            )
        elif any(row.get(k) != v for k, v in fields.items()):
            table.update(row["id"], {**fields, "updated_at": now()})


def touch_listing(db: Database, site: str, url: str) -> bool:
    """The lot at ``url`` is still listed and unchanged: update ``last_seen``. False if unknown."""
    cursor = db.execute(
        "UPDATE listings SET last_seen = ?, gone = 0 WHERE site = ? AND url = ?", [now(), site, url]
    )
    return cursor.rowcount > 0


def validators(db: Database, site: str, url: str) -> tuple[str | None, str | None]:
    """(ETag, Last-Modified) the lot page at ``url`` was last served with, if any."""
    row = db.execute(
        "SELECT etag, last_modified FROM listings WHERE site = ? AND url = ? LIMIT 1", [site, url]
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def mark_gone(db: Database, site: str, since: str) -> int:
    """After a complete crawl of ``site``: lots not seen since ``since`` have left it."""
    cursor = db.execute(
        "UPDATE listings SET gone = 1 WHERE site = ? AND gone = 0 AND last_seen < ?", [site, since]
    )
    return cursor.rowcount


def known_photo(db: Database, url: str) -> str | None:
    """SHA-256 of the photo already stored from ``url``, if any."""
    for table in ("listing_images", "registry_images"):
        row = db.execute(
            f"SELECT sha256 FROM {table} WHERE url = ? AND sha256 IS NOT NULL AND error IS NULL "
            "ORDER BY id DESC LIMIT 1",
            [url],
        ).fetchone()
        if row:
            return row[0]
    return None


def upsert_listing_image(db: Database, listing_id: int, url: str, position: int, **fields: Any) -> int:
    """Insert or update the photo at ``position`` of a lot; returns its id."""
    return _upsert_image(db, "listing_images", "listing_id", listing_id, url, position, fields)


def put_hashes(db: Database, sha256: str, hashes: dict[str, dict[str, Any]], hash_version: str) -> None:
    """Store the hashes of one image's variants (``{"full/r0": {"pdq": ..., ...}, ...}``)."""
    rows = [{"sha256": sha256, "variant": v, **h, "hash_version": hash_version} for v, h in hashes.items()]
    db.table("image_hashes").upsert_all(rows, pk=("sha256", "variant"))


def put_features(
    db: Database,
    sha256: str,
    xy: bytes,
    desc: bytes,
    n: int,
    colour: str,
    version: str,
    mirror: tuple[bytes, bytes] | None = None,
) -> None:
    """Store one image's local features (and those of its mirror image) and colour signature."""
    xy_m, desc_m = mirror or (None, None)
    db.table("image_features").upsert(
        {
            "sha256": sha256,
            "n": n,
            "xy": xy,
            "desc": desc,
            "colour": colour,
            "feature_version": version,
            "xy_m": xy_m,
            "desc_m": desc_m,
        },
        pk="sha256",
    )


def put_embeddings(db: Database, sha256: str, vectors: dict[str, Any], model: str, version: str) -> None:
    """Store one image's embeddings (``{view: float16 array of shape (1280,)}``), replacing any other
    version's."""
    db.execute("DELETE FROM image_embeddings WHERE sha256 = ?", [sha256])
    rows = [
        {"sha256": sha256, "view": v, "vector": vec.tobytes(), "model": model, "embed_version": version}
        for v, vec in vectors.items()
    ]
    db.table("image_embeddings").insert_all(rows, pk=("sha256", "view"))


def has_embeddings(db: Database, sha256: str, version: str) -> bool:
    """True when the image's views are embedded by this code (``embed.EMBED_VERSION``)."""
    row = db.execute(
        "SELECT 1 FROM image_embeddings WHERE sha256 = ? AND view = 'full' AND embed_version = ?",
        [sha256, version],
    ).fetchone()
    return row is not None


def put_thumbnail(db: Database, sha256: str, jpeg: bytes, width: int, height: int) -> None:
    """Store a small JPEG of an image, once per SHA-256."""
    db.table("thumbnails").upsert(
        {"sha256": sha256, "jpeg": jpeg, "width": width, "height": height}, pk="sha256"
    )


def has_hashes(
    db: Database, sha256: str, hash_version: str, feature_version: str, variant: str = "full/r0"
) -> bool:
    """True when ``variant`` of the image is hashed, and its features computed, by this code."""
    row = db.execute(
        "SELECT 1 FROM image_hashes h JOIN image_features f ON f.sha256 = h.sha256 "
        "WHERE h.sha256 = ? AND h.variant = ? AND h.hash_version = ? AND f.feature_version = ?",
        [sha256, variant, hash_version, feature_version],
    ).fetchone()
    return row is not None


def add_review(db: Database, candidate_id: int, verdict: str, reviewer: str, note: str = "") -> int:
    """Append a verdict to ``reviews``; the latest one is the candidate's status."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    cand = _one(db, "candidates", "id = ?", [candidate_id])
    if cand is None:
        raise ValueError(f"no candidate {candidate_id}")
    with atomic(db):
        return (
            db.table("reviews")
            .insert(
                {
                    "candidate_id": candidate_id,
                    "listing_id": cand["listing_id"],
                    "registry_object_id": cand["registry_object_id"],
                    "verdict": verdict,
                    "note": note,
                    "reviewer": reviewer,
                    "created_at": now(),
                }
            )
            .last_pk
        )


def start_run(db: Database, spider: str, kind: str) -> int:
    """Open a crawl_runs row for one spider run."""
    return (
        db.table("crawl_runs")
        .insert(
            {
                "spider": spider,
                "kind": kind,
                "started_at": now(),
                "status": "running",
                "items": 0,
                "images": 0,
                "errors": 0,
            }
        )
        .last_pk
    )


def finish_run(db: Database, run_id: int, status: str, stats: dict[str, Any]) -> None:
    """Close a crawl_runs row with the spider's counts."""
    db.table("crawl_runs").update(
        run_id,
        {
            "finished_at": now(),
            "status": status,
            "items": stats.get("lootwatch/store/items", 0),
            "images": stats.get("lootwatch/store/images", 0),
            "errors": stats.get("lootwatch/errors", 0),
            "stats_json": json.dumps(stats, sort_keys=True, default=str),
        },
    )


def record_error(db: Database, run_id: int | None, stage: str, url: str | None, reason: str) -> None:
    """Keep one bad input's reason; nothing bad is dropped silently."""
    db.table("errors").insert(
        {"run_id": run_id, "stage": stage, "url": url, "reason": reason[:500], "created_at": now()}
    )


def _upsert_image(
    db: Database, table: str, owner_col: str, owner_id: int, url: str, position: int, fields: dict[str, Any]
) -> int:
    # Keyed by position, not URL: image URLs change (CDN parameters, hosts) while the photo stays the same.
    existing = _one(db, table, f"{owner_col} = ? AND position = ?", [owner_id, position])
    row = {"url": url, **fields}
    if existing is None:
        return (
            db.table(table)
            .insert(
                {owner_col: owner_id, "position": position, "added_at": now(), "updated_at": now(), **row}
            )
            .last_pk
        )
    if any(existing.get(k) != v for k, v in row.items()):
        if "matched_version" in existing and existing.get("sha256") != row.get("sha256"):
            row["matched_version"] = None  # a different photo: match it again
        db.table(table).update(existing["id"], {**row, "updated_at": now()})
    return existing["id"]


def _one(db: Database, table: str, where: str, args: list[Any]) -> dict[str, Any] | None:
    return next(iter(db.table(table).rows_where(where, args, limit=1)), None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None
