"""`lootwatch evidence`: a zip an investigator can check on its own."""

import errno
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from lootwatch.cli import main

from .conftest import ROOT, run_cli
from .evidence_home import PAGE_URL, PHOTO_URL, build_home

README = (ROOT / "README.md").read_text()


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
    pack = zipfile.ZipFile(the_pack(tmp_path, cid))
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


# A database home built in the test (tests/evidence_home.py): the crawler's WARC middleware captured the
# lot page and its photo, the photos are kept under data/originals beside the database.


@pytest.fixture
def home(tmp_path) -> dict:
    made = build_home(tmp_path / "home")
    (tmp_path / "elsewhere").mkdir()
    return {**made, "elsewhere": tmp_path / "elsewhere", "root": tmp_path}


def pack_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def first_line(summary: bytes) -> str:
    """The first line a reader of summary.html sees: the text of the first element of its body."""
    first = BeautifulSoup(summary, "html.parser").body.find(True)
    return " ".join(first.get_text(" ").split())


@pytest.mark.parametrize("stored", ["as written", "relative to the crawl's working directory"])
def test_pack_made_from_another_folder_holds_the_originals_and_warc_records(home, stored):
    if stored != "as written":
        # Databases written before paths were kept relative to the database named the WARC file relative
        # to the folder the crawl ran in (here the one above home/).
        con = sqlite3.connect(home["db"])
        con.execute(
            "UPDATE evidence SET warc_file = 'home/data/warc/' || replace(warc_file, 'data/warc/', '')"
        )
        con.commit()
    proc = run_cli(
        "--db", "../home/lootwatch.db", "evidence", str(home["cid"]), "--out", "packs", cwd=home["elsewhere"]
    )
    path = the_pack(home["elsewhere"] / "packs", home["cid"])
    files = pack_files(path)
    assert files[f"originals/listing/{home['sha']}"] == home["original"].read_bytes()
    assert files[f"originals/registry/{home['registry_sha']}"] == home["registry_original"].read_bytes()
    assert hashlib.sha256(path.read_bytes()).hexdigest() in proc.stdout  # the value to record
    manifest = json.loads(files["manifest.json"])
    assert manifest["complete"] is True and manifest["missing"] == []
    assert manifest["tool"] == {"name": "lootwatch", "version": metadata.version("lootwatch")}
    con = sqlite3.connect(home["db"])
    recorded = con.execute(
        "SELECT url, warc_record_id, captured_at, sha256 FROM evidence ORDER BY id"
    ).fetchall()
    records = list(ArchiveIterator(io.BytesIO(files["evidence.warc.gz"])))
    responses = [r for r in records if r.rec_type == "response"]
    assert [
        (r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Record-ID"))
        for r in responses
    ] == [(PAGE_URL, recorded[0][1]), (PHOTO_URL, recorded[1][1])]
    assert [r.rec_type for r in records] == ["response", "request", "response", "request"]
    assert [
        (m["url"], m["warc_record_id"], m["captured_at"], m["payload_sha256"])
        for m in manifest["warc_records"]
    ] == recorded
    for m in manifest["warc_records"]:
        assert m["warc_payload_digest"].startswith("sha256:") and m["warc_block_digest"]
    summary = BeautifulSoup(files["summary.html"], "html.parser").get_text(" ")
    assert first_line(files["summary.html"]).startswith("Complete evidence pack")
    assert f"lootwatch {metadata.version('lootwatch')}" in summary and recorded[1][1] in summary
    sums = dict(reversed(line.split("  ", 1)) for line in files["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(files) - {"SHA256SUMS"}
    assert all(hashlib.sha256(files[name]).hexdigest() == h for name, h in sums.items())


def test_pack_goes_beside_the_database_by_default(home):
    run_cli("--db", "../home/lootwatch.db", "evidence", str(home["cid"]), cwd=home["elsewhere"])
    assert the_pack(home["db"].parent / "evidence", home["cid"]).is_file()
    assert list(home["elsewhere"].iterdir()) == []


def test_warc_files_are_named_relative_to_the_database(home):
    (stored,) = {r[0] for r in sqlite3.connect(home["db"]).execute("SELECT warc_file FROM evidence")}
    assert stored.startswith("data/warc/house-") and (home["db"].parent / stored).is_file()


def refused(home, *args: str) -> subprocess.CompletedProcess:
    proc = run_cli(
        "--db",
        str(home["db"]),
        "evidence",
        str(home["cid"]),
        "--out",
        "packs",
        *args,
        cwd=home["elsewhere"],
        check=False,
    )
    assert "Traceback" not in proc.stderr
    return proc


def test_a_missing_original_refuses_the_pack_naming_it(home):
    home["registry_original"].unlink()
    proc = refused(home)
    assert proc.returncode == 1
    assert f"originals/registry/{home['registry_sha']}" in proc.stderr and "not found" in proc.stderr
    assert not (home["elsewhere"] / "packs").exists() or not any((home["elsewhere"] / "packs").iterdir())


def test_a_changed_original_refuses_the_pack_naming_it(home):
    data = bytearray(home["original"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    home["original"].write_bytes(bytes(data))
    proc = refused(home)
    assert proc.returncode == 1
    line = next(x for x in proc.stderr.splitlines() if f"originals/listing/{home['sha']}" in x)
    assert "changed on disk" in line and hashlib.sha256(data).hexdigest() in line


def test_a_missing_warc_file_refuses_the_pack_naming_it(home):
    (warc,) = (home["db"].parent / "data" / "warc").iterdir()
    warc.unlink()
    proc = refused(home)
    assert proc.returncode == 1
    assert proc.stderr.count(warc.name) >= 2 and PAGE_URL in proc.stderr and PHOTO_URL in proc.stderr


def test_allow_incomplete_says_first_what_is_missing_and_why(home):
    home["original"].unlink()
    proc = refused(home, "--allow-incomplete")
    assert proc.returncode == 0 and "INCOMPLETE" in proc.stdout
    files = pack_files(the_pack(home["elsewhere"] / "packs", home["cid"]))
    line = first_line(files["summary.html"])
    assert line.startswith("INCOMPLETE evidence pack: 1 file is missing or changed")
    assert f"originals/listing/{home['sha']}" in line and "not found" in line
    assert f"originals/listing/{home['sha']}" not in files
    manifest = json.loads(files["manifest.json"])
    assert manifest["complete"] is False and len(manifest["missing"]) == 1


def test_a_full_disk_keeps_the_pack_already_there(home, monkeypatch):
    monkeypatch.chdir(home["elsewhere"])
    args = ["--db", str(home["db"]), "evidence", str(home["cid"]), "--out", "packs/pack.zip"]
    assert CliRunner().invoke(main, args).exit_code == 0
    path = home["elsewhere"] / "packs" / "pack.zip"
    good = path.read_bytes()
    real, calls = zipfile.ZipFile.writestr, []

    def full_disk(self, *a, **kw):
        calls.append(1)
        if len(calls) > 1:  # the first member went out, then the disk filled up
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *a, **kw)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full_disk)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and len(calls) == 2
    assert result.stderr.splitlines() == [
        f"lootwatch: could not write {Path('packs') / path.name}: No space left on device; "
        "the pack already there is unchanged"
    ]
    assert path.read_bytes() == good and zipfile.ZipFile(path).testzip() is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def the_pack(folder: Path, cid: int) -> Path:
    """The one pack of candidate ``cid`` in ``folder`` (named by the time it was made)."""
    (path,) = folder.glob(f"lootwatch-candidate-{cid}-*.zip")
    return path


def test_a_pack_is_never_replaced(home):
    out = ["--db", str(home["db"]), "evidence", str(home["cid"]), "--out"]
    assert run_cli(*out, "packs/one.zip", cwd=home["elsewhere"]).returncode == 0
    kept = (home["elsewhere"] / "packs" / "one.zip").read_bytes()
    home["original"].unlink()
    again = run_cli(*out, "packs/one.zip", "--allow-incomplete", cwd=home["elsewhere"], check=False)
    assert again.returncode == 1 and "already exists and is kept" in again.stderr
    assert (home["elsewhere"] / "packs" / "one.zip").read_bytes() == kept


def verification_steps() -> str:
    """The shell commands of the README's "Verifying an evidence pack"."""
    section = README.split("### Verifying an evidence pack", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def verify(folder: Path, zip_name: str, cid: int, offset: int) -> subprocess.CompletedProcess:
    script = verification_steps().replace("lootwatch-candidate-ID", zip_name.removesuffix(".zip"))
    script = script.replace("OFFSET", str(offset)).replace("ID", str(cid))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=folder, env=env, capture_output=True, text=True
    )


@pytest.mark.skipif(not (shutil.which("unzip") and shutil.which("sha256sum")), reason="no unzip or sha256sum")
def test_the_documented_verification_verifies_a_pack(home):
    run_cli("--db", str(home["db"]), "evidence", str(home["cid"]), "--out", "packs", cwd=home["elsewhere"])
    path = the_pack(home["elsewhere"] / "packs", home["cid"])
    name = path.name
    files = pack_files(path)
    manifest = json.loads(files["manifest.json"])
    (photo,) = [p for p in manifest["photos"] if p["owner"] == "listing"]
    offset = photo["warc_records"][0]["offset"]
    proc = verify(path.parent, name, home["cid"], offset)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}"
    assert sum(line.endswith(": OK") for line in out) == len(files) - 1 + 2  # SHA256SUMS, then the photos
    assert proc.stdout.count("digest pass") == 4  # two responses, two requests
    index = [json.loads(line) for line in out if line.startswith("{")]
    assert [
        (i["warc-record-id"], i["warc-target-uri"], int(i["offset"]), i["warc-payload-digest"])
        for i in index
        if i["warc-type"] == "response"
    ] == [
        (m["warc_record_id"], m["url"], m["offset"], m["warc_payload_digest"])
        for m in manifest["warc_records"]
    ]
    assert out[-1] == f"{home['sha']}  -"  # the photo as served is the photo packed

    # The same steps fail a pack changed afterwards: a photo's bytes, or a WARC record's payload with
    # SHA256SUMS made to agree (only the WARC digests can tell).
    bad = dict(files)
    bad[photo["file"]] = files[photo["file"]][:-1] + b"\0"
    warc = gzip.decompress(files["evidence.warc.gz"])
    at = warc.index(files[photo["file"]][100:120])
    changed_warc = warc[:at] + bytes([warc[at] ^ 0xFF]) + warc[at + 1 :]
    sums = (
        files["SHA256SUMS"]
        .decode()
        .replace(
            hashlib.sha256(files["evidence.warc.gz"]).hexdigest(), hashlib.sha256(changed_warc).hexdigest()
        )
    )
    warc_changed = {**files, "evidence.warc.gz": changed_warc, "SHA256SUMS": sums.encode()}
    outputs = []
    for n, changed in enumerate([bad, warc_changed]):
        folder = home["root"] / f"tampered{n}"
        folder.mkdir()
        with zipfile.ZipFile(folder / name, "w") as zf:
            for member, data in changed.items():
                zf.writestr(member, data)
        failed = verify(folder, name, home["cid"], offset)
        assert failed.returncode != 0
        outputs.append(failed.stdout)
    assert f"{photo['file']}: FAILED" in outputs[0]
    assert "evidence.warc.gz: OK" in outputs[1] and "digest failed" in outputs[1]
