"""The review UI is safe to open (issue 20, item 4): each point with Datasette's test client, and the
points that depend on the real server (Host header, body cap, rate limit, cookies) over loopback too."""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
import time
import urllib.parse

import pytest
from datasette.app import Datasette
from datasette.utils import baseconv
from datasette_auth_passwords.utils import hash_password

from reports.review import PRIVATE_TABLES, datasette_command, review_metadata, review_secret
from reports.security import BANNER, FORM_CAP

from .browser import Datasette as Server
from .review_db import hostile_db

HASH = hash_password("secret")


@pytest.fixture
def reviewer_env(monkeypatch):
    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", HASH)
    monkeypatch.delenv("LOOTWATCH_REVIEW_HOSTS", raising=False)


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "lootwatch.db"
    hostile_db(path)
    return path


def ui(db_path, secret="s1", **kwargs) -> Datasette:
    return Datasette([str(db_path)], metadata=review_metadata(db_path, **kwargs), secret=secret)


def run(coro):
    return asyncio.run(coro)


async def sign_in(ds, password="secret", user="analyst"):
    """datasette-auth-passwords' form, as a reviewer fills it; returns the response and the cookies."""
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = {"ds_csrftoken": page.cookies["ds_csrftoken"]}
    r = await ds.client.post(
        "/-/login", data={"username": user, "password": password, "csrftoken": token}, cookies=cookies
    )
    if "ds_actor" in r.cookies:
        cookies["ds_actor"] = r.cookies["ds_actor"]
    return r, cookies


PAGES = [
    "/",
    "/lootwatch",
    "/lootwatch.json",
    "/lootwatch/review_queue",
    "/lootwatch/review_queue.json",
    "/lootwatch/candidates.json",
    "/lootwatch/listings/1.json",
    "/lootwatch/thumbnails.json",
    "/-/lootwatch/candidate/1",
    "/-/lootwatch/check",
    "/-/databases.json",
    "/-/versions.json",
    "/-/threads.json",
    "/-/settings.json",
    "/-/metadata.json",
    "/-/plugins.json",
    "/-/actor.json",
]


def test_every_page_and_json_endpoint_needs_a_signed_in_reviewer(db_path, reviewer_env):
    async def go():
        ds = ui(db_path)
        anonymous = {p: await ds.client.get(p) for p in PAGES}
        public = [(await ds.client.get(p)).status_code for p in ("/-/login", "/-/static/app.css")]
        _, cookies = await sign_in(ds)
        signed_in = {p: (await ds.client.get(p, cookies=cookies)).status_code for p in PAGES}
        return anonymous, public, signed_in

    anonymous, public, signed_in = run(go())
    for path, r in anonymous.items():
        if path.endswith(".json"):
            assert r.status_code == 403 and r.json()["ok"] is False, path
        else:  # pages send the reviewer to sign in, and back here afterwards
            assert r.status_code == 302, path
            assert r.headers["location"] == "/-/login?next=" + path, path
    assert "rows" not in anonymous["/lootwatch/review_queue.json"].text
    assert public == [200, 200]
    assert all(status == 200 for status in signed_in.values()), signed_in


def test_arbitrary_sql_is_off_for_everyone(db_path, reviewer_env):
    async def go():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        sql = "/lootwatch.json?sql=" + urllib.parse.quote("select * from reviews")
        return (await ds.client.get(sql)).status_code, (await ds.client.get(sql, cookies=cookies)).status_code

    assert run(go()) == (403, 403)
    assert review_metadata(db_path)["allow_sql"] is False


def test_errors_reports_and_reviews_are_not_exposed_to_anyone_not_signed_in(
    db_path, monkeypatch, reviewer_env
):
    async def go(ds, cookies=None):
        return {
            t: (await ds.client.get(f"/lootwatch/{t}.json", cookies=cookies)).status_code
            for t in PRIVATE_TABLES
        }

    async def both():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        return await go(ds), await go(ds, cookies)

    anonymous, signed_in = run(both())
    assert set(anonymous.values()) == {403} and set(signed_in.values()) == {200}
    # Read-only mode: nobody can sign in, so nobody reads them; the queue stays open.
    monkeypatch.delenv("LOOTWATCH_PASSWORD_HASH")

    async def read_only():
        ds = ui(db_path)
        return await go(ds), (await ds.client.get("/lootwatch/review_queue.json")).status_code

    private, queue = run(read_only())
    assert set(private.values()) == {403} and queue == 200
    assert "allow_download" in datasette_command(db_path, db_path.with_suffix(".json"))


def test_only_the_configured_host_names_are_answered(db_path, monkeypatch, reviewer_env):
    monkeypatch.setenv("LOOTWATCH_REVIEW_HOSTS", "review.example.org")

    async def go():
        ds = ui(db_path, hosts=["lw.internal"])
        return {
            host: await ds.client.get("/-/login", headers={"host": host})
            for host in (
                "localhost",
                "127.0.0.1:8001",
                "review.example.org",
                "LW.internal:80",
                "evil.example",
            )
        }

    answers = run(go())
    assert [answers[h].status_code for h in answers] == [200, 200, 200, 200, 400]
    bad = answers["evil.example"]
    assert bad.headers["content-type"].startswith("text/html") and "Unknown host name" in bad.text
    assert "--allow-host" in bad.text


def test_sign_in_failures_are_rate_limited_per_client_and_logged(db_path, reviewer_env, caplog):
    caplog.set_level(logging.INFO, logger="lootwatch.review")

    async def go():
        ds = ui(db_path)
        wrong = [(await sign_in(ds, password="hunter2-wrong"))[0].status_code for _ in range(5)]
        after = (await sign_in(ds))[0]  # the right password, but too soon
        return wrong, after

    wrong, after = run(go())
    assert wrong == [200] * 5
    assert after.status_code == 429 and int(after.headers["retry-after"]) > 0
    assert "Too many" in after.text and after.headers["content-type"].startswith("text/html")
    failures = [r.getMessage() for r in caplog.records if "sign-in failed" in r.getMessage()]
    assert len(failures) == 5
    assert "'analyst'" in failures[0] and "127.0.0.1" in failures[0]
    assert all("hunter2" not in r.getMessage() for r in caplog.records)


def test_cookies_are_httponly_with_a_lifetime_and_revoked_by_a_new_secret(db_path, reviewer_env, tmp_path):
    async def go():
        ds = ui(db_path, secret="first")
        r, cookies = await sign_in(ds)
        header = r.headers["set-cookie"]
        decoded = ds.unsign(cookies["ds_actor"], "actor")
        forever = ds.sign({"a": {"id": "analyst"}}, "actor")  # the old format: no expiry
        expired = ds.sign(
            {"a": {"id": "analyst"}, "e": baseconv.base62.encode(int(time.time()) - 1)}, "actor"
        )
        statuses = [
            (await ds.client.get("/lootwatch/review_queue.json", cookies={"ds_actor": c})).status_code
            for c in (cookies["ds_actor"], forever, expired)
        ]
        rotated = ui(db_path, secret="second")  # the same cookie after the secret changed
        after = await rotated.client.get(
            "/lootwatch/review_queue.json", cookies={"ds_actor": cookies["ds_actor"]}
        )
        return header, decoded, statuses, after.status_code

    header, decoded, statuses, after = run(go())
    assert "HttpOnly" in header and "Max-Age=43200" in header and "SameSite=Lax" in header
    expires = int(baseconv.base62.decode(decoded["e"]))
    assert 11.9 * 3600 < expires - time.time() <= 12 * 3600
    assert statuses == [200, 403, 403]
    assert after == 403
    # The secret the review command uses: kept beside the database, private, replaced on request.
    env: dict[str, str] = {}
    first = review_secret(db_path, environ=env)
    assert review_secret(db_path, environ=env) == first
    assert (db_path.with_suffix(".datasette-secret").stat().st_mode & 0o777) == 0o600
    assert review_secret(db_path, rotate=True, environ=env) != first
    assert review_secret(db_path, environ={"DATASETTE_SECRET": "x"}) == "x"
    with pytest.raises(ValueError):
        review_secret(db_path, rotate=True, environ={"DATASETTE_SECRET": "x"})


def asgi_call(ds, method, path, headers, body_chunks):
    """Call the ASGI app directly; returns (status, body, how many body messages it read)."""
    read = []
    chunks = list(body_chunks)

    async def receive():
        read.append(1)
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in {"host": "localhost", **headers}.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8001),
        "scheme": "http",
    }

    async def go():
        app = ds.app()  # as Datasette's own test client builds it
        await ds.invoke_startup()
        await app(scope, receive, send)

    run(go())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body.decode("utf-8", "replace"), len(read)


def test_request_bodies_are_capped_before_any_work(db_path, reviewer_env):
    ds = ui(db_path)
    # 400 MB announced: refused before a byte is read.
    status, body, read = asgi_call(
        ds,
        "POST",
        "/-/login",
        {"content-length": str(400 * 2**20), "content-type": "application/x-www-form-urlencoded"},
        [b"x" * 1000],
    )
    assert (status, read) == (413, 0) and "Too large" in body
    # A body longer than it said: read only up to the cap.
    status, body, read = asgi_call(
        ds,
        "POST",
        "/-/login",
        {"content-length": "10", "content-type": "application/x-www-form-urlencoded"},
        [b"x" * 60_000, b"x" * 60_000, b"x" * 60_000],
    )
    assert status == 413 and read == 2
    # Not signed in: an upload is refused before its body is read at all.
    status, _, read = asgi_call(
        ds,
        "POST",
        "/-/lootwatch/check",
        {"content-length": "5000", "content-type": "multipart/form-data; boundary=x"},
        [b"x" * 5000],
    )
    assert (status, read) == (403, 0)

    async def form():
        return await ds.client.post(
            "/-/login", data={"username": "analyst", "password": "p" * (FORM_CAP + 10)}
        )

    r = run(form())
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")


def test_every_bad_request_is_a_4xx_page_never_a_500(db_path, reviewer_env):
    db = db_path.stem

    async def go():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        c = ds.client
        return {
            "huge id": await c.get("/-/lootwatch/candidate/99999999999999999999999", cookies=cookies),
            "unknown id": await c.get("/-/lootwatch/candidate/424242", cookies=cookies),
            "bad method": await c.request("PUT", "/-/lootwatch/candidate/1", cookies=cookies),
            "multipart verdict": await c.post(
                "/-/lootwatch/candidate/1/verdict",
                files={"note": ("a.txt", b"x")},
                data={"verdict": "note"},
                cookies=cookies,
            ),
            "not utf-8": await c.post(
                "/-/lootwatch/candidate/1/verdict",
                content=b"verdict=note&note=\xff\xfe",
                headers={"content-type": "application/x-www-form-urlencoded"},
                cookies=cookies,
            ),
            "odd type": await c.post(
                "/-/lootwatch/candidate/1/verdict",
                content=b"{}",
                headers={"content-type": "application/json"},
                cookies=cookies,
            ),
            "oversized": await c.post(
                "/-/login",
                content=b"a=" + b"x" * FORM_CAP,
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            "bad host": await c.get("/", headers={"host": "attacker.example"}),
            # No such page (Datasette's 404 outside a view: with rich installed it used to raise, a 500).
            "no such page": await c.get("/-/lootwatch/original/" + "A" * 64, cookies=cookies),
            "no such original": await c.get("/-/lootwatch/original/" + "a" * 64, cookies=cookies),
            "bad upload": await c.post(
                "/-/lootwatch/check",
                content=b"xx",
                headers={"content-type": "multipart/form-data"},
                cookies=cookies,
            ),
            # Datasette's own table arguments it would fail on with a 500.
            "sort by no column": await c.get(f"/{db}/listings?_sort=nonexistent", cookies=cookies),
            "sort_desc by no column": await c.get(f"/{db}/review_queue?_sort_desc=nope", cookies=cookies),
            "time limit not a number": await c.get(f"/{db}/listings?_timelimit=abc", cookies=cookies),
            "through not JSON": await c.get(f"/{db}/listings?_through=zz", cookies=cookies),
            "through not a triple": await c.get(f"/{db}/listings?_through=%7B%7D", cookies=cookies),
        }

    answers = run(go())
    for what, r in answers.items():
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html"), what
        assert "<h1>" in r.text, what
    assert answers["huge id"].status_code in (400, 404) and answers["bad method"].status_code == 405


def test_read_only_mode_says_so_on_every_page(db_path, monkeypatch):
    monkeypatch.delenv("LOOTWATCH_PASSWORD_HASH", raising=False)
    monkeypatch.delenv("LOOTWATCH_REVIEWERS", raising=False)

    async def go():
        ds = ui(db_path)
        paths = [
            "/",
            "/lootwatch",
            "/lootwatch/review_queue",
            "/lootwatch/listings/1",
            "/-/lootwatch/candidate/1",
            "/-/login",
            "/lootwatch/nothing-here",
            "/-/lootwatch/check",
            "/lootwatch/reviews",
        ]
        return {p: await ds.client.get(p) for p in paths}

    pages = run(go())
    for path, r in pages.items():
        assert BANNER in r.text, (path, r.status_code)
    assert pages["/lootwatch/review_queue"].status_code == 200  # still open to read
    assert pages["/-/lootwatch/check"].status_code == 403 and pages["/lootwatch/reviews"].status_code == 403


# --- A real `datasette serve` on loopback, started as `lootwatch review` starts it. ---


def raw(server, method, path, headers=None, body=b"", send_body=True):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in {"Host": f"127.0.0.1:{server.port}", **(headers or {})}.items():
        conn.putheader(k, v)
    conn.endheaders()
    if send_body and body:
        conn.send(body)
    r = conn.getresponse()
    data = r.read().decode("utf-8", "replace")
    conn.close()
    return r, data


def test_on_a_real_server_host_body_rate_limit_and_cookie(db_path, reviewer_env):
    # The metadata names the reviewers whose hash is set here (reviewer_env), the server reads the hash.
    env = {"LOOTWATCH_PASSWORD_HASH": HASH, "DATASETTE_SECRET": "loopback-secret"}
    with Server(db_path, env=env) as server:
        r, text = raw(server, "GET", "/-/login", {"Host": "rebind.attacker.example"})
        assert r.status == 400 and "Unknown host name" in text
        r, _ = raw(server, "GET", "/lootwatch/reviews.json")
        assert r.status == 403
        # 400 MB announced, none sent: refused at once.
        began = time.monotonic()
        r, _ = raw(
            server,
            "POST",
            "/-/login",
            {"Content-Length": str(400 * 2**20), "Content-Type": "application/x-www-form-urlencoded"},
            send_body=False,
        )
        assert r.status == 413 and time.monotonic() - began < 5
        # Sign in: the form, its token, a wrong password five times, then 429.
        r, page = raw(server, "GET", "/-/login")
        csrf = re.search(r"ds_csrftoken=([^;]+)", r.getheader("Set-Cookie")).group(1)
        token = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)

        def login(password, forwarded=None):
            body = urllib.parse.urlencode(
                {"username": "analyst", "password": password, "csrftoken": token}
            ).encode()
            headers = {
                "Cookie": f"ds_csrftoken={csrf}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": str(len(body)),
            }
            if forwarded:  # a local process posing as many clients
                headers["X-Forwarded-For"] = forwarded
            return raw(server, "POST", "/-/login", headers, body)[0]

        good = login("secret")
        assert good.status == 302
        cookie = good.getheader("Set-Cookie")
        assert "HttpOnly" in cookie and "Max-Age=43200" in cookie
        actor = re.search(r"ds_actor=([^;]+)", cookie).group(1)
        r, _ = raw(server, "GET", "/lootwatch/reviews.json", {"Cookie": f"ds_actor={actor}"})
        assert r.status == 200
        assert [login("wrong", f"10.0.0.{i}").status for i in range(5)] == [200] * 5
        assert login("secret").status == 429
        assert login("secret", "10.9.9.9").status == 429  # X-Forwarded-For from loopback is not believed
    # The same cookie against the server restarted with a new secret: signed out.
    with Server(db_path, env={**env, "DATASETTE_SECRET": "rotated"}) as server:
        r, _ = raw(server, "GET", "/lootwatch/reviews.json", {"Cookie": f"ds_actor={actor}"})
        assert r.status == 403


def test_signing_out_ends_that_sign_in_even_for_a_copy_of_its_cookie(db_path, reviewer_env):
    async def go():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        copied = dict(cookies)
        before = await ds.client.get("/lootwatch/review_queue.json", cookies=copied)
        page = await ds.client.get("/", cookies=cookies)
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        out = await ds.client.post("/-/logout", data={"csrftoken": token}, cookies=cookies)
        after = await ds.client.get("/lootwatch/review_queue.json", cookies=copied)
        restarted = ui(db_path)  # the same secret, a new server process
        later = await restarted.client.get("/lootwatch/review_queue.json", cookies=copied)
        _, again = await sign_in(restarted)  # signing in again works, with a new token
        fresh = await restarted.client.get("/lootwatch/review_queue.json", cookies=again)
        return before.status_code, out.status_code, after.status_code, later.status_code, fresh.status_code

    before, out, after, later, fresh = run(go())
    assert (before, after, later, fresh) == (200, 403, 403, 200)
    assert out in (301, 302, 303)
    kept = db_path.with_suffix(".signed-out")
    assert kept.exists() and (kept.stat().st_mode & 0o777) == 0o600


def test_a_form_with_an_out_of_date_token_gets_a_page_saying_what_to_do(db_path, reviewer_env):
    async def go():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        return await ds.client.post(
            "/-/lootwatch/candidate/1/verdict",
            data={"verdict": "note", "note": "x", "csrftoken": "stale"},
            cookies=cookies,
        )

    r = run(go())
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "<h1>The form was out of date</h1>" in r.text and "reload the page" in r.text
    assert "did not match cookie" not in r.text


def test_datasettes_own_error_pages_carry_the_review_uis_header(db_path, reviewer_env):
    async def go():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        missing = await ds.client.get(f"/{db_path.stem}/no_such_table", cookies=cookies)
        return missing

    missing = run(go())
    assert missing.status_code == 404
    assert "<h1>Not found</h1>" in missing.text or "<h1>Table not found" in missing.text
    assert 'href="/">Worklist</a>' in missing.text and "Sign out" in missing.text


def test_a_password_hash_whose_dollar_signs_the_shell_ate_is_refused_in_one_line(db_path, monkeypatch):
    from click.testing import CliRunner

    from lootwatch.cli import main
    from reports.review import broken_hashes

    assert broken_hashes({"LOOTWATCH_PASSWORD_HASH": HASH}) == []
    # What `export LOOTWATCH_PASSWORD_HASH=pbkdf2_sha256$480000$salt$hash` leaves: $4, $s and $h expanded.
    eaten = HASH.split("$")[0] + "80000"
    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", eaten)
    out = CliRunner().invoke(main, ["review", str(db_path), "--print-command"])
    assert out.exit_code == 1
    assert "LOOTWATCH_PASSWORD_HASH (reviewer analyst) is not a whole password hash" in out.output
    assert "single quotes" in out.output and "Traceback" not in out.output
    made = CliRunner().invoke(main, ["review", "--hash-password"], input="pw\npw\n")
    assert made.exit_code == 0 and "export LOOTWATCH_PASSWORD_HASH='pbkdf2_sha256$" in made.output


def test_a_form_from_another_page_is_refused(db_path, reviewer_env, caplog):
    async def go():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        page = await ds.client.get("/-/lootwatch/candidate/1", cookies=cookies)
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        form = {"verdict": "dismissed", "csrftoken": token}
        url = "/-/lootwatch/candidate/1/verdict"
        answers = {
            "another port": await ds.client.post(
                url, data=form, cookies=cookies, headers={"origin": "http://localhost:46400"}
            ),
            "another host": await ds.client.post(
                url, data=form, cookies=cookies, headers={"origin": "http://evil.example"}
            ),
            "a sandboxed frame": await ds.client.post(
                url, data=form, cookies=cookies, headers={"origin": "null"}
            ),
            "referer elsewhere": await ds.client.post(
                url, data=form, cookies=cookies, headers={"referer": "http://localhost:46400/x.html"}
            ),
        }
        own = await ds.client.post(url, data=form, cookies=cookies, headers={"origin": "http://localhost"})
        return answers, own, page

    with caplog.at_level(logging.WARNING, logger="lootwatch.review"):
        answers, own, page = run(go())
    for what, r in answers.items():
        assert r.status_code == 403 and "Form sent from another page" in r.text, what
    assert own.status_code == 302  # the review UI's own page: recorded
    assert "form from http://evil.example refused" in caplog.text
    # Not to be framed by another site's page (clickjacking), refusals included.
    for r in (page, answers["another host"]):
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in r.headers["content-security-policy"]


def test_datasettes_debugging_forms_and_malformed_json_arguments_are_4xx(db_path, reviewer_env):
    db = db_path.stem

    async def go():
        ds = ui(db_path)
        _, cookies = await sign_in(ds)
        c = ds.client
        return {
            "messages": await c.get("/-/messages", cookies=cookies),
            "post messages": await c.post("/-/messages", data={"message_type": "1"}, cookies=cookies),
            "allow-debug": await c.get("/-/allow-debug", cookies=cookies),
            "in list": await c.get(f"/{db}/listings?id__in=%5B", cookies=cookies),
            "notin list": await c.get(f"/{db}/listings?title__notin=%5B1,%5D", cookies=cookies),
            "in list json": await c.get(f"/{db}/reviews.json?verdict__in=%5B", cookies=cookies),
            "next not a number": await c.get(f"/{db}/review_queue?_next=abc", cookies=cookies),
            "post to a table": await c.post(f"/{db}/reviews", data={"a": "1"}, cookies=cookies),
        }

    for what, r in run(go()).items():
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:200])


def test_a_reviewer_named_without_a_hash_stops_the_review_ui(db_path, monkeypatch):
    from click.testing import CliRunner

    from lootwatch.cli import main

    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", HASH)
    monkeypatch.setenv("LOOTWATCH_REVIEWERS", "bob")
    monkeypatch.delenv("LOOTWATCH_PASSWORD_HASH_BOB", raising=False)
    out = CliRunner().invoke(main, ["review", str(db_path), "--print-command"])
    assert out.exit_code == 1
    assert "LOOTWATCH_REVIEWERS names bob, but LOOTWATCH_PASSWORD_HASH_BOB is not set" in out.output


def test_an_unknown_user_name_costs_a_password_hash_too(db_path, reviewer_env, monkeypatch):
    import reports.security as security

    hashed = []
    real = security.verify_password
    monkeypatch.setattr(security, "verify_password", lambda p, h: hashed.append(h) or real(p, h))

    async def go():
        ds = ui(db_path)
        await sign_in(ds, user="nobody", password="x")
        await sign_in(ds, user="analyst", password="x")

    run(go())
    # The unknown name is hashed as a known one would be (timing does not tell names apart); the known
    # name is hashed by datasette-auth-passwords itself.
    assert hashed == [security._DUMMY_HASH]


def test_other_loopback_addresses_and_many_addresses_for_one_name_are_limited_too(db_path, reviewer_env):
    async def go():
        ds = ui(db_path)
        page = await ds.client.get("/-/login")
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        cookies = {"ds_csrftoken": page.cookies["ds_csrftoken"]}
        app = ds.app()

        async def attempt(client, user="analyst", password="wrong"):
            body = urllib.parse.urlencode({"username": user, "password": password, "csrftoken": token})
            sent = []
            scope = {
                "type": "http",
                "http_version": "1.1",
                "method": "POST",
                "path": "/-/login",
                "raw_path": b"/-/login",
                "query_string": b"",
                "scheme": "http",
                "client": (client, 5000),
                "server": ("127.0.0.1", 8001),
                "headers": [
                    (b"host", b"127.0.0.1"),
                    (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cookie", f"ds_csrftoken={cookies['ds_csrftoken']}".encode()),
                ],
            }
            chunks = [body.encode()]

            async def receive():
                return {"type": "http.request", "body": chunks.pop(0) if chunks else b"", "more_body": False}

            async def send(message):
                sent.append(message)

            await app(scope, receive, send)
            return sent[0]["status"]

        loopback = [await attempt(f"127.0.0.{i + 2}") for i in range(5)]
        after = await attempt("127.9.9.9", password="secret")  # another loopback address: the same client
        spread = [await attempt(f"10.0.{i}.1", user="alice") for i in range(20)]
        named = await attempt("10.1.0.1", user="alice")  # a new address, the same name
        other = await attempt("10.1.0.2", user="analyst", password="secret")
        return loopback, after, spread, named, other

    loopback, after, spread, named, other = run(go())
    assert loopback == [200] * 5 and after == 429
    assert spread == [200] * 20 and named == 429
    assert other == 302  # another name from a fresh address still signs in
