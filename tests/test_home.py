"""One home per database: data, digests and packs go beside the database (or where lootwatch.toml says),
never into the working directory or the source tree."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from lootwatch.cli import main
from lootwatch.config import load_config

from .conftest import run_cli
from .evidence_home import jpeg
from .review_db import hostile_db


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_folders_follow_the_database_unless_the_config_places_them(tmp_path):
    cfg = load_config(db="cases/a/l.db")
    assert (cfg.data_dir, cfg.report_dir, cfg.evidence_dir) == (
        Path("cases/a/data"),
        Path("cases/a/reports"),
        Path("cases/a/evidence"),
    )
    (tmp_path / "lootwatch.toml").write_text('db = "l.db"\ndata_dir = "/srv/lootwatch/data"\n')
    cfg = load_config(tmp_path / "lootwatch.toml", db="other/l.db")
    assert cfg.data_dir == Path("/srv/lootwatch/data")  # set in the file: kept, --db or not
    assert cfg.report_dir == Path("other/reports") and cfg.evidence_dir == Path("other/evidence")
    assert load_config(tmp_path / "lootwatch.toml").report_dir == tmp_path / "reports"


def test_report_dry_run_writes_beside_the_database(tmp_path, monkeypatch):
    hostile_db(tmp_path / "home" / "l.db")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = CliRunner().invoke(main, ["--db", "../home/l.db", "report", "--dry-run", "--date", "2026-12-01"])
    assert result.exit_code == 0, result.output
    written = files_under(tmp_path / "home" / "reports")
    assert [Path(f).suffix for f in written] == [".csv", ".eml", ".html"]
    assert files_under(tmp_path / "elsewhere") == []


def test_registry_import_keeps_photos_beside_the_database(tmp_path):
    photo = jpeg(3)
    (tmp_path / "registry" / "photos").mkdir(parents=True)
    (tmp_path / "registry" / "photos" / "a.jpg").write_bytes(photo)
    (tmp_path / "registry" / "r.csv").write_text(
        "source,source_id,title,images\nbulletin,1,Stele,photos/a.jpg\n"
    )
    (tmp_path / "home").mkdir()
    (tmp_path / "elsewhere").mkdir()
    run_cli(
        "--db", "../home/l.db", "registry", "import", "../registry/r.csv", "--workers", "1",
        cwd=tmp_path / "elsewhere",
    )  # fmt: skip
    sha = hashlib.sha256(photo).hexdigest()
    assert (tmp_path / "home" / "data" / "originals" / sha[:2] / sha).read_bytes() == photo
    assert files_under(tmp_path / "elsewhere") == []
