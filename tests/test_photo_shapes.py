"""Photos of every shape the pixel cap allows, on every path that decodes: ``lootwatch check``, the
crawler's photo pipeline, ``match``'s re-hashing of stored originals, ``registry import`` and the review
UI's photo check. Each photo is decoded or refused with its reason recorded, never a traceback, and the
ordinary photo after it is still handled."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from lootwatch.cli import main
from matcher.db import connect, store
from matcher.db.ingest import original_path, refresh
from matcher.photo.decode import MAX_PIXELS
from spiders.pipelines.photos import store_photos
from spiders.registries.local_import import import_registry

from .conftest import SHARED

RNG_SEED = 21


def _noise(width: int, height: int, seed: int = RNG_SEED) -> Image.Image:
    arr = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(arr)


def _save(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _grey16(width: int, height: int) -> Image.Image:
    arr = np.random.default_rng(RNG_SEED).integers(0, 65536, (height, width)).astype(np.uint16)
    return Image.fromarray(arr)


def _gif(width: int, height: int) -> bytes:
    frames = [_noise(width, height, seed).convert("P") for seed in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _cap(width: int) -> bytes:
    # A flat grey JPEG of exactly ``width`` x 5000 pixels; flat so the file stays small.
    return _save(Image.new("L", (width, 5000), 128), "JPEG", quality=50)


# name -> (bytes maker, None when the photo decodes, else words its refusal must contain)
SHAPES: dict[str, tuple[Callable[[], bytes], str | None]] = {
    "single pixel 1x1": (lambda: _save(_noise(1, 1), "PNG"), "too small"),
    "line 1x20000": (lambda: _save(_noise(1, 20000), "PNG"), "too small"),
    "line 20000x1": (lambda: _save(_noise(20000, 1), "PNG"), "too small"),
    "strip 9x4000 png": (lambda: _save(_noise(9, 4000), "PNG"), None),
    "strip 9x4000 jpeg": (lambda: _save(_noise(9, 4000), "JPEG"), None),
    "strip 4000x9 jpeg": (lambda: _save(_noise(4000, 9), "JPEG"), None),
    "strip 16x20000 jpeg": (lambda: _save(_noise(16, 20000), "JPEG"), None),
    "smallest 8x8": (lambda: _save(_noise(8, 8), "PNG"), None),
    "16-bit grey": (lambda: _save(_grey16(300, 200), "PNG"), None),
    "16-bit grey strip 9x4000": (lambda: _save(_grey16(9, 4000), "PNG"), None),
    "palette with transparency": (
        lambda: _save(_noise(200, 150).convert("P"), "PNG", transparency=3),
        None,
    ),
    "grey with alpha (LA)": (lambda: _save(_noise(200, 150).convert("LA"), "PNG"), None),
    "CMYK jpeg": (lambda: _save(_noise(200, 150).convert("CMYK"), "JPEG"), None),
    "CMYK strip 12x3000 jpeg": (lambda: _save(_noise(12, 3000).convert("CMYK"), "JPEG"), None),
    "animated gif": (lambda: _gif(120, 90), None),
    "animated gif 1x1": (lambda: _gif(1, 1), "too small"),
    "at the pixel cap": (lambda: _cap(MAX_PIXELS // 5000), None),
    "over the pixel cap": (lambda: _cap(MAX_PIXELS // 5000 + 1), "too many pixels"),
}
if (SHARED / "cases" / "photos" / "thin-strip.png").is_file():
    SHAPES["shared thin-strip.png"] = ((SHARED / "cases" / "photos" / "thin-strip.png").read_bytes, None)

NAMES = sorted(SHAPES)


def shape(name: str) -> tuple[bytes, str | None]:
    make, refusal = SHAPES[name]
    return make(), refusal


def ordinary(seed: int) -> bytes:
    """A photo of random blocks: decodes, and has corners for local features."""
    arr = (np.random.default_rng(seed).random((30, 40, 3)) * 255).astype(np.uint8)
    return _save(Image.fromarray(arr).resize((400, 300)), "JPEG")


@pytest.fixture(scope="module")
def registry_db(tmp_path_factory) -> Path:
    """A review database with a registry of two objects, imported from disk."""
    folder = tmp_path_factory.mktemp("registry")
    for n in (1, 2):
        (folder / f"r{n}.jpg").write_bytes(ordinary(100 + n))
    (folder / "r.csv").write_text("source,source_id,images\nbank,1,r1.jpg\nbank,2,r2.jpg\n")
    import_registry(folder / "l.db", folder / "data", folder / "r.csv", workers=1)
    return folder / "l.db"


@pytest.mark.parametrize("name", NAMES)
def test_check(name, registry_db, tmp_path):
    data, refusal = shape(name)
    (tmp_path / "shape.img").write_bytes(data)
    (tmp_path / "after.jpg").write_bytes(ordinary(7))
    args = [
        "--db",
        str(registry_db),
        "check",
        "--json",
        str(tmp_path / "shape.img"),
        str(tmp_path / "after.jpg"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert second["candidates"] == []
    if refusal is None:
        assert first.get("candidates") is not None, first
        assert result.exit_code == 0
    else:
        assert refusal in first["error"]
        assert result.exit_code == 1


class _Run:
    """What the photo pipeline needs of the crawler's RunRecorder: the database and ``error``."""

    def __init__(self, db):
        self.db, self.errors = db, []

    def error(self, stage: str, url: str | None, reason: str) -> None:
        self.errors.append((stage, url, reason))


@pytest.mark.parametrize("name", NAMES)
def test_crawl_pipeline(name, tmp_path):
    data, refusal = shape(name)
    files = tmp_path / "files"
    files.mkdir()
    (files / "shape").write_bytes(data)
    (files / "after").write_bytes(ordinary(8))
    db = connect.open_db(tmp_path / "l.db")
    run = _Run(db)
    crawler = SimpleNamespace(
        lootwatch_run=run,
        settings={"FILES_STORE": str(files)},
        stats=SimpleNamespace(inc_value=lambda key: None),
    )
    item = {
        "image_urls": ["https://h.example/shape", "https://h.example/after"],
        "files": [
            {"url": "https://h.example/shape", "path": "shape"},
            {"url": "https://h.example/after", "path": "after"},
        ],
    }
    listing_id, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    store_photos(crawler, item, listing_id, store.upsert_listing_image, all_transforms=False)
    rows = {r["url"]: r for r in db.query("SELECT url, sha256, error FROM listing_images")}
    assert rows["https://h.example/after"]["error"] is None
    shape_row = rows["https://h.example/shape"]
    if refusal is None:
        assert shape_row["error"] is None and shape_row["sha256"] == hashlib.sha256(data).hexdigest()
        assert run.errors == []
    else:
        assert refusal in shape_row["error"]
        assert [(stage, url) for stage, url, _ in run.errors] == [("photo", "https://h.example/shape")]
        assert "internal error" not in shape_row["error"]


@pytest.mark.parametrize("name", NAMES)
def test_match_rehashes_stored_originals(name, tmp_path):
    """Photos stored by an older version of the code are hashed again from their originals by ``match``:
    one that no longer decodes is refused with its reason recorded, and the others are still hashed."""
    data, refusal = shape(name)
    db = connect.open_db(tmp_path / "l.db")
    originals = tmp_path / "data" / "originals"
    listing_id, _ = store.upsert_listing(db, {"site": "s", "lot_id": "1"})
    for position, photo in enumerate((data, ordinary(9))):
        sha = hashlib.sha256(photo).hexdigest()
        path = original_path(originals, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(photo)
        # As an older version stored it: decoded then, no hashes by the current code.
        store.upsert_listing_image(db, listing_id, f"u{position}", position, sha256=sha, error=None)
    counts = refresh(db, originals)
    rows = [dict(r) for r in db.query("SELECT sha256, error FROM listing_images ORDER BY position")]
    assert rows[1]["error"] is None
    assert counts["stale"] == 2 and counts["refreshed"] == (2 if refusal is None else 1)
    if refusal is None:
        assert rows[0]["error"] is None
    else:
        assert counts["failed"] == 1 and refusal in rows[0]["error"]
        recorded = db.execute("SELECT stage, reason FROM errors").fetchall()
        assert len(recorded) == 1 and refusal in recorded[0][1]
        assert refresh(db, originals)["stale"] == 0  # refused once, not tried again on every match


@pytest.mark.parametrize("name", NAMES)
def test_registry_import(name, tmp_path):
    data, refusal = shape(name)
    (tmp_path / "shape.img").write_bytes(data)
    (tmp_path / "after.jpg").write_bytes(ordinary(10))
    (tmp_path / "r.csv").write_text("source,source_id,images\nbank,1,shape.img\nbank,2,after.jpg\n")
    counts = import_registry(tmp_path / "l.db", tmp_path / "data", tmp_path / "r.csv", workers=1)
    con = sqlite3.connect(tmp_path / "l.db")
    rows = dict(
        con.execute(
            "SELECT o.source_id, ri.error FROM registry_images ri "
            "JOIN registry_objects o ON o.id = ri.object_id"
        ).fetchall()
    )
    assert counts.stored == 2 and rows["2"] is None
    if refusal is None:
        assert rows["1"] is None and counts.photo_errors == 0
    else:
        assert refusal in rows["1"] and counts.photo_errors == 1
        (reason,) = con.execute("SELECT reason FROM errors").fetchone()
        assert refusal in reason


@pytest.mark.parametrize("name", NAMES)
def test_review_ui_photo_check(name, registry_db):
    from reports import photo_check

    data, refusal = shape(name)
    uploads = [
        photo_check.Upload("shape.img", bytearray(data)),
        photo_check.Upload("after.jpg", bytearray(ordinary(11))),
    ]
    conn = sqlite3.connect(registry_db)
    results = photo_check._check_all(conn, str(registry_db), uploads)["results"]
    assert results[1]["error"] is None and results[1]["preview"]
    if refusal is None:
        assert results[0]["error"] is None and results[0]["preview"]
    else:
        assert refusal in results[0]["error"]
