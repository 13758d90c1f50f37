"""A crawl of a hostile seller's site on loopback (tests/ssrf_site.py): lot links, photos, redirects,
robots.txt and registry photo URLs aimed at an internal service on 127.0.0.2, in every spelling and
through host names, are all refused and recorded once each; the internal service is never asked and
nothing of it is stored."""

import os
import sqlite3
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from .conftest import ROOT
from .ssrf_site import INTERNAL, InternalService, SellerSite, internal_hosts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssrf")
    try:
        internal = InternalService()
    except OSError as exc:  # a sandbox without the whole 127.0.0.0/8 on loopback
        pytest.skip(f"cannot listen on {INTERNAL}: {exc}")
    port = int(internal.host.rsplit(":", 1)[1])
    site = SellerSite(port)
    hosts = internal_hosts(port)
    rows = [f"r,{i},http://{h}/registry-{i}.jpg" for i, h in enumerate(hosts)]
    (tmp / "r.csv").write_text("source,source_id,images\n" + "\n".join(rows) + "\n")
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.ssrf_site",
                site.url,
                str(tmp / "l.db"),
                str(tmp / "data"),
                str(tmp / "r.csv"),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        site.close()
        internal.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sqlite3.connect(tmp / "l.db"), hosts, internal, site


def refused(con) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for url, reason in con.execute("SELECT url, reason FROM errors WHERE stage = 'refused'"):
        out.setdefault(url, []).append(reason)
    return out


def test_the_internal_service_is_never_asked(crawled):
    _, _, internal, _ = crawled
    assert internal.hits == []


def test_only_the_genuine_lot_is_stored(crawled):
    con, *_ = crawled
    assert con.execute("SELECT lot_id FROM listings").fetchall() == [("ok",)]
    assert con.execute("SELECT status FROM crawl_runs").fetchall() == [("finished",), ("finished",)]


@pytest.mark.parametrize("kind", ["lot-{i}", "photo-{i}.jpg", "redirected-lot-{i}", "redirected-{i}.jpg"])
def test_every_spelling_is_refused_once_with_its_address(crawled, kind):
    con, hosts, _, _ = crawled
    found = refused(con)
    for i, host in enumerate(hosts):
        url = f"http://{host}/{kind.format(i=i)}"
        matches = [u for u in found if _same(u, url)]
        assert len(matches) == 1, (url, sorted(found))
        assert len(found[matches[0]]) == 1, found[matches[0]]  # counted once
        reason = found[matches[0]][0]
        said = ("127.0.0.2", "this machine", "0.0.0.0", "user name")
        assert any(words in reason for words in said), reason


def test_refused_photos_keep_their_row_and_reason_and_are_not_counted_twice(crawled):
    con, hosts, _, _ = crawled
    rows = con.execute("SELECT url, sha256, error FROM listing_images ORDER BY position").fetchall()
    assert len(rows) == 1 + 2 * len(hosts)
    assert rows[0][1] and rows[0][2] is None  # the seller's own photo is stored
    assert all(error and error.startswith("Refused: ") and sha is None for _, sha, error in rows[1:])
    photo_errors = con.execute("SELECT count(*) FROM errors WHERE stage = 'photo'").fetchone()[0]
    assert photo_errors == 0


def test_registry_photo_urls_are_refused_too(crawled):
    con, hosts, _, _ = crawled
    rows = con.execute("SELECT url, sha256, error FROM registry_images").fetchall()
    assert len(rows) == len(hosts)
    assert all(sha is None and error for _, sha, error in rows)
    found = refused(con)
    assert all(any(_same(u, f"http://{h}/registry-{i}.jpg") for u in found) for i, h in enumerate(hosts))


def test_nothing_from_an_internal_address_is_kept_as_evidence(crawled):
    con, *_ = crawled
    urls = [u for (u,) in con.execute("SELECT url FROM evidence")]
    assert urls and all(urlsplit(u).hostname == "127.0.0.1" for u in urls)


def _same(a: str, b: str) -> bool:
    """Scrapy normalises the URLs it requests (case of the host, default ports): compare loosely."""
    return a.lower().rstrip("/") == b.lower().rstrip("/")
