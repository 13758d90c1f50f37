"""Shared by the listing and registry pipelines: turn one downloaded original into stored hashes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from matcher import hashes, store
from matcher.decode import DecodeError
from matcher.features import FEATURE_VERSION
from matcher.fingerprint import fingerprint

logger = logging.getLogger(__name__)


def stored_photos(item: Any, files_store: str) -> list[tuple[str, bytes | None, str | None]]:
    """``(url, bytes, error)`` for every photo URL of an item, in the item's order."""
    got = {f["url"]: f for f in item.get("files") or []}
    failed = dict(item.get("file_errors") or [])
    out = []
    for url in item.get("image_urls") or []:
        if url in got:
            out.append((url, (Path(files_store) / got[url]["path"]).read_bytes(), None))
        else:
            out.append((url, None, failed.get(url, "not downloaded")))
    return out


def store_photos(
    crawler: Any, item: Any, owner_id: int, upsert: Callable[..., int], all_transforms: bool
) -> None:
    """Hash and store every photo of ``item`` with ``upsert(db, owner_id, url, position, **fields)``.

    A photo that failed to download or decode is stored with its error, recorded and counted.
    """
    run = crawler.lootwatch_run
    for position, (url, data, error) in enumerate(stored_photos(item, crawler.settings.get("FILES_STORE"))):
        fields: dict[str, Any] = {"error": error}
        if data is not None:
            try:
                fields = hash_photo(run.db, data, all_transforms=all_transforms)
                crawler.stats.inc_value("lootwatch/store/images")
            except DecodeError as exc:
                fields = {"error": str(exc)}
            except Exception as exc:  # a bug must not lose the photo's row: record it and go on
                logger.exception("hashing %s failed", url)
                fields = {"error": f"internal error: {type(exc).__name__}: {exc}"}
        if fields.get("error"):
            run.error("photo", url, fields["error"])
        upsert(run.db, owner_id, url, position, **fields)


def hash_photo(db: Database, data: bytes, all_transforms: bool) -> dict[str, Any]:
    """Fingerprint ``data`` (once per SHA-256 and hashing version) and return the image row's fields.

    Raises DecodeError for bytes that are not a usable image.
    """
    digest = hashes.sha256(data)
    variant = "full/r90" if all_transforms else "full/r0"
    known = store.has_hashes(db, digest, hashes.HASH_VERSION, FEATURE_VERSION, variant)
    row = _known(db, digest) if known else None
    if row is not None:
        return row
    fp = fingerprint(data, all_transforms=all_transforms)
    with db.atomic():
        store.put_hashes(db, fp.sha256, fp.hashes, hashes.HASH_VERSION)
        store.put_features(
            db, fp.sha256, *fp.features.to_blobs(), len(fp.features), fp.colour, FEATURE_VERSION
        )
        store.put_thumbnail(db, fp.sha256, fp.thumbnail, *fp.thumb_size)
    return {
        "sha256": fp.sha256,
        "width": fp.width,
        "height": fp.height,
        "bytes": fp.size,
        "quality": fp.quality,
        "matchable": int(fp.matchable),
        "error": None,
    }


def _known(db: Database, digest: str) -> dict[str, Any] | None:
    for table in ("listing_images", "registry_images"):
        for row in db.table(table).rows_where("sha256 = ? AND error IS NULL", [digest], limit=1):
            return {k: row[k] for k in ("sha256", "width", "height", "bytes", "quality", "matchable")} | {
                "error": None
            }
    return None


__all__ = ["stored_photos", "store_photos", "hash_photo"]
