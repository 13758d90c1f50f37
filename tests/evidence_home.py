"""A small database home for evidence-pack tests: one candidate whose lot page and photo were captured
into a WARC file by the crawler's own WarcMiddleware, and whose photos are kept under data/originals."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from matcher.db import connect, store
from matcher.db.ingest import keep_original
from spiders.base import LotSpider
from spiders.warc import WarcMiddleware

PAGE_URL = "https://house.example/lot/7"
PHOTO_URL = "https://house.example/img/7.jpg"
REGISTRY_URL = "file:///registry/photos/A1.jpg"


class _Recorder:
    """What WarcMiddleware needs of the crawl's RunRecorder: the database and the run's id."""

    def __init__(self, db):
        self.db, self.run_id = db, 1


def jpeg(seed: int) -> bytes:
    arr = (np.random.default_rng(seed).random((24, 32, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).resize((320, 240)).save(buf, "JPEG")
    return buf.getvalue()


def build_home(home: Path) -> dict:
    """Make ``home/lootwatch.db`` with ``home/data``; return the paths, the candidate id and the SHA-256s."""
    db_path = home / "lootwatch.db"
    home.mkdir(parents=True, exist_ok=True)
    db = connect.open_db(db_path)
    crawler = get_crawler(LotSpider, {"LOOTWATCH_DATA_DIR": str(home / "data"), "LOOTWATCH_DB": str(db_path)})
    crawler.spider = LotSpider.from_crawler(crawler, name="house")
    crawler.lootwatch_run = _Recorder(db)
    warc = WarcMiddleware.from_crawler(crawler)
    photo, registry_photo = jpeg(1), jpeg(2)
    page = b"<html><body><h1>Lot 7: cuneiform tablet</h1><img src='/img/7.jpg'></body></html>"
    for url, body, kind in ((PAGE_URL, page, "text/html"), (PHOTO_URL, photo, "image/jpeg")):
        request = Request(url)
        warc.process_response(
            request, Response(url, status=200, body=body, headers={"Content-Type": kind}, request=request)
        )
    warc.close()
    sha = hashlib.sha256(photo).hexdigest()
    registry_sha = hashlib.sha256(registry_photo).hexdigest()
    originals = home / "data" / "originals"
    keep_original(originals, photo, sha)
    keep_original(originals, registry_photo, registry_sha)
    lid, _ = store.upsert_listing(
        db, {"site": "house", "lot_id": "7", "title": "Cuneiform tablet", "url": PAGE_URL}
    )
    li = store.upsert_listing_image(db, lid, PHOTO_URL, 0, sha256=sha)
    oid = store.upsert_registry_object(
        db, {"source": "bulletin", "source_id": "A1", "title": "Tablet", "status": "looted"}
    )
    ri = store.upsert_registry_image(db, oid, REGISTRY_URL, 0, sha256=registry_sha)
    cid = (
        db.table("candidates")
        .insert(
            {
                "listing_id": lid,
                "registry_object_id": oid,
                "kind": "image",
                "tier": "strong",
                "score": 95.0,
                "pdq_distance": 4,
                "listing_image_id": li,
                "registry_image_id": ri,
            }
        )
        .last_pk
    )
    db.conn.close()
    return {
        "db": db_path,
        "cid": cid,
        "sha": sha,
        "registry_sha": registry_sha,
        "original": originals / sha[:2] / sha,
        "registry_original": originals / registry_sha[:2] / registry_sha,
    }
