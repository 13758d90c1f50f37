"""`lootwatch evidence`: a zip an investigator can check on its own."""

import hashlib
import io
import json
import sqlite3
import zipfile

from warcio.archiveiterator import ArchiveIterator

from .conftest import run_cli


def test_pack_of_a_strong_candidate(small_demo, tmp_path):
    out = small_demo["out"]
    (tmp_path / "lootwatch.toml").write_text(f'db = "{out / "lootwatch.db"}"\ndata_dir = "{out / "data"}"\n')
    con = sqlite3.connect(small_demo["db"])
    cid = con.execute(
        "SELECT id FROM candidates WHERE kind = 'image' AND tier = 'strong' LIMIT 1"
    ).fetchone()[0]
    con.execute(
        "INSERT INTO reviews (candidate_id, verdict, note, reviewer, created_at) VALUES (?, ?, ?, ?, ?)",
        [cid, "confirmed", "<script>alert(1)</script>", "analyst1", "2026-11-28T09:00:00+00:00"],
    )
    con.commit()
    run_cli("--config", str(tmp_path / "lootwatch.toml"), "evidence", str(cid), "--out", str(tmp_path))
    pack = zipfile.ZipFile(tmp_path / f"lootwatch-candidate-{cid}.zip")
    manifest = json.loads(pack.read("manifest.json"))
    for f in manifest["files"]:
        assert hashlib.sha256(pack.read(f["name"])).hexdigest() == f["sha256"]
        if f["name"].startswith("originals/"):
            assert f["name"].rsplit("/", 1)[1] == f["sha256"]  # the original bytes, unchanged
    assert any(f["name"].startswith("originals/listing/") for f in manifest["files"])
    assert any(f["name"].startswith("originals/registry/") for f in manifest["files"])
    responses = [
        (r.rec_headers.get_header("WARC-Target-URI"), hashlib.sha256(r.raw_stream.read()).hexdigest())
        for r in ArchiveIterator(io.BytesIO(pack.read("evidence.warc.gz")))
        if r.rec_type == "response"
    ]
    assert len(responses) == len(manifest["warc_records"]) >= 2  # the lot page and its photo at least
    assert responses == [(m["url"], m["payload_sha256"]) for m in manifest["warc_records"]]
    summary = pack.read("summary.html").decode()
    assert "analyst1" in summary and "confirmed" in summary
    assert "<script>alert(1)</script>" not in summary and "&lt;script&gt;" in summary


def test_unknown_candidate_is_a_clear_error(small_demo, tmp_path):
    proc = run_cli("--db", str(small_demo["db"]), "evidence", "999999", "--out", str(tmp_path), check=False)
    assert proc.returncode == 1 and "no candidate 999999" in proc.stderr
