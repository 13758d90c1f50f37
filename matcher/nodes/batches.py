"""Ingest the batches crawler nodes wrote to object storage into the review database: the one writer.

A batch (``batches/<site>/<day>/<node>/<job>-<n>.jsonl``, written by Scrapy's feed export on a node,
one row per lot as ``spiders.pipelines.node_export`` makes it) is ingested in one transaction: its lots
(upserted by site + lot id), photos (by lot + position, with the signals the node computed, stored by
``matcher.db.ingest.store_fingerprint`` exactly as a single-machine crawl stores them), evidence rows (by
WARC-Record-ID) and errors, and its line in the ``batches`` ledger (key, SHA-256, bytes, rows, errors).
So a batch in the ledger is wholly in the database and is skipped; a batch whose ingest was killed left
nothing and is ingested again; ingesting twice changes nothing.

Batches are hostile input: an object over ``MAX_BATCH_BYTES`` or a line over ``MAX_LINE_BYTES`` is
refused unread, and a line that is not a lot row is an ``errors`` row (stage ``batch``) with its line
number, counted in the ledger, while the other lines are ingested. A batch whose signals were computed
by other hashing code than this machine's is not ingested (nor ledgered) until the versions agree; a
line whose versions differ from the rest of its batch, or whose node or job is not its key's, is an error
row. A batch of a job the review machine did not schedule for its site and node (``origins.held_back``)
is held back, neither read nor ledgered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ..db import connect, store
from ..db.ingest import keep_original, known_fields, original_path, store_fingerprint
from ..photo import embed, hashes
from ..photo.features import FEATURE_VERSION
from ..photo.fingerprint import Fingerprint
from ..photo.fingerprint_json import SignalsError, from_json
from .objectstore import BATCHES, RUNS, ObjectStore, StorageError, photo_key
from .origins import held_back, key_origin, read_jobs
from .run_summaries import ingest_run_summaries

__all__ = [
    "BatchResult",
    "ingest_batches",
    "ingest_batch",
    "parse_batch",
    "MAX_BATCH_BYTES",
    "MAX_LINE_BYTES",
    "MAX_PHOTO_BYTES",
]

MAX_BATCH_BYTES = 512 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024  # one lot with 50 photos' signals is about 3 MB
MAX_PHOTO_BYTES = 30 * 1024 * 1024  # the crawler's DOWNLOAD_MAXSIZE
MAX_PHOTOS = 50
ROW_FORMAT = "lootwatch-lot/1"
LOT_FIELDS = (
    "site", "lot_id", "url", "title", "description", "description_html", "provenance", "estimate_low",
    "estimate_high", "currency", "price", "house", "seller", "sale_date", "content_sha256", "cuts",
    "image_urls",
)  # fmt: skip
EVIDENCE_FIELDS = ("url", "captured_at", "sha256", "status", "content_type", "warc_offset", "warc_record_id")


class VersionMismatch(ValueError):
    """A batch's signals come from other hashing code than this machine runs."""

    def __init__(self, name: str, theirs: str, mine: str):
        self.which = f"signals made by {name} {theirs[:100]!r}, this machine runs {mine!r}"
        super().__init__(
            f"{self.which}: run the same lootwatch version on the crawler nodes and here, then ingest again"
        )


@dataclass
class Photo:
    position: int
    url: str
    error: str | None
    fp: Fingerprint | None
    refused: bool = False  # signals refused here (a batch problem), not a photo the node failed on


@dataclass
class Lot:
    fields: dict[str, Any]
    photos: list[Photo]
    evidence: list[dict[str, Any]]
    node: str = ""  # the node and job the row says wrote it
    job: str = ""


@dataclass
class BatchResult:
    """What happened to one batch (or run summary): ``status`` is ingested, skipped (in the ledger),
    refused (ledgered with its error: too large, unreadable), waiting (not ledgered: another code
    version, the storage unreachable; the next ingest tries again) or held (not ledgered: a job the
    review machine did not schedule for its site and node, ``origins.held_back``)."""

    key: str
    status: str
    rows: int = 0
    errors: int = 0
    reason: str = ""
    problems: list[str] = field(default_factory=list)


def ingest_batches(
    db: Database,
    objects: ObjectStore,
    data_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    check_jobs: bool = True,
) -> list[BatchResult]:
    """Ingest every batch under ``batches/`` that the ledger does not hold, in key order.

    ``check_jobs``: the job records in the storage are read first (``origins.read_jobs``), and a batch
    of a job the review machine did not schedule for its site and node is held back: nothing of it is
    read or ledgered (off only where no jobs are scheduled, as in a test of the ingest alone). Run
    summaries (``run_summaries``) are ingested after the batches, under the same check; their outcomes
    are in the list too, a summary's key starting with ``runs/``. Once the storage stops answering,
    what is left is not tried (``waiting``).

    Photos' original bytes are copied to ``data_dir/originals/`` and WARC files to ``data_dir/warc/...``
    (for evidence packs); neither is decoded here.

    :raises StorageError: the batches cannot be listed (the storage is unreachable or refuses).
    """
    if check_jobs:
        read_jobs(db, objects)
    listed = objects.list(BATCHES)
    seen = {row[0] for row in db.execute("SELECT key FROM batches")}
    results = []
    for n, (key, size) in enumerate(listed, start=1):
        origin = batch_origin(key)
        if key in seen:
            results.append(BatchResult(key, "skipped"))
        elif origin is None:
            results.append(_refuse(db, key, "", size, BATCH_KEY_SHAPE))
        elif check_jobs and (held := held_back(db, *origin)) is not None:
            results.append(BatchResult(key, "held", reason=held))
        elif size > MAX_BATCH_BYTES:
            results.append(
                _refuse(db, key, "", size, f"{size:,} bytes, over the limit of {MAX_BATCH_BYTES:,}")
            )
        else:
            try:
                data = objects.get(key, MAX_BATCH_BYTES)
            except StorageError as exc:
                results.append(BatchResult(key, "waiting", reason=str(exc)))
            else:
                results.append(ingest_batch(db, key, data, objects, data_dir))
        if progress:
            progress(n, len(listed))
    try:
        fetch_missing_warcs(db, objects, data_dir)
        results += [BatchResult(*outcome) for outcome in ingest_run_summaries(db, objects, check_jobs)]
    except StorageError as exc:
        results.append(BatchResult(RUNS, "waiting", reason=f"run summaries not read: {exc}"))
    return results


def ingest_batch(
    db: Database, key: str, data: bytes, objects: ObjectStore | None, data_dir: Path
) -> BatchResult:
    """Ingest one batch's bytes (see the module) in one transaction; skipped when already in the ledger."""
    digest = hashlib.sha256(data).hexdigest()
    if batch_origin(key) is None:
        if db.execute("SELECT 1 FROM batches WHERE key = ?", [key]).fetchone():
            return BatchResult(key, "skipped")
        return _refuse(db, key, digest, len(data), BATCH_KEY_SHAPE)
    try:
        lots, problems = parse_batch(key, data)
    except VersionMismatch as exc:
        return BatchResult(key, "waiting", reason=str(exc))
    if objects is not None:
        problems += _fetch_files(lots, objects, data_dir)
    home = Path(db.conn.execute("PRAGMA database_list").fetchone()[2] or ".").resolve().parent
    with connect.atomic(db):
        if db.execute("SELECT 1 FROM batches WHERE key = ?", [key]).fetchone():
            return BatchResult(key, "skipped")  # another ingest got there first
        for lot in lots:
            _store_lot(db, lot, data_dir, home)
        for line in problems:
            store.record_error(db, None, "batch", key, line)
        _ledger(db, key, digest, len(data), len(lots), len(problems))
    return BatchResult(key, "ingested", rows=len(lots), errors=len(problems), problems=problems)


def parse_batch(key: str, data: bytes) -> tuple[list[Lot], list[str]]:
    """The lots of a batch, and one line per problem (a bad line, a bad photo) naming where it is.

    :raises VersionMismatch: the batch's signals come from other hashing code than this machine runs:
        every lot row's versions differ from this machine's. Where only some do, each of those is a
        problem line (one node runs one code version: a batch of mixed versions is not a node's).
    """
    lots: list[Lot] = []
    problems: list[str] = []
    foreign: list[tuple[int, VersionMismatch]] = []
    named = batch_origin(key)
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            problems.append(f"line {number}: {len(line):,} bytes, over the limit of {MAX_LINE_BYTES:,}")
            continue
        try:
            lot, photo_problems = _parse_row(line)
        except VersionMismatch as exc:
            foreign.append((number, exc))
            continue
        except (ValueError, RecursionError) as exc:
            problems.append(f"line {number}: {str(exc)[:300]}")
            continue
        if named is not None and (wrong := _not_its_key(lot, named)) is not None:
            problems.append(f"line {number}: {wrong}: refused")
            continue
        lots.append(lot)
        problems += [f"line {number}: {p}" for p in photo_problems]
    if foreign and not lots:
        raise foreign[0][1]
    problems += [f"line {n}: {exc.which}, unlike the rest of its batch: refused" for n, exc in foreign]
    return lots, problems


def _parse_row(line: bytes) -> tuple[Lot, list[str]]:
    row = json.loads(line)  # ValueError (JSONDecodeError, UnicodeDecodeError) for a broken line
    if not isinstance(row, dict) or row.get("format") != ROW_FORMAT:
        raise ValueError(f"not a lot row of format {ROW_FORMAT}")
    for name, mine in (
        ("hash_version", hashes.HASH_VERSION),
        ("feature_version", FEATURE_VERSION),
        ("embed_version", embed.EMBED_VERSION),
    ):
        theirs = row.get(name)
        if not _is_version(theirs):
            raise ValueError(f"{name} missing or malformed")
        if theirs != mine:
            raise VersionMismatch(name, theirs, mine)
    lot = row.get("lot")
    if not isinstance(lot, dict) or not _text(lot.get("site")) or not _text(lot.get("lot_id")):
        raise ValueError("the lot has no site or lot_id")
    fields = {k: lot.get(k) for k in LOT_FIELDS}
    for k, v in fields.items():
        if isinstance(v, dict | list) and k not in ("cuts", "image_urls"):
            raise ValueError(f"lot field {k} is a {type(v).__name__}, not a value")
    fields["site"], fields["lot_id"] = str(lot["site"]), str(lot["lot_id"])
    # A node fetches http(s) pages and photos only: any other address (file:, data:) is not a node's.
    urls = [fields["url"], *(fields["image_urls"] if isinstance(fields["image_urls"], list) else [])]
    if bad := next((u for u in urls if u is not None and not _web_address(u)), None):
        raise ValueError(f"the address {str(bad)[:200]!r} is not an http(s) URL")
    photos, problems = _parse_photos(row.get("photos"))
    evidence = []
    for capture in row.get("evidence") or []:
        if not isinstance(capture, dict) or not _text(capture.get("warc_record_id")):
            continue
        key = capture.get("warc_key")
        if key is not None and not (isinstance(key, str) and _safe_warc_key(key)):
            record = str(capture["warc_record_id"])[:100]
            problems.append(f"capture {record}: WARC key {str(key)[:200]!r} refused")
            capture = {**capture, "warc_key": None}
        evidence.append(capture)
    return Lot(fields, photos, evidence, str(row.get("node"))[:200], str(row.get("job"))[:200]), problems


def _parse_photos(rows: Any) -> tuple[list[Photo], list[str]]:
    if not isinstance(rows, list):
        raise ValueError("photos is not a list")
    if len(rows) > MAX_PHOTOS:
        raise ValueError(f"{len(rows)} photos, over the crawler's cap of {MAX_PHOTOS}")
    photos, problems, positions = [], [], set()
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("position"), int) or not _text(row.get("url")):
            raise ValueError("a photo without a position or URL")
        if not _web_address(row["url"]):
            raise ValueError(f"the photo address {str(row['url'])[:200]!r} is not an http(s) URL")
        if row["position"] in positions or not 0 <= row["position"] < MAX_PHOTOS:
            raise ValueError(f"photo position {row['position']} repeated or out of range")
        positions.add(row["position"])
        error, fp, refused = _text(row.get("error")), None, False
        if error is None:
            try:
                fp = from_json(row.get("signals"))
                if fp.sha256 != row.get("sha256") or not _is_sha256(fp.sha256):
                    raise SignalsError("its SHA-256 does not match the photo's")
            except SignalsError as exc:
                fp, refused, error = None, True, f"signals refused: {exc}"
                problems.append(f"photo {row['url'][:200]}: {error}")
        photos.append(Photo(row["position"], str(row["url"]), error, fp, refused))
    return photos, problems


def _store_lot(db: Database, lot: Lot, data_dir: Path, home: Path) -> None:
    listing_id, _ = store.upsert_listing(db, lot.fields)
    for photo in lot.photos:
        fields: dict[str, Any] = {"error": photo.error, "matchable": 0}
        if photo.fp is not None:
            fields = known_fields(db, photo.fp.sha256, all_transforms=False) or store_fingerprint(
                db, photo.fp
            )
        elif photo.error and not photo.refused:  # the node's own error (a photo that did not decode)
            store.record_error(db, None, "photo", photo.url, photo.error)
        store.upsert_listing_image(db, listing_id, photo.url, photo.position, **fields)
    for capture in lot.evidence:
        if db.execute(
            "SELECT 1 FROM evidence WHERE warc_record_id = ?", [capture["warc_record_id"]]
        ).fetchone():
            continue
        row = {k: capture.get(k) for k in EVIDENCE_FIELDS}
        row["warc_file"] = _warc_stored_path(data_dir, str(capture.get("warc_key") or ""), home)
        db.table("evidence").insert(row)


def _fetch_files(lots: list[Lot], objects: ObjectStore, data_dir: Path) -> list[str]:
    """Copy the lots' photo originals (checked against their SHA-256) and WARC files next to the review
    database; one problem line for each that cannot be had."""
    problems = []
    originals = Path(data_dir) / "originals"
    for sha in sorted({p.fp.sha256 for lot in lots for p in lot.photos if p.fp is not None}):
        if original_path(originals, sha).is_file():
            continue
        try:
            data = objects.get(photo_key(sha), MAX_PHOTO_BYTES)
        except StorageError as exc:
            problems.append(f"original of photo {sha} not copied: {exc}")
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            reason = f"original of photo {sha} refused: its bytes have another SHA-256"
            problems.append(reason)
            for photo in (p for lot in lots for p in lot.photos if p.fp is not None and p.fp.sha256 == sha):
                photo.fp, photo.error, photo.refused = None, reason, True  # not matchable: no original
            continue
        keep_original(originals, data, sha)
    for key in sorted({str(c.get("warc_key") or "") for lot in lots for c in lot.evidence}):
        if _safe_warc_key(key):
            _fetch_warc(objects, data_dir, key)  # a WARC still being written is fetched by a later ingest
    return problems


def _safe_warc_key(key: str) -> bool:
    """A key under ``warc/`` that names a file below it: no ``..``, no absolute path, no %-escapes,
    backslashes or control characters."""
    return (
        key.startswith("warc/")
        and not any(part in ("", ".", "..") for part in key.split("/"))
        and not any(c in key for c in "%\\")
        and key.isprintable()
    )


def _fetch_warc(objects: ObjectStore, data_dir: Path, key: str) -> bool:
    if not _safe_warc_key(key):
        return False
    path = Path(data_dir) / key
    if path.is_file():
        return True
    try:
        objects.download(key, path)
    except StorageError:
        return False
    return True


def fetch_missing_warcs(db: Database, objects: ObjectStore, data_dir: Path) -> int:
    """Copy the WARC files named by evidence rows that are not here yet (uploaded after their batch);
    returns how many were copied."""
    home = Path(db.conn.execute("PRAGMA database_list").fetchone()[2] or ".").resolve().parent
    base = Path(data_dir).resolve()
    copied = 0
    for (stored,) in db.execute("SELECT DISTINCT warc_file FROM evidence WHERE warc_file LIKE '%warc/%'"):
        path = Path(stored) if Path(stored).is_absolute() else home / stored
        try:
            key = path.resolve().relative_to(base).as_posix()
        except ValueError:
            continue  # a single-machine crawl's own WARC file
        if not path.is_file() and _fetch_warc(objects, data_dir, key):
            copied += 1
    return copied


def _warc_stored_path(data_dir: Path, key: str, home: Path) -> str | None:
    if not _safe_warc_key(key):
        return None
    from_home = (Path(data_dir) / key).resolve()
    try:
        return from_home.relative_to(home).as_posix()
    except ValueError:
        return str(from_home)


BATCH_KEY_SHAPE = "a batch key is batches/<site>/<day>/<node>/<job>-<n>.jsonl"


def batch_origin(key: str) -> tuple[str, str, str] | None:
    """``(site, node, job)`` named by a batch key, or None when the key does not have the batch shape."""
    return key_origin(key) if key.startswith(BATCHES) else None


def _not_its_key(lot: Lot, named: tuple[str, str, str]) -> str | None:
    """Why a lot row's own site, node or job is not the one its batch key names, or None."""
    site = lot.fields["site"]
    if site != named[0]:
        return f"a lot of site {site[:100]!r} in a batch of site {named[0]!r}"
    for name, own, value in (("node", lot.node, named[1]), ("job", lot.job, named[2])):
        if own != value:
            return f"its {name} {own[:100]!r} is not its key's {value!r}"
    return None


def _refuse(db: Database, key: str, digest: str, size: int, reason: str) -> BatchResult:
    with connect.atomic(db):
        if db.execute("SELECT 1 FROM batches WHERE key = ?", [key]).fetchone():
            return BatchResult(key, "skipped")  # another ingest got there first
        store.record_error(db, None, "batch", key, f"refused: {reason}")
        _ledger(db, key, digest, size, 0, 1)
    return BatchResult(key, "refused", errors=1, reason=reason)


def _ledger(db: Database, key: str, digest: str, size: int, rows: int, errors: int) -> None:
    db.table("batches").insert(
        {
            "key": key,
            "sha256": digest,
            "bytes": size,
            "rows": rows,
            "errors": errors,
            "ingested_at": connect.now(),
        }
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list | bool):
        return None
    return str(value).strip() or None


def _web_address(value: Any) -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


def _is_version(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable()


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
