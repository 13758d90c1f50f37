"""Evidence packs: one candidate, everything an investigator needs, in one zip: complete or refused.

A pack holds

- ``evidence.warc.gz``: the WARC records (response and request, as captured) of the lot page, its photos
  and the registry photos fetched over the web, copied byte for byte from the crawl's WARC files;
- ``originals/listing/<sha256>``, ``originals/registry/<sha256>``: the photos' original bytes;
- ``summary.html``: the candidate on one page, with why it was raised in the review UI's words
  (``worklist.why_line``, the embedding's similarity as ``candidate_page.similarity_note`` says it), its
  evidence, every verdict, the captures and hashes;
- ``manifest.json``: the tool version, every file, WARC record (WARC-Record-ID, digests, offset, capture
  time) and photo with its SHA-256, and for a candidate with a similarity of learned embeddings the model
  behind it (``embedding``: ``matcher.photo.embed``'s model name, version and model file SHA-256, and the
  version each photo's stored embedding was made with);
- ``SHA256SUMS``: every other file's SHA-256, for ``sha256sum -c``.

Every file is found through the database's own home, wherever the command runs (``locate_warc``), and
checked before it is packed: an original must hash to its name, a WARC record must be the one the
evidence table recorded (WARC-Record-ID and payload SHA-256). Anything missing or changed refuses the
pack (``PackIncomplete``) unless ``allow_incomplete``; then the summary's first line and the manifest's
``complete`` and ``missing`` say what and why. The zip is written to a temporary file in the target
folder, flushed to disk and renamed into place, so a failure (a full disk) leaves an earlier pack as it
was (``PackWriteError``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from matcher.db.ingest import original_path

from .candidate_page import similarity_note
from .digest import TEMPLATES, safe_url
from .reasons import reasons_from_json
from .worklist import any_angle, match_geometry, size_words, why_line

__all__ = ["write_pack", "locate_warc", "Pack", "PackError", "PackIncomplete", "PackWriteError"]


class PackError(ValueError):
    """No pack was written; the message says why (the candidate does not exist, ...)."""


class PackIncomplete(PackError):
    """A file the pack should hold is missing or changed; ``problems`` has one line for each."""

    def __init__(self, candidate_id: int, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"candidate {candidate_id}: no evidence pack written, {len(problems)} "
            f"{'file is' if len(problems) == 1 else 'files are'} missing or changed "
            f"(--allow-incomplete writes it anyway, saying so in its first line):\n{lines}"
        )


class PackWriteError(PackError):
    """The zip could not be written (a full disk, no permission); any earlier pack is unchanged."""


@dataclass
class Pack:
    """A pack written: its path, the SHA-256 of the zip (hex), and what it lacks (empty when complete)."""

    path: Path
    sha256: str
    problems: list[str] = field(default_factory=list)


def write_pack(
    db: Database, candidate_id: int, data_dir: Path, out: Path, allow_incomplete: bool = False
) -> Pack:
    """Write the evidence pack of one candidate and return it.

    :param data_dir: the database's data folder (``originals/`` and ``warc/`` inside).
    :param out: a folder (the pack is ``lootwatch-candidate-ID-YYYYMMDDTHHMMSSZ.zip`` in it, named by the
        time it was made) or a ``.zip`` path; an existing file is never replaced.
    :param allow_incomplete: write a pack that lacks files, saying so, instead of refusing it.
    :raises PackError: no such candidate; ``PackIncomplete``: a file is missing or changed (nothing
        written); ``PackWriteError``: the zip could not be written (an earlier pack is left as it was).
    """
    found = _gather(db, candidate_id)
    home = database_folder(db)
    manifest: dict[str, Any] = {
        "candidate_id": candidate_id,
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "lootwatch", "version": _version()},
        "database": _database_file(db),
        "files": [],
        "warc_records": [],
        "photos": [],
        "not_captured": [],
        "missing": [],
    }
    members: list[tuple[str, bytes]] = []
    problems: list[str] = []
    warc = _copy_captures(found["captures"], home, Path(data_dir), manifest, problems)
    problems += _uncaptured(found, manifest)
    if warc:
        members.append(_member(manifest, "evidence.warc.gz", warc))
    for owner, rows in (("listing", found["photos"]), ("registry", found["registry_photos"])):
        for photo in rows:
            name = f"originals/{owner}/{photo['sha256']}"
            if any(n == name for n, _ in members):
                continue  # the same photo at two positions is packed once
            data = _original(owner, photo, Path(data_dir) / "originals", manifest, problems)
            if data is not None:
                members.append(_member(manifest, name, data, url=photo["url"]))
    if problems and not allow_incomplete:
        raise PackIncomplete(candidate_id, problems)
    manifest["complete"] = not problems
    manifest["missing"] = problems
    evidence = _json_value(found["candidate"].get("evidence_json"), {})
    evidence = evidence if isinstance(evidence, dict) else {}
    reasons = reasons_from_json(found["candidate"].get("reasons_json"))
    text = _json_value(found["candidate"].get("text_json"), None)
    similarity = similarity_note(evidence) if found["candidate"]["kind"] == "image" else None
    if similarity:
        manifest["embedding"] = _embedding(db, found)
    html = TEMPLATES.get_template("evidence.html").render(
        candidate=found["candidate"],
        evidence=evidence,
        reasons=reasons,
        text=text if isinstance(text, dict) else None,
        why=_why(db, found, evidence, reasons),
        similarity=similarity,
        embedding=manifest.get("embedding"),
        sizes=size_words,
        listing=found["listing"],
        record=found["record"],
        reviews=found["reviews"],
        manifest=manifest,
        safe_url=safe_url,
    )
    members.append(_member(manifest, "summary.html", html.encode("utf-8")))
    members.append(("manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")))
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in members}
    members.append(("SHA256SUMS", "".join(f"{h}  {n}\n" for n, h in sums.items()).encode("ascii")))
    # Each pack under its own name: a pack handed on is never replaced by a later one.
    made = datetime.fromisoformat(manifest["made_at"]).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"lootwatch-candidate-{candidate_id}-{made}.zip" if out.suffix != ".zip" else out
    digest = _write_zip(path, members, manifest["made_at"])
    return Pack(path, digest, problems)


def _json_value(value: Any, default: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) and value else default
    except (ValueError, RecursionError):
        return default


def _why(db: Database, found: dict[str, Any], evidence: dict, reasons: list[dict]) -> str:
    """The review UI's why line (``worklist.why_line``) for the candidate, with the matching points'
    geometry recomputed as the candidate page does."""
    candidate, record = found["candidate"], found["record"] or {}
    named = {**candidate, "source": record.get("source"), "source_id": record.get("source_id")}
    geometry = _geometry(db, candidate) if candidate["kind"] == "image" else None
    return why_line(named, evidence, reasons, geometry)


def _pair(db: Database, candidate: dict) -> tuple[str | None, str | None]:
    """The SHA-256 of the lot photo and the registry photo the candidate compares, as the review queue
    shows them."""
    row = next(
        db.query(
            "SELECT listing_sha256, registry_sha256 FROM review_queue WHERE candidate_id = ?",
            [candidate["id"]],
        ),
        None,
    )
    return (row["listing_sha256"], row["registry_sha256"]) if row else (None, None)


def _geometry(db: Database, candidate: dict) -> dict | None:
    listing_sha, registry_sha = _pair(db, candidate)
    if not listing_sha or not registry_sha:
        return None
    lf = db.execute("SELECT xy, desc FROM image_features WHERE sha256 = ?", [listing_sha]).fetchone()
    rf = db.execute(
        "SELECT xy, desc, xy_m, desc_m FROM image_features WHERE sha256 = ?", [registry_sha]
    ).fetchone()
    ls = db.execute(
        "SELECT width, height FROM listing_images WHERE sha256 = ? AND width > 0 LIMIT 1", [listing_sha]
    ).fetchone()
    rs = db.execute(
        "SELECT width, height FROM registry_images WHERE sha256 = ? AND width > 0 LIMIT 1", [registry_sha]
    ).fetchone()
    if not (lf and rf and ls and rs):
        return None
    return match_geometry(
        tuple(lf), tuple(rf), tuple(ls), tuple(rs), any_angle=any_angle(candidate.get("evidence_json"))
    )


def _embedding(db: Database, found: dict[str, Any]) -> dict[str, Any]:
    """The learned embedding behind the similarity: the model this lootwatch embeds with
    (``matcher.photo.embed``: ``MODEL``, ``EMBED_VERSION``, ``ONNX_SHA256``) and the model and version each of
    the two photos' stored embeddings were made with."""
    from matcher.photo.embed import EMBED_VERSION, MODEL, ONNX_SHA256

    photos = []
    for owner, sha in zip(("listing", "registry"), _pair(db, found["candidate"]), strict=True):
        row = (
            db.execute(
                "SELECT model, embed_version FROM image_embeddings WHERE sha256 = ? "
                "ORDER BY view != 'full', view LIMIT 1",
                [sha],
            ).fetchone()
            if sha and "image_embeddings" in db.table_names()
            else None
        )
        photos.append(
            {
                "owner": owner,
                "sha256": sha,
                "model": row[0] if row else None,
                "embed_version": row[1] if row else None,
            }
        )
    return {"model": MODEL, "embed_version": EMBED_VERSION, "onnx_sha256": ONNX_SHA256, "photos": photos}


def locate_warc(stored: str, home: Path, data_dir: Path) -> list[Path]:
    """The places a WARC file named in the evidence table may be, in the order they are tried.

    The stored path as written when absolute, else relative to the database's folder ``home``; then the
    same file name in ``data_dir/warc/``, which finds a database and data folder moved together and the
    rows of databases that stored paths relative to the crawl's working directory (``demo-output/data/
    warc/x.warc.gz`` for a database in ``demo-output/``).
    """
    path = Path(stored)
    first = path if path.is_absolute() else Path(home) / path
    last = Path(data_dir) / "warc" / path.name
    return [first] if first == last else [first, last]


def database_folder(db: Database) -> Path:
    """The folder of the database file behind ``db`` (absolute; the working directory for :memory:)."""
    return Path(_database_file(db) or ".").resolve().parent


def _database_file(db: Database) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2]


def _gather(db: Database, candidate_id: int) -> dict[str, Any]:
    """Everything the database says about a candidate: the rows the pack is made of."""
    candidate = next(db.query("SELECT * FROM candidates WHERE id = ?", [candidate_id]), None)
    if candidate is None:
        raise PackError(f"no candidate {candidate_id}")
    listing = next(db.query("SELECT * FROM listings WHERE id = ?", [candidate["listing_id"]]))
    record = next(
        db.query("SELECT * FROM registry_objects WHERE id = ?", [candidate["registry_object_id"]]), None
    )
    photos = list(
        db.query("SELECT * FROM listing_images WHERE listing_id = ? ORDER BY position", [listing["id"]])
    )
    registry_photos = (
        list(db.query("SELECT * FROM registry_images WHERE object_id = ? ORDER BY position", [record["id"]]))
        if record
        else []
    )
    reviews = list(db.query("SELECT * FROM reviews WHERE candidate_id = ? ORDER BY id", [candidate_id]))
    urls = [listing["url"], *(p["url"] for p in photos + registry_photos)]
    # A photo's bytes may have been captured under another URL (kept once, found by SHA-256).
    shas = sorted({p["sha256"] for p in photos if p["sha256"]})
    captures = list(
        db.query(
            "SELECT * FROM evidence WHERE url IN (SELECT value FROM json_each(?)) "
            "OR sha256 IN (SELECT value FROM json_each(?)) ORDER BY id",
            [json.dumps(urls), json.dumps(shas)],
        )
    )
    return {
        "candidate": candidate,
        "listing": listing,
        "record": record,
        "photos": photos,
        "registry_photos": registry_photos,
        "reviews": reviews,
        "captures": captures,
    }


def _copy_captures(captures: list[dict], home: Path, data_dir: Path, manifest: dict, problems: list) -> bytes:
    """The WARC records of every capture, checked and concatenated; one problem line per capture not
    found or not the one recorded."""
    out = bytearray()
    for capture in captures:
        name = f"WARC record {capture.get('warc_record_id') or '(no id)'} of {capture['url']}"
        places = locate_warc(capture["warc_file"], home, data_dir)
        source = next((p for p in places if p.is_file()), None)
        if source is None:
            tried = " or ".join(str(p) for p in places)
            problems.append(f"{name}: WARC file {capture['warc_file']} not found (looked for {tried})")
            continue
        try:
            raw, entry = _read_record(source, capture)
        except (OSError, ArchiveLoadFailed, EOFError, StopIteration, ValueError, zlib.error) as exc:
            problems.append(f"{name}: {source} at offset {capture['warc_offset']}: {exc}")
            continue
        entry.update(offset=len(out), length=len(raw), source_file=str(source))
        manifest["warc_records"].append(entry)
        out += raw
    return bytes(out)


def _read_record(path: Path, capture: dict) -> tuple[bytes, dict[str, Any]]:
    """The response record at the capture's offset and the request record after it, byte for byte,
    after checking the response is the one recorded. Raises ValueError saying how it differs."""
    start = capture["warc_offset"]
    with open(path, "rb") as fh:
        fh.seek(start)
        records = ArchiveIterator(fh)
        response = next(records)
        headers = response.rec_headers
        record_id = headers.get_header("WARC-Record-ID")
        if response.rec_type != "response":
            raise ValueError(f"the record there is a {response.rec_type} record, not a response")
        if capture.get("warc_record_id") and record_id != capture["warc_record_id"]:
            raise ValueError(f"the record there is {record_id}, not the recorded one")
        payload = hashlib.sha256(response.raw_stream.read()).hexdigest()
        if payload != capture["sha256"]:
            raise ValueError(f"its payload has SHA-256 {payload}, not the recorded {capture['sha256']}")
        end = records.get_record_offset() + records.get_record_length()  # offsets are absolute
        request_id = None
        following = next(records, None)
        if following is not None and following.rec_type == "request":
            following.content_stream().read()
            if following.rec_headers.get_header("WARC-Concurrent-To") == record_id:
                request_id = following.rec_headers.get_header("WARC-Record-ID")
                end = records.get_record_offset() + records.get_record_length()
        fh.seek(start)
        raw = fh.read(end - start)
    entry = {
        "url": capture["url"],
        "status": capture["status"],
        "content_type": capture.get("content_type"),
        "captured_at": capture["captured_at"],
        "warc_date": headers.get_header("WARC-Date"),
        "warc_record_id": record_id,
        "warc_payload_digest": headers.get_header("WARC-Payload-Digest"),
        "warc_block_digest": headers.get_header("WARC-Block-Digest"),
        "payload_sha256": payload,
        "request_record_id": request_id,
        "source_offset": start,
    }
    return raw, entry


def _uncaptured(found: dict, manifest: dict) -> list[str]:
    """Problems for the lot page and the kept listing photos that the evidence table holds no capture
    of; photos never fetched are listed apart (no bytes to pack; the crawl's reason is kept)."""
    urls = {c["url"] for c in found["captures"]}
    shas = {c["sha256"] for c in found["captures"]}
    problems = []
    if found["listing"]["url"] not in urls:
        problems.append(f"lot page {found['listing']['url']}: no WARC capture in the evidence table")
    for owner, rows in (("listing", found["photos"]), ("registry", found["registry_photos"])):
        for p in rows:
            if not p["sha256"]:
                manifest["not_captured"].append({"owner": owner, "url": p["url"], "error": p["error"]})
            elif owner == "listing" and p["url"] not in urls and p["sha256"] not in shas:
                problems.append(f"photo {p['url']}: no WARC capture in the evidence table")
    return problems


def _original(owner: str, photo: dict, originals: Path, manifest: dict, problems: list) -> bytes | None:
    """A photo's original bytes once checked against the SHA-256 they are kept under, else None with a
    problem line (photos never fetched have no bytes and no problem)."""
    sha = photo["sha256"]
    if not sha:
        return None
    name = f"originals/{owner}/{sha}"
    path = original_path(originals, sha)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(f"{name} (photo {photo['url']}): not found at {path}")
        return None
    except OSError as exc:
        problems.append(f"{name} (photo {photo['url']}): {path} could not be read ({exc.strerror or exc})")
        return None
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        problems.append(
            f"{name} (photo {photo['url']}): {path} was changed on disk: its SHA-256 is {got}, "
            "not the one it is named and recorded by"
        )
        return None
    captures = [
        {"warc_record_id": r["warc_record_id"], "offset": r["offset"]}
        for r in manifest["warc_records"]
        if r["payload_sha256"] == sha
    ]
    manifest["photos"].append(
        {"owner": owner, "url": photo["url"], "sha256": sha, "file": name, "warc_records": captures}
    )
    return data


def _member(manifest: dict, name: str, data: bytes, **extra: Any) -> tuple[str, bytes]:
    manifest["files"].append(
        {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), **extra}
    )
    return name, data


def _write_zip(path: Path, members: list[tuple[str, bytes]], made_at: str) -> str:
    """Write ``members`` to the zip ``path`` through a temporary file beside it, flushed to disk and
    renamed into place; return the zip's SHA-256. Raises PackWriteError, leaving ``path`` as it was."""
    stamp = datetime.fromisoformat(made_at).timetuple()[:6]
    existed = path.exists()
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                for member, data in members:
                    info = zipfile.ZipInfo(member, stamp)
                    info.external_attr = 0o644 << 16  # readable files when unzipped
                    zf.writestr(info, data, zipfile.ZIP_DEFLATED)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it replaces anything
        with open(tmp, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()  # of the bytes as they are on disk
        os.link(tmp, path)  # never over a file already there (unlike a rename)
        tmp.unlink()
        tmp = None
    except FileExistsError as exc:
        raise PackWriteError(
            f"{path} already exists and is kept: a pack is never replaced; give --out another name or folder"
        ) from exc
    except OSError as exc:
        kept = "the pack already there is unchanged" if existed else "nothing was written"
        raise PackWriteError(f"could not write {path}: {exc.strerror or exc}; {kept}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    _sync_folder(path.parent)
    return digest


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a folder that cannot be opened is left to the OS."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename has happened either way
    finally:
        os.close(fd)


def _version() -> str:
    try:
        return metadata.version("lootwatch")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"
