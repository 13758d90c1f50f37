"""A tiny review database with one hostile candidate, for the digest and Datasette tests."""

import io

from PIL import Image

from matcher.db import connect, store
from matcher.photo.fingerprint import thumbnail_jpeg

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def hostile_db(path):
    db = connect.open_db(path)
    lid, _ = store.upsert_listing(
        db,
        {
            "site": "demo_aurora",
            "lot_id": "1",
            "title": f"Tablet {XSS}",
            "url": "javascript:alert(1)",
            "seller": '=HYPERLINK("http://evil")',
            "sale_date": "2026-12-01",
        },
    )
    oid = store.upsert_registry_object(
        db,
        {
            "source": "demo",
            "source_id": "A1",
            "title": "Cuneiform tablet",
            "status": "looted",
            "source_url": "https://registry.example/A1",
        },
    )
    thumb, size = thumbnail_jpeg(Image.new("RGB", (300, 200), (180, 120, 60)))
    store.put_thumbnail(db, "a" * 64, thumb, *size)
    li = store.upsert_listing_image(db, lid, "https://x.example/1.jpg", 0, sha256="a" * 64)
    ri = store.upsert_registry_image(db, oid, "file:///r/1.jpg", 0, sha256="a" * 64)
    cid = (
        db.table("candidates")
        .insert(
            {
                "listing_id": lid,
                "registry_object_id": oid,
                "kind": "image",
                "tier": "strong",
                "score": 90.0,
                "pdq_distance": 6,
                "phash_distance": 0,
                "dhash_distance": 2,
                "variant": "full:full/r0",
                "listing_image_id": li,
                "registry_image_id": ri,
            }
        )
        .last_pk
    )
    return db, cid


def jpeg_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size
