"""Evidence packs: one candidate, everything an investigator needs, in one zip.

``evidence.warc.gz``: the WARC records of the lot page and its photos, copied byte for byte from the
crawl's WARC files (response and request, as captured); ``originals/``: the photos' original bytes,
named by SHA-256 (the lot's and the registry object's); ``manifest.json``: every file and record with
its SHA-256 and capture time; ``summary.html``: the candidate on one page, with its evidence and every
verdict.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from warcio.archiveiterator import ArchiveIterator

from .digest import TEMPLATES, safe_url

__all__ = ["write_pack", "PackError"]


class PackError(ValueError):
    """The candidate does not exist; the message says so."""


def write_pack(db: Database, candidate_id: int, originals: Path, out: Path) -> Path:
    """Write the evidence pack of one candidate to ``out`` (a .zip path or a folder) and return its path."""
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
    shas = {p["sha256"] for p in photos if p["sha256"]}
    captures = list(
        db.query(
            "SELECT * FROM evidence WHERE url = ? OR sha256 IN (SELECT value FROM json_each(?)) ORDER BY id",
            [listing["url"], json.dumps(sorted(shas))],
        )
    )
    path = out / f"lootwatch-candidate-{candidate_id}.zip" if out.suffix != ".zip" else out
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "candidate_id": candidate_id,
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": [],
        "warc_records": [],
        "missing": [],
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        warc = b"".join(_copy_records(c, manifest) for c in captures)
        if warc:
            _add(zf, manifest, "evidence.warc.gz", warc)
        for owner, rows in (("listing", photos), ("registry", registry_photos)):
            for p in rows:
                sha = p["sha256"]
                source = originals / sha[:2] / sha if sha else None
                if source is not None and source.is_file():
                    _add(zf, manifest, f"originals/{owner}/{sha}", source.read_bytes(), url=p["url"])
                else:
                    manifest["missing"].append({"url": p["url"], "sha256": sha, "error": p["error"]})
        html = TEMPLATES.get_template("evidence.html").render(
            candidate=candidate,
            evidence=json.loads(candidate["evidence_json"] or "{}"),
            reasons=json.loads(candidate["reasons_json"] or "[]"),
            text=json.loads(candidate.get("text_json") or "null"),
            listing=listing,
            record=record,
            reviews=reviews,
            captures=captures,
            manifest=manifest,
            safe_url=safe_url,
        )
        _add(zf, manifest, "summary.html", html.encode("utf-8"))
        zf.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    return path


def _add(zf: zipfile.ZipFile, manifest: dict, name: str, data: bytes, **extra: Any) -> None:
    zf.writestr(name, data)
    manifest["files"].append(
        {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), **extra}
    )


def _copy_records(capture: dict, manifest: dict) -> bytes:
    """The response record at the capture's offset and the request record after it, byte for byte."""
    try:
        with open(capture["warc_file"], "rb") as fh:
            fh.seek(capture["warc_offset"])
            end = capture["warc_offset"]
            for n, rec in enumerate(records := ArchiveIterator(fh)):
                if n == 1 and rec.rec_type != "request":
                    break  # the response had no request record after it
                rec.content_stream().read()
                end = records.get_record_offset() + records.get_record_length()  # offsets are absolute
                if n == 1:
                    break
            if end == capture["warc_offset"]:
                raise ValueError("no WARC record at the recorded offset")
            fh.seek(capture["warc_offset"])
            raw = fh.read(end - capture["warc_offset"])
    except (OSError, StopIteration, ValueError) as exc:
        manifest["missing"].append(
            {"url": capture["url"], "warc_file": capture["warc_file"], "error": str(exc)}
        )
        return b""
    manifest["warc_records"].append(
        {
            "url": capture["url"],
            "status": capture["status"],
            "captured_at": capture["captured_at"],
            "payload_sha256": capture["sha256"],
            "warc_record_id": capture.get("warc_record_id"),
        }
    )
    return raw
