"""The bad-input corpus (tests/make_corpus.py) crawled from a loopback site and imported as registry
files: nothing crashes, every bad input is a recorded error with its reason, the rest goes on, nothing
is fetched from a private address, and nothing a seller wrote is rendered unescaped."""

import asyncio
import csv
import email
import io
import os
import sqlite3
import subprocess
import sys

import pytest

from matcher.db import connect
from matcher.text.screen import screen_listings
from reports.digest import write_report
from spiders.registries.files import RegistryFileError, read_registry_file

from .conftest import ROOT
from .hostile_site import HostileSite
from .make_corpus import REFUSED_IMAGE_URLS, XSS, image_cases, page_cases, registry_cases

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    site = HostileSite()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.hostile_site", site.url, str(tmp / "l.db"), str(tmp / "data")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        site.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, site


def errors(tmp, url_end: str) -> list[tuple[str, str]]:
    con = sqlite3.connect(tmp / "l.db")
    return con.execute("SELECT stage, reason FROM errors WHERE url LIKE ?", [f"%{url_end}"]).fetchall()


def test_crawl_finished_and_nothing_crashed(crawled):
    tmp, _ = crawled
    con = sqlite3.connect(tmp / "l.db")
    assert con.execute("SELECT status FROM crawl_runs").fetchall() == [("finished",)]
    stats = con.execute("SELECT stats_json FROM crawl_runs").fetchone()[0]
    assert '"spider_exceptions' not in stats  # no callback raised
    # No row lost: every lot page with a lot on it is stored (a pipeline error would drop the item).
    expected = len(image_cases()) + sum(c.expect == "decode" for c in page_cases()) + 1
    assert con.execute("SELECT count(*) FROM listings").fetchone()[0] == expected


@pytest.mark.parametrize("case", image_cases(), ids=lambda c: c.name)
def test_every_bad_photo_is_a_recorded_error_and_odd_ones_decode(crawled, case):
    tmp, _ = crawled
    con = sqlite3.connect(tmp / "l.db")
    (sha, error) = con.execute(
        "SELECT sha256, error FROM listing_images WHERE url LIKE ? LIMIT 1", [f"%/img/{case.name}"]
    ).fetchone()
    if case.expect == "decode":
        assert sha and error is None
    else:
        assert error and errors(tmp, f"/img/{case.name}")


@pytest.mark.parametrize("case", page_cases(), ids=lambda c: c.name)
def test_bad_pages(crawled, case):
    tmp, _ = crawled
    con = sqlite3.connect(tmp / "l.db")
    stored = con.execute("SELECT title FROM listings WHERE url LIKE ?", [f"%/page/{case.name}"]).fetchall()
    if case.expect == "decode":
        assert len(stored) == 1 and "Vase" in stored[0][0]
    else:
        assert stored == [] and errors(tmp, f"/page/{case.name}")


def test_private_addresses_and_other_schemes_never_fetched(crawled):
    tmp, _ = crawled
    con = sqlite3.connect(tmp / "l.db")
    refused = {u for (u,) in con.execute("SELECT url FROM errors WHERE stage = 'refused'")}
    assert set(REFUSED_IMAGE_URLS) - {"javascript:alert(1)"} <= refused | {
        u for (u,) in con.execute("SELECT url FROM listing_images WHERE error IS NOT NULL")
    }
    assert (
        con.execute("SELECT count(*) FROM evidence WHERE url NOT LIKE 'http://127.0.0.1:%'").fetchone()[0]
        == 0
    )
    rows = con.execute(
        "SELECT i.url, i.error FROM listing_images i JOIN listings l ON l.id = i.listing_id "
        "WHERE l.title LIKE 'Sumerian alabaster idol%' ORDER BY i.position"
    ).fetchall()
    assert len(rows) == len(REFUSED_IMAGE_URLS) + 1  # every photo kept as a row, the bad ones with a reason
    assert all(error for _, error in rows[:-1]) and rows[-1][1] is None


def test_nothing_a_seller_wrote_is_rendered_unescaped(crawled, tmp_path):
    tmp, _ = crawled
    db = connect.open_db(tmp / "l.db")
    screen_listings(db)
    report = write_report(db, tmp_path, "http://127.0.0.1:8001", "lw@x", [])
    html = report.html_path.read_text()
    assert any(c["listing_title"].startswith("Sumerian alabaster idol") for c in report.candidates)
    assert "<script>window.lootwatchPwned" not in html and "onerror=" not in html.replace("onerror=&#34;", "")
    assert 'href="javascript:' not in html
    attachment = next(
        p for p in email.message_from_bytes(report.eml_path.read_bytes()).walk() if p.get_filename()
    )
    for row in csv.DictReader(io.StringIO(attachment.get_payload(decode=True).decode())):
        assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values() if v)

    from datasette.app import Datasette

    from reports.review import review_metadata

    cid = report.candidates[0]["candidate_id"]

    async def page():
        ds = Datasette([str(tmp / "l.db")], metadata=review_metadata(tmp / "l.db"))
        return (await ds.client.get(f"/-/lootwatch/candidate/{cid}")).text

    text = asyncio.run(page())
    assert XSS not in text and "<script>window.lootwatchPwned" not in text


@pytest.mark.parametrize("case", registry_cases(), ids=lambda c: c.name)
def test_bad_registry_files(tmp_path, case):
    path = tmp_path / case.name
    path.write_bytes(case.body)
    if case.expect == "error":
        with pytest.raises(RegistryFileError) as err:
            read_registry_file(path, "bulletin")
        assert str(path) in str(err.value) and len(str(err.value).splitlines()) == 1
    else:
        parsed = read_registry_file(path)
        assert parsed.records and parsed.errors  # the good rows read, the bad ones reported
        for record in parsed.records:
            assert all(u.startswith(("http://", "https://", "file://")) for u in record["image_urls"])
