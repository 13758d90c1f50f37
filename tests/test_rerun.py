"""Crawling and matching again changes no candidate and keeps a verdict recorded in between."""

import shutil
import sqlite3

import pytest

from matcher.db import connect, store
from seeds.demo.server import serve

from .conftest import run_cli

pytestmark = pytest.mark.slow


def snapshot(path):
    db = sqlite3.connect(path)
    return (
        db.execute("SELECT * FROM candidates ORDER BY id").fetchall(),
        db.execute("SELECT * FROM reviews ORDER BY id").fetchall(),
    )


def test_crawl_and_match_twice_is_idempotent_and_keeps_verdicts(small_demo, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(small_demo["out"], work)
    db_path = work / "lootwatch.db"
    db = connect.open_db(db_path)
    cid = next(db.query("SELECT id FROM candidates WHERE tier = 'strong' LIMIT 1"))["id"]
    store.add_review(db, cid, "confirmed", "analyst@example.org", "matches the registry photo")
    db.conn.close()
    before = snapshot(db_path)
    config = work / "lootwatch.toml"
    config.write_text('db = "lootwatch.db"\ndata_dir = "data"\n')
    with serve(work / "demo/market") as server:
        for _ in range(2):
            run_cli("--config", str(config), "crawl", "--demo-url", server.url)
            run_cli("--config", str(config), "match")
    assert snapshot(db_path) == before
    run_cli("--config", str(config), "match", "--all")
    assert snapshot(db_path) == before
    listings = sqlite3.connect(db_path).execute("SELECT count(*) FROM listings").fetchone()[0]
    assert listings == small_demo["summary"]["lots"]
