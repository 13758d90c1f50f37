"""500 verdicts posted to the review UI over HTTP while a crawl and a match write to the same database:
every one recorded, none refused with "database is locked"."""

import os
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import pytest
from datasette.app import Datasette as App
from datasette_auth_passwords.utils import hash_password

from matcher.db import connect, store
from reports.security import reviewer_cookie

from .browser import Datasette
from .conftest import ROOT
from .fault_site import FaultSite

pytestmark = pytest.mark.slow
SECRET = "test-secret-for-signing-cookies"
VERDICTS = 500


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_500_verdicts_while_crawling_and_matching(tmp_path, monkeypatch):
    path = tmp_path / "l.db"
    db = connect.open_db(path)
    ids = []
    for n in range(20):
        lid, _ = store.upsert_listing(
            db, {"site": "s", "lot_id": str(n), "title": f"Relief {n}", "content_sha256": str(n)}
        )
        ids.append(
            db.table("candidates")
            .insert({"listing_id": lid, "kind": "flags", "tier": "review", "score": 60.0})
            .last_pk
        )
    env = {"LOOTWATCH_PASSWORD_HASH": hash_password("secret"), "DATASETTE_SECRET": SECRET}
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the metadata names the reviewer whose hash is set
    cookie = f"ds_actor={reviewer_cookie(App(secret=SECRET), {'id': 'analyst'})}"  # with an expiry
    site = FaultSite(lot_delay=0.05)
    child_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        with Datasette(path, env=env) as server:
            page = urllib.request.urlopen(
                urllib.request.Request(
                    f"{server.url}/-/lootwatch/candidate/{ids[0]}", headers={"Cookie": cookie}
                )
            )
            csrf = re.search(r"ds_csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
            token = re.search(r'name="csrftoken" value="([^"]+)"', page.read().decode()).group(1)
            crawl = subprocess.Popen(
                [sys.executable, "-m", "tests.fault_site", site.url, str(path), str(tmp_path / "data")],
                cwd=ROOT,
                env=child_env,
                stderr=subprocess.PIPE,
                text=True,
            )
            match = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    (
                        "from matcher.db import connect; from matcher.text.screen import screen_listings;"
                        "from matcher.text.textmatch import match_texts;"
                        f"db = connect.open_db({str(path)!r});"
                        "[(screen_listings(db, rescreen_all=True), match_texts(db, rematch_all=True))"
                        " for _ in range(15)]"
                    ),
                ],
                cwd=ROOT,
                env=child_env,
                stderr=subprocess.PIPE,
                text=True,
            )
            statuses = []
            opener = urllib.request.build_opener(NoRedirect)

            def post(n: int) -> None:
                cid = ids[n % len(ids)]
                data = urllib.parse.urlencode(
                    {"verdict": "note", "note": f"verdict {n}", "csrftoken": token}
                ).encode()
                request = urllib.request.Request(
                    f"{server.url}/-/lootwatch/candidate/{cid}/verdict",
                    data=data,
                    headers={"Cookie": f"{cookie}; ds_csrftoken={csrf}"},
                )
                try:
                    statuses.append(opener.open(request, timeout=120).status)
                except urllib.error.HTTPError as exc:
                    statuses.append(exc.code)

            threads = [
                threading.Thread(target=lambda k=k: [post(n) for n in range(k, VERDICTS, 10)])
                for k in range(10)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            crawl_err = crawl.communicate(timeout=300)[1]
            match_err = match.communicate(timeout=300)[1]
    finally:
        site.close()
    assert statuses.count(302) == VERDICTS, sorted(set(statuses))
    assert crawl.returncode == 0 and "database is locked" not in crawl_err
    assert match.returncode == 0 and "database is locked" not in match_err, match_err[-2000:]
    notes = {r["note"] for r in db.query("SELECT note FROM reviews")}
    assert notes == {f"verdict {n}" for n in range(VERDICTS)}
    assert db.execute("SELECT count(*) FROM listings WHERE site = 'fault_site'").fetchone()[0] > 0
