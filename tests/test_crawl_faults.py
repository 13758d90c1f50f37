"""End-to-end crawls of a misbehaving site on loopback (tests/fault_site.py): robots.txt, redirects,
404, 429 with Retry-After, a slow page, a page that changes between runs, and a crawl killed with
SIGKILL and resumed."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .conftest import ROOT
from .fault_site import LOTS, SPECIAL, FaultSite

pytestmark = pytest.mark.slow


def crawl(site: FaultSite, db, data, jobdir=None, wait: bool = True) -> subprocess.Popen:
    args = [sys.executable, "-m", "tests.fault_site", site.url, str(db), str(data)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        args + ([str(jobdir)] if jobdir else []), cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    if wait:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    return proc


def lots(db) -> dict[str, tuple]:
    con = sqlite3.connect(db)
    return {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT lot_id, title, url, content_sha256, gone FROM listings WHERE site = 'fault_site'"
        )
    }


def stored(db) -> list:
    try:
        # Read-only: connecting as usual would make an empty file, which the crawl rightly refuses.
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        return con.execute("SELECT lot_id FROM listings").fetchall()
    except sqlite3.Error:  # not created yet, or busy
        return []


def photos(db) -> set[tuple]:
    con = sqlite3.connect(db)
    return set(
        con.execute(
            "SELECT l.lot_id, i.position, i.sha256, i.error FROM listing_images i "
            "JOIN listings l ON l.id = i.listing_id"
        )
    )


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    site = FaultSite()
    crawl(site, tmp / "l.db", tmp / "data")
    yield site, tmp
    site.close()


def test_every_reachable_lot_stored(first_run):
    site, tmp = first_run
    expected = {str(n) for n in range(1, LOTS + 1)} - {str(SPECIAL["missing"])}
    assert set(lots(tmp / "l.db")) == expected


def test_robots_disallow_obeyed(first_run):
    site, _ = first_run
    assert site.hits["/robots.txt"] == 1
    assert not [p for p in site.hits if p.startswith("/private/")]


def test_redirect_followed_and_kept_as_evidence(first_run):
    site, tmp = first_run
    assert lots(tmp / "l.db")[str(SPECIAL["redirect"])][1].endswith(f"/lot/{SPECIAL['redirect']}b")
    con = sqlite3.connect(tmp / "l.db")
    assert con.execute("SELECT count(*) FROM evidence WHERE status = 302").fetchone()[0] == 1


def test_404_recorded_and_the_crawl_goes_on(first_run):
    _, tmp = first_run
    con = sqlite3.connect(tmp / "l.db")
    reasons = [r[0] for r in con.execute("SELECT reason FROM errors WHERE url LIKE '%/lot/9'")]
    assert len(reasons) == 1 and "404" in reasons[0]


def test_429_waits_for_retry_after(first_run):
    site, tmp = first_run
    assert site.hits[f"/lot/{SPECIAL['too_many']}"] == 2
    assert str(SPECIAL["too_many"]) in lots(tmp / "l.db")
    con = sqlite3.connect(tmp / "l.db")
    assert con.execute("SELECT count(*) FROM evidence WHERE status = 429").fetchone()[0] == 1


def test_slow_page_stored(first_run):
    assert str(SPECIAL["slow"]) in lots(first_run[1] / "l.db")


def test_second_run_fetches_only_what_changed_and_marks_vanished_lots(first_run):
    site, tmp = first_run
    before = lots(tmp / "l.db")
    images_before = sum(n for p, n in site.hits.items() if p.startswith("/img/"))
    site.version = 2
    crawl(site, tmp / "l.db", tmp / "data")
    after = lots(tmp / "l.db")
    changing = str(SPECIAL["changing"])
    assert after[changing][0].endswith("(re-offered)") and after[changing][2] != before[changing][2]
    assert after["3"][3] == 1  # no longer listed: gone, not deleted
    unchanged = {k for k in after if k not in (changing, "3")}
    assert all(after[k] == before[k] for k in unchanged)
    con = sqlite3.connect(tmp / "l.db")
    assert con.execute("SELECT count(*) FROM evidence WHERE status = 304").fetchone()[0] >= len(unchanged) - 2
    assert sum(n for p, n in site.hits.items() if p.startswith("/img/")) == images_before  # photos reused


def test_killed_crawl_resumes_to_the_same_database(tmp_path):
    site = FaultSite(lot_delay=0.15)
    try:
        crawl(site, tmp_path / "whole.db", tmp_path / "whole")
        site.hits.clear()
        proc = crawl(site, tmp_path / "resumed.db", tmp_path / "resumed", tmp_path / "job", wait=False)
        deadline = time.time() + 120
        while len(stored(tmp_path / "resumed.db")) < LOTS // 4:  # killed with lots stored and lots in flight
            assert time.time() < deadline and proc.poll() is None, "the crawl ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = len(lots(tmp_path / "resumed.db"))
        assert LOTS // 4 <= before < len(lots(tmp_path / "whole.db"))
        crawl(site, tmp_path / "resumed.db", tmp_path / "resumed", tmp_path / "job")
        whole = {k: (v[0], v[2], v[3]) for k, v in lots(tmp_path / "whole.db").items()}
        resumed = {k: (v[0], v[2], v[3]) for k, v in lots(tmp_path / "resumed.db").items()}
        assert resumed == whole
        assert photos(tmp_path / "resumed.db") == photos(tmp_path / "whole.db")
    finally:
        site.close()
