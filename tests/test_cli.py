import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from .conftest import LOOTWATCH, ROOT, SHARED, run_cli

COMMANDS = [
    ["demo"],
    ["registry", "import"],
    ["registry", "fetch"],
    ["registry", "banks"],
    ["crawl"],
    ["match"],
    ["check"],
    ["review"],
    ["report"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c))
def test_help(cmd):
    out = run_cli(*cmd, "--help").stdout
    assert "Usage:" in out


def test_registry_import_bad_file_one_line_error(tmp_path):
    bad = tmp_path / "r.csv"
    bad.write_text("title\nX\n")
    proc = run_cli("--db", str(tmp_path / "x.db"), "registry", "import", str(bad), check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "no source_id column" in proc.stderr


def test_unknown_site(tmp_path):
    proc = run_cli("--db", str(tmp_path / "x.db"), "crawl", "nosuchsite", check=False)
    assert proc.returncode == 1 and "unknown site nosuchsite" in proc.stderr


def test_match_without_database(tmp_path):
    proc = run_cli("--db", str(tmp_path / "none.db"), "match", check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_bad_config(tmp_path):
    cfg = tmp_path / "l.toml"
    cfg.write_text("db = [")
    proc = run_cli("--config", str(cfg), "match", check=False)
    assert proc.returncode == 1 and "config file" in proc.stderr


@pytest.mark.slow
def test_check_json_ranks_registry_photo_and_reports_bad_image(small_demo, tmp_path):
    photo = sorted((small_demo["out"] / "demo/registry/photos").glob("*.jpg"))[0]
    source_id = photo.name.rsplit("_", 1)[0]
    mirrored = tmp_path / "mirrored.jpg"
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored, quality=80)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"<html>")
    proc = run_cli("--db", str(small_demo["db"]), "check", str(mirrored), str(broken), "--json", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr  # a photo failed, and the line says why
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["image"] == str(mirrored)
    best = first["candidates"][0]
    assert (best["source_id"], best["tier"]) == (source_id, "strong")
    assert {"pdq", "phash", "variant"} <= set(best["evidence"])
    assert len(first["candidates"]) <= 10
    assert second["image"] == str(broken) and "error" in second


@pytest.mark.slow
def test_report_dry_run_and_review_command(small_demo, tmp_path):
    out = tmp_path / "rep"
    proc = run_cli(
        "--db", str(small_demo["db"]), "report", "--dry-run", "--out", str(out), "--date", "2026-12-01"
    )
    assert "lootwatch-2026-12-01.eml" in proc.stdout and "lootwatch-2026-12-01.csv" in proc.stdout
    assert (out / "lootwatch-2026-12-01.html").exists()
    cmd = run_cli("review", str(small_demo["db"]), "--print-command").stdout
    assert "datasette" in cmd and str(small_demo["db"]) in cmd


def test_registry_import_csv(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(5)
    for name in ("a", "b"):
        arr = (rng.random((30, 40, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr).resize((400, 300)).save(photos / f"{name}.jpg")
    (tmp_path / "r.csv").write_text(
        "source,source_id,title,images\n"
        "bulletin,1,Stele,photos/a.jpg|photos/b.jpg\n"
        "bulletin,2,Lamp,photos/missing.jpg\n"
        ",3,No source,\n"
    )
    db = tmp_path / "l.db"
    # Run in tmp_path: the originals go to its data/ folder, not the repository's.
    proc = run_cli("--db", str(db), "registry", "import", str(tmp_path / "r.csv"), cwd=tmp_path)
    summary = "2 records stored, 1 rows refused; 2 photos hashed (new), 0 already known, 1 photo errors"
    assert summary in proc.stdout
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM registry_objects").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM registry_images WHERE sha256 IS NOT NULL").fetchone()[0] == 2
    # 2 photos x 8 rotations/mirror images; noise has no border, so no trimmed view
    assert con.execute("SELECT count(*) FROM image_hashes").fetchone()[0] == 16
    assert con.execute("SELECT count(*) FROM errors WHERE stage = 'registry'").fetchone()[0] == 2
    # Importing again changes nothing.
    run_cli("--db", str(db), "registry", "import", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert con.execute("SELECT count(*) FROM registry_images").fetchone()[0] == 2
    # A record that left the file is withdrawn, not deleted; a bank can be switched off and on.
    (tmp_path / "r2.csv").write_text("Nummer,source,Titel\n2,bulletin,Lamp\n")
    proc = run_cli(
        "--db",
        str(db),
        "registry",
        "import",
        str(tmp_path / "r2.csv"),
        "--map",
        "Nummer:source_id",
        "--map",
        "Titel:title",
        cwd=tmp_path,
    )
    assert "1 records no longer in the file marked withdrawn" in proc.stdout
    rows = dict(con.execute("SELECT source_id, status FROM registry_objects").fetchall())
    assert rows == {"1": "withdrawn", "2": "stolen"}
    run_cli("--db", str(db), "registry", "disable", "bulletin", "--note", "under review")
    assert (
        "bulletin: disabled, 2 records (1 withdrawn)" in run_cli("--db", str(db), "registry", "banks").stdout
    )
    assert "no registry source" in run_cli("--db", str(db), "registry", "enable", "nope", check=False).stderr


@pytest.mark.slow
def test_review_serves_datasette_over_http(small_demo):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [*LOOTWATCH, "review", str(small_demo["db"]), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/lootwatch/review_queue"
        for _ in range(100):
            try:
                html = urllib.request.urlopen(url, timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("Datasette did not start")
        assert "Review queue" in html
        assert html.count('src="data:image/jpeg;base64,') >= 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_daily_runs_every_stage_and_names_the_one_that_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("EBAY_OAUTH_TOKEN", raising=False)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    (tmp_path / "lootwatch.toml").write_text(
        f'db = "l.db"\ndata_dir = "data"\nreport_dir = "reports"\nmail_to = ["a@x.example"]\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {closed}\nsmtp_security = "none"\n'
    )
    cfg = str(tmp_path / "lootwatch.toml")
    ok = run_cli("--config", cfg, "daily", "--dry-run", check=False)
    assert ok.returncode == 1  # ebay_browse has no token: a failed site, named with its reason
    assert "crawl: ebay_browse stored 0 lots: EBAY_OAUTH_TOKEN is not set" in ok.stderr
    assert [line for line in ok.stdout.splitlines() if line.startswith("== ")] == [
        "== crawl",
        "== match",
        "== report",
    ]
    assert re.search(r"^skipped \(disabled\): .*catawiki", ok.stdout, re.M)
    # The operator turns off a site this installation does not crawl: no longer a failure.
    (tmp_path / "quiet.toml").write_text(
        (tmp_path / "lootwatch.toml").read_text() + '[scrapy]\nLOOTWATCH_DISABLE_SITES = ["ebay_browse"]\n'
    )
    quiet = run_cli("--config", str(tmp_path / "quiet.toml"), "daily", "--dry-run", check=False)
    assert "ebay_browse" not in quiet.stderr and re.search(
        r"^skipped \(disabled\): .*ebay_browse", quiet.stdout, re.M
    )
    # A lot whose text is flagged becomes a candidate; its digest cannot reach the mail server.
    con = sqlite3.connect(tmp_path / "l.db")
    con.execute(
        "INSERT INTO listings (site, lot_id, title, description, content_sha256) VALUES (?, ?, ?, ?, ?)",
        [
            "s",
            "1",
            "Palmyrene limestone funerary relief",
            "Syria. Acquired in the 1990s from a reliable supplier. No export documents.",
            "x",
        ],
    )
    con.commit()
    failed = run_cli("--config", cfg, "daily", check=False)
    assert failed.returncode == 1
    assert "daily: the report stage failed" in failed.stderr and "next run" in failed.stderr


@pytest.mark.slow
def test_check_json_reads_thin_strips(small_demo, tmp_path):
    """Banners, separators and scans a few pixels wide: one line each, no traceback; a strip too small to
    be a photo is an error line and the exit status says so."""
    strips = [tmp_path / "strip-9x4000.png", tmp_path / "strip-4000x9.png", tmp_path / "strip-31x2000.png"]
    Image.new("RGB", (9, 4000), (120, 80, 40)).save(strips[0])
    Image.effect_noise((4000, 9), 60).convert("RGB").save(strips[1])
    Image.effect_noise((31, 2000), 60).convert("RGB").save(strips[2])
    case = SHARED / "cases" / "photos" / "thin-strip.png"
    queries = [*strips, *([case] if case.is_file() else [])]
    proc = run_cli("--db", str(small_demo["db"]), "check", "--json", *map(str, queries), check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["image"] for line in lines] == list(map(str, queries))
    assert all(line.get("candidates") == [] for line in lines)
    one_pixel = tmp_path / "strip-500x1.png"
    Image.effect_noise((500, 1), 60).convert("RGB").save(one_pixel)
    proc = run_cli(
        "--db", str(small_demo["db"]), "check", "--json", str(one_pixel), str(strips[0]), check=False
    )
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "too small" in first["error"] and second["candidates"] == []


def _noise_jpeg(path, seed: int = 5) -> None:
    arr = (np.random.default_rng(seed).random((30, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).resize((400, 300)).save(path)


def test_a_wrong_model_stops_every_command_that_computes_signals_in_one_line(tmp_path, monkeypatch):
    """A damaged model file: each command says so once, naming the file and the fix, exit status 1,
    before it stores anything (a crawl or an import makes no database)."""
    from matcher.db.connect import open_db

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    real = ROOT / ".venv" / "share" / "lootwatch" / "efficientnet-lite0-avgpool.onnx"
    model = model_dir / real.name
    model.write_bytes(real.read_bytes()[:4096] if real.is_file() else b"not a model")  # cut short
    monkeypatch.setenv("LOOTWATCH_MODEL_DIR", str(model_dir))
    (tmp_path / "photos").mkdir()
    _noise_jpeg(tmp_path / "photos" / "a.jpg")
    (tmp_path / "r.csv").write_text("source,source_id,title,images\nbulletin,1,Stele,photos/a.jpg\n")
    fresh = tmp_path / "fresh.db"
    existing = tmp_path / "existing.db"
    open_db(existing).close()
    commands = [
        ("--db", str(fresh), "crawl", "demo_aurora", "--demo-url", "http://127.0.0.1:9"),
        ("--db", str(fresh), "registry", "import", str(tmp_path / "r.csv")),
        ("--db", str(fresh), "registry", "fetch"),
        ("--db", str(existing), "match"),
        (
            "--db",
            str(existing),
            "check",
            str(tmp_path / "photos" / "a.jpg"),
            str(tmp_path / "photos" / "a.jpg"),
        ),
        ("--db", str(existing), "daily", "--dry-run"),
    ]
    for args in commands:
        proc = run_cli(*args, cwd=tmp_path, check=False)
        said = f"lootwatch: {model} is not the expected embedding model (SHA-256 "
        assert proc.returncode == 1, (args, proc.stderr)
        assert said in proc.stderr and "run `lootwatch model export` to replace it" in proc.stderr, (
            proc.stderr
        )
        assert proc.stderr.count(said) == 1 and "internal error" not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
    assert not fresh.exists() and not (tmp_path / "data").exists()  # nothing stored, no original kept


def test_check_refuses_what_is_not_a_regular_file_before_reading(tmp_path):
    from matcher.db.connect import open_db

    db = tmp_path / "l.db"
    open_db(db).close()
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # A minute at most: reading the pipe would wait for a writer for ever.
    proc = subprocess.run(
        [*LOOTWATCH, "--db", str(db), "check", "--json", str(fifo), str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["error"] == "a named pipe, not a photo file: check reads regular files only"
    assert second["error"] == "a folder, not a photo file: check reads regular files only"


def test_check_and_registry_import_say_when_the_registry_is_too_small_for_the_embedding_alone(tmp_path):
    (tmp_path / "photos").mkdir()
    _noise_jpeg(tmp_path / "photos" / "a.jpg", 1)
    _noise_jpeg(tmp_path / "query.jpg", 2)
    (tmp_path / "r.csv").write_text("source,source_id,title,images\nbulletin,1,Stele,photos/a.jpg\n")
    db = str(tmp_path / "l.db")
    note = (
        "the registry holds 1 photo: below 100, a photo similar by the learned embedding alone is not "
        "raised as a candidate; see docs/matching.md"
    )
    proc = run_cli("--db", db, "registry", "import", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert note in proc.stdout.splitlines()
    proc = run_cli("--db", db, "check", str(tmp_path / "query.jpg"))
    assert proc.stdout.splitlines()[-1] == note  # after the results
    proc = run_cli("--db", db, "check", "--json", str(tmp_path / "query.jpg"))
    assert json.loads(proc.stdout)["registry_note"] == note


@pytest.mark.slow
def test_check_prints_why_in_plain_words_then_the_numbers(small_demo):
    photo = sorted((small_demo["out"] / "demo/registry/photos").glob("*.jpg"))[0]
    source_id = photo.name.rsplit("_", 1)[0]
    proc = run_cli("--db", str(small_demo["db"]), "check", str(photo))
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if f":{source_id}  " in line and "strong" in line)
    why, numbers = lines[at + 1].strip(), lines[at + 2].strip()
    assert why.startswith("Same photo as ") and source_id in why, lines
    assert re.fullmatch(
        r"PDQ distance 0; \d+ matching points; similarity 1\.00, rank 1 of \d+ registry photos", numbers
    ), numbers


def test_review_from_the_databases_own_folder_beside_its_reports_folder(tmp_path):
    """`daily` writes reports/ beside the database; run from there, that folder must not shadow the
    lootwatch package of the same name in the Datasette that `lootwatch review` starts."""
    from .review_db import hostile_db

    db = tmp_path / "lootwatch.db"
    hostile_db(db)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "2026-11-30.html").write_text("<p>digest</p>")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # lootwatch as installed (pip install -e .): a PYTHONPATH naming the checkout would hide the shadow.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    # As the `lootwatch` console script runs: its own start does not put the working directory first.
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "lootwatch.cli", "review", "lootwatch.db", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(150):
            if proc.poll() is not None:
                raise AssertionError(f"Datasette stopped: {proc.stderr.read()[-1500:]}")
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/-/login", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("Datasette did not start")
        assert page.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
