"""Crawl health: a site that returns nothing, or far fewer lots than usual, is called out."""

import email
from email import policy

from matcher.db import connect, store
from reports.digest import write_report
from reports.health import crawl_health


def run(db, site: str, items: int, unchanged: int = 0, status: str = "finished") -> None:
    run_id = store.start_run(db, site, "market")
    store.finish_run(
        db, run_id, status, {"lootwatch/store/items": items, "lootwatch/lots/unchanged": unchanged}
    )


def test_warnings(tmp_path):
    db = connect.open_db(tmp_path / "h.db")
    for _ in range(3):
        run(db, "steady", 40, 60)
        run(db, "broken", 50, 50)
        run(db, "thin", 100)
    run(db, "steady", 10, 85)
    run(db, "broken", 0)
    run(db, "thin", 30)
    run(db, "stopped", 5, status="shutdown")
    health = {h["site"]: h for h in crawl_health(db)}
    assert health["steady"]["warning"] is None and health["steady"]["seen"] == 95
    assert "no lots at all" in health["broken"]["warning"]
    assert "30 lots against 100 on average" in health["thin"]["warning"]
    assert "ended early" in health["stopped"]["warning"]


def test_digest_shows_crawl_health(tmp_path):
    db = connect.open_db(tmp_path / "h.db")
    run(db, "demo_aurora", 0)
    rep = write_report(db, tmp_path / "out", "http://x", "a@x", [])
    html = rep.html_path.read_text()
    assert "Crawl health" in html and "no lots at all" in html
    msg = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    assert "WARNING: no lots at all" in msg.get_body(preferencelist=("plain",)).get_content()


def test_digest_counts_refused_requests(tmp_path):
    db = connect.open_db(tmp_path / "h.db")
    run_id = store.start_run(db, "seller_site", "market")
    store.finish_run(db, run_id, "finished", {"lootwatch/store/items": 4, "lootwatch/refused": 3})
    (health,) = crawl_health(db)
    assert health["refused"] == 3
    rep = write_report(db, tmp_path / "out", "http://x", "a@x", [])
    assert "3 requests refused: they pointed at an address that is not public" in rep.html_path.read_text()
    msg = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    assert "(3 refused: not a public address)" in msg.get_body(preferencelist=("plain",)).get_content()


def test_refusals_of_a_registry_crawl_are_counted_too(tmp_path):
    db = connect.open_db(tmp_path / "h.db")
    run_id = store.start_run(db, "registry_file", "registry")
    store.finish_run(db, run_id, "finished", {"lootwatch/refused": 2})
    run(db, "seller_site", 4)
    health = {h["site"]: h for h in crawl_health(db)}
    assert health["registry_file (registry)"]["refused"] == 2 and health["seller_site"]["refused"] == 0
