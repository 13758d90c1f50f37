import json

import pytest
from PIL import Image

from .conftest import run_cli

COMMANDS = [["demo"], ["registry", "import"], ["crawl"], ["match"], ["check"], ["review"], ["report"]]


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
    proc = run_cli("--db", str(small_demo["db"]), "check", str(mirrored), str(broken), "--json")
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
    assert "lootwatch-2026-12-01.eml" in proc.stdout
    assert (out / "lootwatch-2026-12-01.html").exists()
    cmd = run_cli("review", str(small_demo["db"]), "--print-command").stdout
    assert "datasette" in cmd and str(small_demo["db"]) in cmd
