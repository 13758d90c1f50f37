"""``lootwatch registry import``: local photos read directly and hashed in worker processes, photo URLs
through the crawler, refused rows and photos named, the summary counted by rows."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from matcher.db import connect, store
from matcher.photo import hash_pool
from spiders.registries.local_import import ImportCounts, import_registry

from .conftest import run_cli
from .photo_site import PhotoSite


def noise_photo(path: Path, seed: int) -> bytes:
    """A photo of random blocks (no border, plenty of corners), saved as JPEG; returns its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.random.default_rng(seed).random((30, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).resize((400, 300)).save(path)
    return path.read_bytes()


def write_config(folder: Path, **scrapy: object) -> Path:
    """A lootwatch.toml keeping the database and originals inside ``folder``."""
    lines = ['db = "l.db"', 'data_dir = "data"', "[scrapy]"]
    lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in scrapy.items()]
    (folder / "lootwatch.toml").write_text("\n".join(lines) + "\n")
    return folder / "lootwatch.toml"


def run_import(folder: Path, text: str, workers: int = 1) -> tuple[ImportCounts, sqlite3.Connection]:
    """Import a CSV written into ``folder``, in this process."""
    (folder / "r.csv").write_text(text)
    counts = import_registry(folder / "l.db", folder / "data", folder / "r.csv", workers=workers)
    return counts, sqlite3.connect(folder / "l.db")


def originals(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (folder / "data" / "originals").rglob("*") if p.is_file()}


def test_local_photos_are_kept_hashed_and_recorded(tmp_path):
    a = noise_photo(tmp_path / "photos" / "a.jpg", 1)
    b = noise_photo(tmp_path / "photos" / "b.jpg", 2)
    counts, con = run_import(
        tmp_path, "source,source_id,title,images\nbulletin,1,Stele,photos/a.jpg|photos/b.jpg\n"
    )
    assert (counts.stored, counts.hashed, counts.known, counts.photo_errors) == (1, 2, 0, 0)
    sha_a, sha_b = hashlib.sha256(a).hexdigest(), hashlib.sha256(b).hexdigest()
    assert (tmp_path / "data" / "originals" / sha_a[:2] / sha_a).read_bytes() == a
    assert (tmp_path / "data" / "originals" / sha_b[:2] / sha_b).read_bytes() == b
    rows = con.execute(
        "SELECT url, position, sha256, error FROM registry_images ORDER BY position"
    ).fetchall()
    assert rows == [
        ((tmp_path / "photos" / "a.jpg").as_uri(), 0, sha_a, None),
        ((tmp_path / "photos" / "b.jpg").as_uri(), 1, sha_b, None),
    ]
    assert con.execute("SELECT count(DISTINCT sha256) FROM image_hashes").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM thumbnails").fetchone()[0] == 2
    run = con.execute("SELECT spider, kind, status, items, images, errors FROM crawl_runs").fetchall()
    assert run == [("registry_file", "registry", "finished", 1, 2, 0)]


def test_the_same_photo_under_two_records_is_hashed_once(tmp_path, monkeypatch):
    data = noise_photo(tmp_path / "photos" / "a.jpg", 1)
    (tmp_path / "photos" / "copy.jpg").write_bytes(data)
    calls = []
    real = hash_pool.fingerprint
    monkeypatch.setattr(hash_pool, "fingerprint", lambda d, **kw: calls.append(1) or real(d, **kw))
    counts, con = run_import(
        tmp_path, "source,source_id,images\ninterpol,7,photos/a.jpg\ncarabinieri,9,photos/copy.jpg\n"
    )
    assert len(calls) == 1
    assert (counts.stored, counts.hashed, counts.known) == (2, 1, 1)
    shas = con.execute("SELECT sha256 FROM registry_images WHERE error IS NULL").fetchall()
    assert len(shas) == 2 and len(set(shas)) == 1
    # Importing again hashes nothing: every photo is already known.
    counts, _ = run_import(tmp_path, (tmp_path / "r.csv").read_text())
    assert (counts.hashed, counts.known, len(calls)) == (0, 2, 1)


def test_summary_counts_rows_not_reasons(tmp_path):
    for n in range(3):
        noise_photo(tmp_path / "photos" / f"{n}.jpg", n)
    counts, _ = run_import(
        tmp_path,
        "source,source_id,images\n"
        "b,1,photos/0.jpg\nb,2,photos/1.jpg\nb,3,photos/2.jpg\nb,4,photos/missing.jpg\n",
    )
    assert (counts.stored, counts.refused, counts.hashed, counts.photo_errors) == (4, 0, 3, 1)
    assert counts.summary().startswith(
        "4 records stored, 0 rows refused; 3 photos hashed (new), 0 already known, 1 photo errors"
    )


def test_two_workers_hash_as_this_process_does(tmp_path):
    text = "source,source_id,images\n" + "".join(f"b,{n},photos/{n}.jpg\n" for n in range(4))
    tables = {}
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        for n in range(4):
            noise_photo(folder / "photos" / f"{n}.jpg", n)
        counts, con = run_import(folder, text, workers=workers)
        assert counts.hashed == 4
        tables[workers] = (
            con.execute(
                "SELECT sha256, variant, pdq, phash, dhash FROM image_hashes ORDER BY 1, 2"
            ).fetchall(),
            con.execute("SELECT sha256, n, xy, desc, colour FROM image_features ORDER BY 1").fetchall(),
        )
    assert tables[1] == tables[2] and tables[1][0]


def test_refused_paths_store_nothing_and_the_import_goes_on(tmp_path):
    noise_photo(tmp_path / "reg" / "photos" / "a.jpg", 1)
    (tmp_path / "reg" / "r.csv").write_text(
        "source,source_id,status,images\n"
        "b,1,stolen,photos/a.jpg\n"
        "b,2,stolen,/etc/passwd|../x|../../x|/proc/self/environ\n"
        "b,3,confiscated,photos/a.jpg\n"
    )
    (tmp_path / "x").write_bytes(b"SECRET-OUTSIDE-THE-FOLDER")
    cfg = write_config(tmp_path)
    proc = run_cli("--config", str(cfg), "registry", "import", str(tmp_path / "reg" / "r.csv"))
    assert proc.returncode == 0
    err = proc.stderr.splitlines()
    assert "row 4 refused: status 'confiscated' is not one of stolen, looted, missing, recovered" in err
    assert any(line.startswith("row 3:") and "/etc/passwd" in line for line in err)
    assert any(line.startswith("row 3:") and "/proc/self/environ" in line for line in err)
    assert "2 records stored, 1 rows refused; 1 photos hashed (new), 0 already known, 4 photo errors" in (
        proc.stdout
    )
    kept = originals(tmp_path)
    assert len(kept) == 1
    assert not any(b"root:" in data or b"SECRET" in data or b"PATH=" in data for data in kept.values())
    con = sqlite3.connect(tmp_path / "l.db")
    reasons = " ".join(r for (r,) in con.execute("SELECT reason FROM errors"))
    assert "root:" not in reasons and "SECRET" not in reasons and "PATH=" not in reasons
    assert con.execute("SELECT count(*) FROM registry_images WHERE object_id = 2").fetchone()[0] == 0


def test_photo_urls_still_go_through_the_crawler(tmp_path):
    local = noise_photo(tmp_path / "photos" / "a.jpg", 1)
    served = noise_photo(tmp_path / "served.jpg", 2)
    with PhotoSite(served) as site:
        cfg = write_config(
            tmp_path,
            LOOTWATCH_ALLOW_HOSTS=f'["{urlsplit(site.url).netloc}"]',
            DOWNLOAD_DELAY=0,
            AUTOTHROTTLE_ENABLED=False,
            LOG_LEVEL='"ERROR"',
        )
        (tmp_path / "r.csv").write_text(
            f"source,source_id,images\nb,1,photos/a.jpg|{site.url}/photo.jpg\nb,2,photos/a.jpg\n"
            "b,3,http://2130706434:9/internal.jpg\n"
        )
        proc = run_cli("--config", str(cfg), "registry", "import", str(tmp_path / "r.csv"))
    assert "/photo.jpg" in site.hits
    # A photo URL at an internal address is refused, named on the console in one line, and counted.
    out = proc.stdout + proc.stderr
    assert "photo http://2130706434:9/internal.jpg: address 127.0.0.2 (written 2130706434)" in out, out
    assert "Traceback" not in out and "1 photo errors" in out
    con = sqlite3.connect(tmp_path / "l.db")
    rows = con.execute(
        "SELECT object_id, position, url, sha256 FROM registry_images ORDER BY object_id, position"
    ).fetchall()
    assert rows == [
        (1, 0, (tmp_path / "photos" / "a.jpg").as_uri(), hashlib.sha256(local).hexdigest()),
        (1, 1, f"{site.url}/photo.jpg", hashlib.sha256(served).hexdigest()),
        (2, 0, (tmp_path / "photos" / "a.jpg").as_uri(), hashlib.sha256(local).hexdigest()),
        (3, 0, "http://2130706434:9/internal.jpg", None),
    ]
    runs = con.execute("SELECT spider, status FROM crawl_runs ORDER BY id").fetchall()
    assert runs == [("registry_file", "finished"), ("registry_file", "finished")]
    # The crawl fetched only the URL: the local photo was read from disk.
    assert set(originals(tmp_path)) == {hashlib.sha256(local).hexdigest(), hashlib.sha256(served).hexdigest()}


def _thread_counts() -> tuple[int, int]:
    import cv2
    from threadpoolctl import threadpool_info

    return cv2.getNumThreads(), max((i["num_threads"] for i in threadpool_info()), default=1)


def test_hashing_workers_run_one_thread_each():
    # Two workers on two cores with threaded BLAS or OpenCV inside each would oversubscribe the cores.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=hash_pool._one_thread_each) as pool:
        assert pool.submit(_thread_counts).result(timeout=120) == (1, 1)


def test_batched_upsert_stores_what_one_by_one_does(tmp_path):
    records = [
        {"source": "b", "source_id": "1", "title": " Stele ", "status": "looted", "extra": 3},
        {"source": "b", "source_id": 2, "materials": ""},
        {"source": "c", "source_id": "1", "description": "Lamp", "source_url": "https://example.org/1"},
    ]
    changed = [records[0] | {"title": "Stele, broken"}, records[1]]
    one, batch = connect.open_db(tmp_path / "one.db"), connect.open_db(tmp_path / "batch.db")
    assert [store.upsert_registry_object(one, r) for r in records] == store.upsert_registry_objects(
        batch, records
    )
    assert [store.upsert_registry_object(one, r) for r in changed] == store.upsert_registry_objects(
        batch, changed
    )

    def rows(db):
        kept = "SELECT * FROM registry_objects ORDER BY id"
        return [{k: v for k, v in r.items() if not k.endswith("_at")} for r in db.query(kept)]

    assert rows(one) == rows(batch) and rows(one)[0]["title"] == "Stele, broken"
    banks = "SELECT source, enabled FROM banks ORDER BY source"
    assert list(one.query(banks)) == list(batch.query(banks))


def test_a_refused_row_withdraws_nothing(tmp_path):
    """A record the file still holds but could not read (a bad status) is no record gone from it."""
    header = "source,source_id,title,status\n"
    run_import(tmp_path, header + "bulletin,1,Stele,stolen\nbulletin,2,Lamp,looted\n")
    counts, con = run_import(tmp_path, header + "bulletin,1,Stele,stolen\nbulletin,2,Lamp,confiscated\n")
    assert (counts.refused, counts.withdrawn, counts.withdrawal_skipped) == (1, 0, True)
    assert "none withdrawn" in counts.summary()
    statuses = dict(con.execute("SELECT source_id, status FROM registry_objects"))
    assert statuses == {"1": "stolen", "2": "looted"}
    counts, con = run_import(tmp_path, header + "bulletin,1,Stele,stolen\n")
    assert counts.withdrawn == 1  # a clean file is the whole listing again


def test_a_file_that_is_no_image_is_not_kept_as_an_original(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "secret.jpg").write_text("secret-token-abc123")
    good = noise_photo(tmp_path / "photos" / "good.jpg", 3)
    counts, con = run_import(
        tmp_path, "source,source_id,title,images\nbulletin,1,Stele,photos/secret.jpg|photos/good.jpg\n"
    )
    assert (counts.stored, counts.hashed, counts.photo_errors) == (1, 1, 1)
    assert list(originals(tmp_path).values()) == [good]
    reasons = " ".join(r for (r,) in con.execute("SELECT reason FROM errors"))
    assert "not an image" in reasons and "secret-token" not in reasons


def test_a_photo_the_record_no_longer_lists_stops_being_matched_and_stays_as_evidence(tmp_path):
    noise_photo(tmp_path / "photos" / "a.jpg", 4)
    run_import(tmp_path, "source,source_id,title,images\nbulletin,1,Stele,photos/a.jpg\n")
    counts, con = run_import(tmp_path, "source,source_id,title,images\nbulletin,1,Stele,\n")
    assert counts.stored == 1
    ((matchable, error, sha),) = con.execute("SELECT matchable, error, sha256 FROM registry_images")
    assert (matchable, error) == (0, store.RETIRED_PHOTO) and sha  # the row and its hashes stay
    run_import(tmp_path, "source,source_id,title,images\nbulletin,1,Stele,photos/a.jpg\n")
    assert con.execute("SELECT matchable, error FROM registry_images").fetchall() == [(1, None)]


def test_progress_is_written_as_lines_where_stderr_is_no_terminal(tmp_path, capsys, monkeypatch):
    from lootwatch import import_progress

    monkeypatch.setattr(import_progress, "PLAIN_EVERY", 0.0)
    (tmp_path / "r.csv").write_text("source,source_id\nb,1\nb,2\n")
    with import_progress.ConsoleReporter(tmp_path / "r.csv") as reporter:
        reporter.progress(ImportCounts(read=1, hashed=3))
    err = capsys.readouterr().err
    assert "records read 1 of about 2" in err and "photos hashed 3" in err
