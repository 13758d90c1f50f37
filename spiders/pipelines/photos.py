"""Shared by the listing and registry pipelines: turn one downloaded original into stored hashes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matcher.db.ingest import hash_and_store
from matcher.photo.decode import DecodeError
from spiders.addresses import Refused

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

    Positions are the item's ``positions`` when it has them, else the photos' order.

    A photo that failed to download or decode is stored with its error, recorded and counted. One whose
    embedding failed keeps its original and is stored without the embedding, recorded as an error:
    ``lootwatch match`` embeds it from the original once the model is fixed (``matcher.db.ingest``).
    """
    run = crawler.lootwatch_run
    files_store = crawler.settings.get("FILES_STORE")
    photos = stored_photos(item, files_store)
    # An item may carry only some of its owner's photos (a registry import fetches just the URLs).
    positions = item.get("positions") or range(len(photos))
    for position, (url, data, error) in zip(positions, photos, strict=True):
        fields: dict[str, Any] = {"error": error}
        if data is not None:
            try:
                fields = hash_and_store(
                    run.db, data, all_transforms=all_transforms, originals=Path(files_store)
                )
                crawler.stats.inc_value("lootwatch/store/images")
                if deferred := fields.pop("deferred", None):
                    run.error(
                        "photo",
                        url,
                        f"stored without its embedding ({deferred}); `lootwatch match` computes it from "
                        "the kept original once the model is fixed",
                    )
            except DecodeError as exc:
                fields = {"error": str(exc)}
            except Exception as exc:  # a bug must not lose the photo's row: record it and go on
                logger.exception("hashing %s failed", url)
                fields = {"error": f"internal error: {type(exc).__name__}: {exc}"}
        # A refused photo was recorded where it was refused; it is counted once.
        if fields.get("error") and not fields["error"].startswith(f"{Refused.__name__}: "):
            run.error("photo", url, fields["error"])
        upsert(run.db, owner_id, url, position, **fields)


__all__ = ["stored_photos", "store_photos"]
