"""The review database file: only a path where nothing exists becomes a new database, and only for the
commands that make one; an empty file, a file that is not SQLite, another program's SQLite database and
a damaged database are each refused in one line, never written over, never a traceback."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lootwatch.cli import main
from matcher.db import connect, store

from .conftest import run_cli

# Commands that only read the database; each must refuse every bad file, and a missing one.
READERS = [
    ["report", "--dry-run"],
    ["match"],
    ["registry", "banks"],
    ["evidence", "1"],
    ["check", "photo.jpg"],
    ["review", "--print-command"],
]


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 20)


def foreign(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.commit()
    con.close()


def truncated(path: Path) -> None:
    """A lootwatch database cut to half its length, as a full disk or an interrupted copy leaves it."""
    db = connect.open_db(path)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


BAD_FILES = {
    "empty": (empty, "empty file (0 bytes)"),
    "garbage": (garbage, "not an SQLite file"),
    "foreign": (foreign, "not lootwatch's (its tables: contacts)"),
    "truncated": (truncated, "is damaged (database disk image is malformed); check it with: sqlite3"),
}


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def files(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` and its bytes, but SQLite's shared-memory index (``-shm``), which any
    reader of a WAL database makes, and an empty write-ahead log."""
    return {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if p.is_file()
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and not p.stat().st_size)
    }


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_reading_command_refuses_a_bad_file_in_one_line_and_leaves_it(kind, command, tmp_path):
    make, words = BAD_FILES[kind]
    path = tmp_path / "lootwatch.db"
    make(path)
    before = files(tmp_path)
    result = CliRunner().invoke(main, ["--db", str(path), *command])
    assert result.exit_code == 1, result.output
    line = one_line(result.output)
    assert line.startswith("lootwatch: ") and words in line and str(path) in line
    assert files(tmp_path) == before  # nothing written, nothing made beside it


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_reading_command_refuses_a_missing_database_and_makes_none(command, tmp_path):
    path = tmp_path / "nothing-here.db"
    result = CliRunner().invoke(main, ["--db", str(path), *command])
    assert result.exit_code == 1
    assert "does not exist" in one_line(result.output) and not path.exists()


def test_the_damaged_message_says_how_to_check_and_where_the_backup_is(tmp_path):
    path = tmp_path / "lootwatch.db"
    truncated(path)
    line = one_line(CliRunner().invoke(main, ["--db", str(path), "registry", "banks"]).output)
    assert f'sqlite3 {path} "PRAGMA integrity_check"' in line
    assert "restore your latest copy" in line and 'README, "Backups"' in line


def test_damage_met_in_the_middle_of_a_command_is_one_line(tmp_path):
    """Opening reads only the schema; a damaged page of the listings table is met by ``match``."""
    path = tmp_path / "lootwatch.db"
    db = connect.open_db(path)
    for n in range(200):
        store.upsert_listing(
            db, {"site": "s", "lot_id": str(n), "title": "t" * 200, "description": "d" * 500}
        )
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'listings'").fetchone()
    (page,) = db.execute("PRAGMA page_size").fetchone()
    db.conn.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xff" * page)
    result = CliRunner().invoke(main, ["--db", str(path), "match"])
    assert result.exit_code == 1
    assert "is damaged (database disk image is malformed)" in one_line(result.output)


@pytest.mark.parametrize("kind", ["empty", "garbage", "foreign"])
def test_open_db_never_writes_over_a_file_that_is_no_lootwatch_database(kind, tmp_path):
    make, words = BAD_FILES[kind]
    path = tmp_path / "x.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(connect.DatabaseProblem, match=words.split(" (")[0]):
        connect.open_db(path)  # even where making a database is allowed
    assert path.read_bytes() == before


def test_open_db_makes_a_missing_database_only_when_asked(tmp_path):
    with pytest.raises(connect.DatabaseProblem, match="does not exist"):
        connect.open_db(tmp_path / "a" / "l.db", create=False)
    assert not (tmp_path / "a").exists()
    db = connect.open_db(tmp_path / "a" / "l.db")
    assert "listings" in db.table_names()
    db.conn.close()
    assert "listings" in connect.open_db(tmp_path / "a" / "l.db", create=False).table_names()


@pytest.mark.parametrize(
    "command",
    [
        ["crawl", "ebay_browse"],
        ["daily", "--dry-run"],
        ["registry", "import", "r.csv"],
        ["demo", "--size", "small", "--out", "."],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_command_that_makes_databases_refuses_an_empty_file(command, tmp_path):
    """The measured case: a 0-byte file was made into a new empty database and the digest then said
    "0 candidates". The file must stay as it was, and the command say why in one line."""
    (tmp_path / "r.csv").write_text("source,source_id\nbank,1\n")
    path = tmp_path / "lootwatch.db"
    path.write_bytes(b"")
    proc = run_cli("--db", str(path), *command, cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "empty file (0 bytes)" in one_line(proc.stderr)
    assert path.read_bytes() == b"" and not (tmp_path / "lootwatch.db-wal").exists()
    assert not (tmp_path / "demo").exists()  # the demo refuses before drawing anything


def test_a_command_that_makes_databases_makes_a_missing_one(tmp_path):
    path = tmp_path / "new" / "lootwatch.db"
    proc = run_cli("--db", str(path), "crawl", "ebay_browse", cwd=tmp_path, check=False)
    assert "ebay_browse" in proc.stdout  # it ran (and failed for want of a token, which is another test)
    assert "listings" in connect.open_db(path, create=False).table_names()
    assert os.path.getsize(path) > 0
