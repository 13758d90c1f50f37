"""On a crawler node: fingerprint each lot's photos here and hand the lot to the feed as one batch row.

The photos are decoded and hashed by ``matcher.photo.fingerprint.fingerprint``, the function the
single-machine store calls, and its result travels whole (``matcher.photo.fingerprint_json``), so the review
machine stores exactly what it would have computed and never decodes a lot photo. Each original goes to
object storage under its SHA-256 before the row that names it can reach a batch.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from matcher.db import connect, store
from matcher.nodes.objectstore import StorageError, photo_key, warc_key
from matcher.photo import embed, hashes
from matcher.photo.decode import DecodeError
from matcher.photo.features import FEATURE_VERSION
from matcher.photo.fingerprint import fingerprint
from matcher.photo.fingerprint_json import to_json
from spiders.addresses import Refused
from spiders.items import ListingItem

from ..node import node_context
from .listings import listing_fields
from .photos import stored_photos

__all__ = ["NodeExportPipeline", "ROW_FORMAT"]

logger = logging.getLogger(__name__)

ROW_FORMAT = "lootwatch-lot/1"
EVIDENCE_COLUMNS = "url, captured_at, sha256, status, content_type, warc_file, warc_offset, warc_record_id"


def _fingerprint(data: bytes) -> tuple[Any, str | None]:
    """``(fingerprint, None)``; when only the embedding fails (``matcher.db.ingest.hash_and_store`` does the
    same), the fingerprint without embeddings and the failure in one line: the photo is not lost, and
    the review machine's ``lootwatch match`` embeds it from the original (``matcher.db.ingest.refresh``)."""
    try:
        return fingerprint(data), None
    except DecodeError:
        raise
    except Exception as exc:
        fp = fingerprint(data, embeddings=False)  # a failure here too is the bytes' or a bug: raised
        return fp, f"{type(exc).__name__}: {exc}"


class NodeExportPipeline:
    """Turn a ``ListingItem`` into a batch row: ``{"format", "node", "job", "hash_version",
    "feature_version", "embed_version", "lot", "photos", "evidence"}``.

    ``photos`` is one ``{"position", "url", "sha256", "error", "signals"}`` per photo URL, ``signals``
    the serialised fingerprint (None when the photo failed, with ``error`` saying why); ``evidence`` the
    captures of the lot page and photos in this run, each naming the WARC object it is in. The lot is
    also kept in the node's own database, for the next run's conditional requests.

    The lot page's validators (ETag, Last-Modified) are staged, not stored: a page answered 304 is never
    exported again, so they become the node's state only when the feed export has stored every batch of
    the job (``feed_exporter_closed`` with no failed feed store). A job that dies, or whose batches do not
    reach the storage, leaves the node's validators as they were and the next crawl exports those lots.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.staged: dict[int, tuple[str | None, str | None]] = {}
        crawler.signals.connect(self.feed_exporter_closed, signal=signals.feed_exporter_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NodeExportPipeline:
        """The pipeline, once the embedding model is checked: a missing or wrong model stops the crawl
        before its first request (one line in the job's log naming the file and the fix), rather than
        exporting lots whose photos all failed."""
        try:
            embed.ensure_model()
        except embed.ModelError as exc:
            logger.critical("lootwatch: %s", exc)
            raise
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ListingItem):
            return item
        run = self.crawler.lootwatch_run
        context = node_context(self.crawler)
        listing = listing_fields(item)
        photos = [
            self._photo(position, url, data, error)
            for position, (url, data, error) in enumerate(
                stored_photos(item, self.crawler.settings.get("FILES_STORE"))
            )
        ]
        with connect.atomic(run.db):
            listing_id, _ = store.upsert_listing(run.db, listing)
            for photo in photos:
                store.upsert_listing_image(
                    run.db,
                    listing_id,
                    photo["url"],
                    photo["position"],
                    sha256=photo["sha256"],
                    error=photo["error"],
                )
            # A lot changed since its validators were kept: forget them until its batch is stored.
            store.set_validators(run.db, listing_id, None, None)
        self.staged[listing_id] = (listing.get("etag"), listing.get("last_modified"))
        self.crawler.stats.inc_value("lootwatch/store/items")
        for key in ("files", "file_errors", "etag", "last_modified"):
            listing.pop(key, None)  # node-local paths and validators: of no use past the node
        return {
            "format": ROW_FORMAT,
            "node": context.node,
            "job": context.job,
            "hash_version": hashes.HASH_VERSION,
            "feature_version": FEATURE_VERSION,
            "embed_version": embed.EMBED_VERSION,
            "lot": listing,
            "photos": photos,
            "evidence": self._evidence([listing.get("url"), *(p["url"] for p in photos)]),
        }

    def feed_exporter_closed(self) -> None:
        """Every batch of the job was handed to the storage: keep the staged validators if all were
        stored (one logged line and nothing kept otherwise)."""
        stats = self.crawler.stats.get_stats()
        failed = sum(v for k, v in stats.items() if k.startswith("feedexport/failed_count/"))
        if failed:
            logger.error(
                "lootwatch: %d batch(es) not stored: the conditional-request state of this job's %d "
                "lots is not kept, and the next crawl exports them again",
                failed,
                len(self.staged),
            )
            self.staged.clear()
            return
        run = self.crawler.lootwatch_run
        with connect.atomic(run.db):
            for listing_id, (etag, modified) in self.staged.items():
                store.set_validators(run.db, listing_id, etag, modified)
        self.crawler.stats.set_value("lootwatch/node/validators_kept", len(self.staged))
        self.staged.clear()

    def _photo(self, position: int, url: str, data: bytes | None, error: str | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "position": position,
            "url": url,
            "sha256": None,
            "error": error,
            "signals": None,
        }
        if data is not None:
            try:
                # The original first: whatever fails after, its bytes are kept.
                node_context(self.crawler).store.put_once(photo_key(hashes.sha256(data)), data)
                started = time.perf_counter()
                fp, deferred = _fingerprint(data)
                # CPU spent hashing on this node, for the benchmark of photos hashed per second.
                self.crawler.stats.inc_value(
                    "lootwatch/node/hash_ms", round(1000 * (time.perf_counter() - started))
                )
                row.update(sha256=fp.sha256, signals=to_json(fp))
                self.crawler.stats.inc_value("lootwatch/store/images")
                if deferred:
                    self.crawler.lootwatch_run.error(
                        "photo",
                        url,
                        f"exported without its embedding ({deferred}); `lootwatch match` on the review "
                        "machine computes it from the original once its model is fixed",
                    )
            except DecodeError as exc:
                row.update(sha256=hashes.sha256(data), error=str(exc))
            except StorageError as exc:  # the batch must not name a photo the storage does not hold
                row.update(error=f"original not uploaded: {exc}")
            except Exception as exc:  # a bug must not lose the photo's row: record it and go on
                logger.exception("hashing %s failed", url)
                row.update(error=f"internal error: {type(exc).__name__}: {exc}")
        # A refused photo was recorded where it was refused; it is counted once.
        if row["error"] and not row["error"].startswith(f"{Refused.__name__}: "):
            self.crawler.lootwatch_run.error("photo", url, row["error"])
        return row

    def _evidence(self, urls: list[str | None]) -> list[dict[str, Any]]:
        """This run's captures of ``urls``, each with the storage key of its WARC file."""
        run = self.crawler.lootwatch_run
        wanted = [u for u in dict.fromkeys(urls) if u]
        if not wanted or run.run_id is None:
            return []
        context = node_context(self.crawler)
        cursor = run.db.execute(
            f"SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE crawl_run_id = ? AND url IN "
            f"({', '.join('?' * len(wanted))}) ORDER BY id",
            [run.run_id, *wanted],
        )
        names = [d[0] for d in cursor.description]
        out = []
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            name = Path(row.pop("warc_file") or "").name
            row["warc_key"] = warc_key(self.crawler.spider.name, context.day, context.node, name)
            out.append(row)
        return out
