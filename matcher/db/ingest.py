"""Compute and store everything lootwatch keeps about image bytes, once per SHA-256 and code version.

Used by the crawler's pipelines for every new photo, and by ``refresh`` to bring stored photos up to
the current hashing and feature code from the kept originals (``data/originals/<sha[:2]>/<sha>``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ..photo import embed, hashes
from ..photo.decode import DecodeError
from ..photo.features import FEATURE_VERSION
from ..photo.fingerprint import Fingerprint, fingerprint
from . import connect, store

__all__ = [
    "hash_and_store",
    "known_fields",
    "store_fingerprint",
    "keep_original",
    "refresh",
    "original_path",
]

logger = logging.getLogger(__name__)

ROW_FIELDS = ("sha256", "width", "height", "bytes", "quality", "matchable")


def original_path(originals: Path, sha256: str) -> Path:
    """Where the crawler keeps the original bytes of an image."""
    return Path(originals) / sha256[:2] / sha256


def hash_and_store(
    db: Database, data: bytes, all_transforms: bool, originals: Path | None = None
) -> dict[str, Any]:
    """Fingerprint ``data`` unless this code already did, and return the image row's fields.

    ``all_transforms`` (registry photos) also hashes the 8 rotations/mirror images.
    Raises DecodeError for bytes that are not a usable image.

    ``originals`` (the crawler's pipelines give it): the bytes are kept there first, and a photo whose
    embedding fails (the model missing or not the expected file) is stored with its hashes and features
    but no embedding, so the photo is never lost: ``stale`` names it, and ``refresh`` (the first step of
    ``lootwatch match``) embeds it from the kept original once the model is fixed. The fields then also
    hold ``deferred``, the embedding's failure in one line (not a column: the caller takes it out).
    """
    digest = hashes.sha256(data)
    if originals is not None:
        keep_original(originals, data, digest)
    known = known_fields(db, digest, all_transforms)
    if known is not None:
        return known
    try:
        fp = fingerprint(data, all_transforms=all_transforms)
    except DecodeError:
        raise
    except Exception as exc:
        if originals is None:
            raise
        # Without the embedding: a failure here too is the bytes' (DecodeError) or a bug, and is raised.
        fp = fingerprint(data, all_transforms=all_transforms, embeddings=False)
        logger.warning("photo %s stored without its embedding: %s", digest, exc)
        return store_fingerprint(db, fp) | {"deferred": f"{type(exc).__name__}: {exc}"}
    return store_fingerprint(db, fp)


def known_fields(db: Database, digest: str, all_transforms: bool) -> dict[str, Any] | None:
    """The image row's fields for a photo this code already hashed (by SHA-256), else None."""
    variant = "full/r90" if all_transforms else "full/r0"
    if store.has_hashes(db, digest, hashes.HASH_VERSION, FEATURE_VERSION, variant) and store.has_embeddings(
        db, digest, embed.EMBED_VERSION
    ):
        for table in ("listing_images", "registry_images"):
            for row in db.table(table).rows_where("sha256 = ? AND error IS NULL", [digest], limit=1):
                return {k: row[k] for k in ROW_FIELDS} | {"error": None}
    return None


def store_fingerprint(db: Database, fp: Fingerprint) -> dict[str, Any]:
    """Store one computed fingerprint (hashes, features, thumbnail) and return the image row's fields.

    Computing and storing are apart so worker processes can fingerprint while one process writes.
    """
    with connect.atomic(db):
        db.execute("DELETE FROM image_hashes WHERE sha256 = ?", [fp.sha256])  # drop other code versions
        store.put_hashes(db, fp.sha256, fp.hashes, hashes.HASH_VERSION)
        blobs = fp.features.to_blobs()
        mirror = fp.mirror_features.to_blobs() if fp.mirror_features is not None else None
        store.put_features(
            db, fp.sha256, *blobs, len(fp.features), fp.features.colour, FEATURE_VERSION, mirror
        )
        store.put_thumbnail(db, fp.sha256, fp.thumbnail, *fp.thumb_size)
        store.put_embeddings(db, fp.sha256, fp.embeddings, embed.MODEL, embed.EMBED_VERSION)
    return {
        "sha256": fp.sha256,
        "width": fp.width,
        "height": fp.height,
        "bytes": fp.size,
        "quality": fp.quality,
        "matchable": int(fp.matchable),
        "error": None,
    }


def keep_original(originals: Path, data: bytes, sha256: str) -> Path:
    """Keep ``data`` under ``originals/<sha[:2]>/<sha>`` as the crawler's FilesPipeline does; once."""
    path = original_path(originals, sha256)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a reader never sees half a file under its final name.
        partial = path.with_name(f".{sha256}.{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)
    return path


def stale(db: Database) -> list[tuple[str, bool]]:
    """(sha256, is registry photo) of stored photos not hashed, featured or embedded by the current code."""
    rows = db.query(
        """
        SELECT sha256, MAX(registry) AS registry FROM (
          SELECT sha256, 1 AS registry FROM registry_images WHERE error IS NULL AND sha256 IS NOT NULL
          UNION ALL
          SELECT sha256, 0 FROM listing_images WHERE error IS NULL AND sha256 IS NOT NULL)
        WHERE sha256 NOT IN (SELECT sha256 FROM image_features WHERE feature_version = :f)
           OR sha256 NOT IN (SELECT sha256 FROM image_hashes WHERE hash_version = :h AND variant = 'full/r0')
           OR (registry = 1 AND sha256 NOT IN (
               SELECT sha256 FROM image_hashes WHERE hash_version = :h AND variant = 'full/r90'))
           OR sha256 NOT IN (SELECT sha256 FROM image_embeddings WHERE embed_version = :e AND view = 'full')
        GROUP BY sha256 ORDER BY sha256
        """,
        {"f": FEATURE_VERSION, "h": hashes.HASH_VERSION, "e": embed.EMBED_VERSION},
    )
    return [(r["sha256"], bool(r["registry"])) for r in rows]


def refresh(
    db: Database,
    originals: Path,
    progress: Callable[[int, int], None] | None = None,
    failed: Callable[[str, str], None] | None = None,
) -> dict[str, int]:
    """Re-fingerprint every stored photo whose hashes, features or embeddings predate the current code.

    Returns counts. A missing original is counted and its photo stays as it was (its bytes may come
    back). An original the current code refuses gets the reason as its photo rows' error, so it is not
    tried again; it and one that fails on a bug get an ``errors`` row and ``failed(sha256, reason)``.
    """
    todo = stale(db)
    counts = {"stale": len(todo), "refreshed": 0, "missing": 0, "failed": 0}
    for n, (sha, registry) in enumerate(todo, start=1):
        path = original_path(originals, sha)
        if not path.is_file():
            counts["missing"] += 1
        else:
            try:
                hash_and_store(db, path.read_bytes(), all_transforms=registry)
                counts["refreshed"] += 1
            except DecodeError as exc:
                # The bytes will not change: refused for good, with the reason on the photo's rows.
                _refuse_stored(db, sha, str(exc))
                counts["failed"] += 1
                if failed:
                    failed(sha, str(exc))
            except Exception as exc:  # noqa: BLE001 - a bug on one photo never stops the rest
                # Not marked on the photo: once the bug is fixed, the next match hashes it.
                reason = f"internal error: {type(exc).__name__}: {exc}"
                store.record_error(db, None, "photo", f"sha256:{sha}", reason)
                counts["failed"] += 1
                if failed:
                    failed(sha, reason)
        if progress:
            progress(n, len(todo))
    return counts


def _refuse_stored(db: Database, sha: str, reason: str) -> None:
    """Mark every photo row of ``sha`` refused with ``reason``, and record it once."""
    with connect.atomic(db):
        for table in ("listing_images", "registry_images"):
            db.execute(f"UPDATE {table} SET error = ? WHERE sha256 = ? AND error IS NULL", [reason, sha])
        store.record_error(db, None, "photo", f"sha256:{sha}", f"stored photo no longer decodes: {reason}")
