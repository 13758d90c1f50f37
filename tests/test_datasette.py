import asyncio
import re

from datasette.app import Datasette

from reports.review import review_metadata

from .review_db import XSS, hostile_db


def get(db_path, path):
    async def go():
        ds = Datasette([str(db_path)], metadata=review_metadata(db_path))
        await ds.invoke_startup()
        return await ds.client.get(path)

    return asyncio.run(go())


def test_review_queue_shows_both_photos_escaped(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    hostile_db(db_path)
    r = get(db_path, "/lootwatch/review_queue")
    assert r.status_code == 200
    html = r.text
    assert html.count('src="data:image/jpeg;base64,') >= 2  # listing photo and registry photo
    assert XSS not in html
    assert 'href="javascript:' not in html
    assert 'href="https://registry.example/A1"' in html


def test_metadata_follows_database_name(tmp_path):
    db_path = tmp_path / "cases-2026.db"
    hostile_db(db_path)
    r = get(db_path, "/cases-2026/review_queue")
    assert r.status_code == 200 and "Review queue" in r.text


def review_ui(db_path, read_only=False):
    return Datasette([str(db_path)], metadata=review_metadata(db_path, read_only=read_only))


async def signed_in(ds, password="secret"):
    """Sign in through datasette-auth-passwords' form, as a reviewer would; returns the cookies."""
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = {"ds_csrftoken": page.cookies["ds_csrftoken"]}
    r = await ds.client.post(
        "/-/login", data={"username": "analyst", "password": password, "csrftoken": token}, cookies=cookies
    )
    assert r.status_code == 302, r.text[:300]
    return {**cookies, "ds_actor": r.cookies["ds_actor"]}


def set_password(monkeypatch, password="secret"):
    """Let analyst sign in to the review server with ``password`` (LOOTWATCH_PASSWORD_HASH)."""
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password(password))


async def signed_in_ui(db_path):
    """The review server on ``db_path``, started, and the cookies of analyst signed in to it."""
    ds = review_ui(db_path)
    await ds.invoke_startup()
    return ds, await signed_in(ds)


async def post_form(ds, cid, fields, cookies, page_path=None):
    """Post the candidate's verdict form with ``fields`` (a dict; a list value is sent once per item), with
    the token of the page at ``page_path`` (the candidate's page by default)."""
    page = await ds.client.get(page_path or f"/-/lootwatch/candidate/{cid}", cookies=cookies)
    match = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    token = match.group(1) if match else "none"
    cookies = {**cookies, "ds_csrftoken": page.cookies.get("ds_csrftoken") or cookies.get("ds_csrftoken", "")}
    return await ds.client.post(
        f"/-/lootwatch/candidate/{cid}/verdict", data={**fields, "csrftoken": token}, cookies=cookies
    )


async def post_verdict(ds, cid, verdict, note, cookies):
    return await post_form(ds, cid, {"verdict": verdict, "note": note}, cookies)


def test_verdict_recorded_by_a_signed_in_reviewer_and_shown(tmp_path, monkeypatch):
    db_path, db, cid = reviewer_ui(tmp_path, monkeypatch)

    async def go():
        ds, cookies = await signed_in_ui(db_path)
        r = await post_verdict(ds, cid, "escalated", "same inventory number as IM 1234 <b>", cookies)
        assert r.status_code == 302
        page = await ds.client.get(f"/-/lootwatch/candidate/{cid}", cookies=cookies)
        queue = await ds.client.get("/lootwatch/review_queue.json?_shape=array", cookies=cookies)
        return page.text, queue.json()

    page, queue = asyncio.run(go())
    (row,) = list(db.query("SELECT * FROM reviews"))
    assert (row["verdict"], row["reviewer"], row["candidate_id"]) == ("escalated", "analyst", cid)
    assert "same inventory number as IM 1234 &lt;b&gt;" in page and "(escalated)" in page
    assert queue[0]["status"] == "escalated"


def test_verdict_refused_without_login_or_in_read_only_mode(tmp_path, monkeypatch):
    db_path, db, cid = reviewer_ui(tmp_path, monkeypatch)

    async def go():
        anonymous = await post_verdict(review_ui(db_path), cid, "dismissed", "", {})
        shared = review_ui(db_path, read_only=True)
        cookies = {"ds_actor": shared.sign({"a": {"id": "analyst"}}, "actor")}
        read_only = await post_verdict(shared, cid, "dismissed", "", cookies)
        page = await shared.client.get(f"/-/lootwatch/candidate/{cid}", cookies=cookies)
        return anonymous.status_code, read_only.status_code, page.text

    anonymous, read_only, page = asyncio.run(go())
    assert anonymous == 403 and read_only == 403
    assert "read-only" in page and "<form" not in page.split("Verdicts")[1]
    assert db.table("reviews").count == 0


def test_candidate_page_escapes_the_sellers_words_and_shows_both_photos(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    _, cid = hostile_db(db_path)
    r = get(db_path, f"/-/lootwatch/candidate/{cid}")
    assert r.status_code == 200
    assert XSS not in r.text and "&lt;script&gt;" in r.text
    assert 'id="listing-photo" src="data:image/jpeg;base64,' in r.text
    assert 'id="registry-photo" src="data:image/jpeg;base64,' in r.text
    assert 'href="javascript:' not in r.text
    assert "Sign in" in r.text or "read-only" in r.text


def test_queue_order_tier_then_soonest_sale(tmp_path):
    from matcher.db import store

    db_path = tmp_path / "lootwatch.db"
    db, _ = hostile_db(db_path)
    for lot, tier, sale in (
        ("2", "review", "2026-12-01"),
        ("3", "strong", "2026-12-20"),
        ("4", "strong", "2026-12-02"),
    ):
        lid, _ = store.upsert_listing(
            db, {"site": "demo_bazaar", "lot_id": lot, "title": f"Lot {lot}", "sale_date": sale}
        )
        db.table("candidates").insert({"listing_id": lid, "kind": "flags", "tier": tier, "score": 60.0})
    rows = get(db_path, "/lootwatch/review_queue.json?_shape=array").json()
    order = [(r["tier"], r["sale_date"]) for r in rows]
    assert order == sorted(order, key=lambda x: (x[0] != "strong", x[1]))
    assert get(db_path, f"/lootwatch/review_queue?candidate_id={rows[0]['candidate_id']}").status_code == 200


def test_listing_search(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    hostile_db(db_path)
    r = get(db_path, "/lootwatch/listings.json?_search=tablet&_shape=array")
    assert r.status_code == 200 and len(r.json()) == 1


def test_who_decided_and_their_notes_only_for_signed_in_reviewers(tmp_path):
    """In read-only mode anyone may read a candidate, but not who decided it or what they noted."""
    from matcher.db import store

    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    store.add_review(db, cid, "dismissed", "analyst-jane", "checked the 1962 catalogue: a different bowl")
    page = get(db_path, f"/-/lootwatch/candidate/{cid}").text
    assert "dismissed" in page and "1962 catalogue" not in page and "analyst-jane" not in page
    # Nobody can sign in (read-only): no word about signing in, no link to a table that answers 403.
    assert "signed-in reviewers" not in page and "Sign in" not in page
    assert "verdict history as a table" not in page and "/reviews?candidate_id=" not in page
    assert get(db_path, "/lootwatch/reviews").status_code == 403


def test_the_review_server_is_told_where_the_originals_are(tmp_path):
    meta = review_metadata(tmp_path / "l.db", originals=tmp_path / "elsewhere" / "originals")
    assert meta["plugins"]["lootwatch"]["originals"] == str((tmp_path / "elsewhere" / "originals").resolve())
    assert "originals" not in review_metadata(tmp_path / "l.db")["plugins"]["lootwatch"]


def test_a_verdict_address_opened_in_the_browser_leads_back_to_the_candidate(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    _, cid = hostile_db(db_path)

    async def go():
        return await review_ui(db_path).client.get(f"/-/lootwatch/candidate/{cid}/verdict")

    r = asyncio.run(go())
    assert r.status_code == 302 and r.headers["location"].endswith(f"/-/lootwatch/candidate/{cid}")


# ------------------------------------------------------------------------------------------ note checks


def test_a_note_is_kept_without_control_characters_and_invisible_characters_are_no_note():
    from reports.candidate_page import clean_note

    assert clean_note("\u00a0\u200b\u2060\ufeff \u200e\n\t") == ""  # NBSP, zero-width, BOM, LRM
    assert clean_note("\x00\x07") == ""
    kept = clean_note(" same chip\x00 on the foot\x07\r\nline two\tend\u200b ")
    assert kept == "same chip on the foot\nline two\tend"
    assert clean_note("x" * 30_000) == "x" * 30_000  # the length is judged by the caller, never cut


def reviewer_ui(tmp_path, monkeypatch):
    """The hostile review database in ``tmp_path``, analyst's password set: ``db_path, db, cid``."""
    set_password(monkeypatch)
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    return db_path, db, cid


def verdicts(db):
    return [(r["verdict"], r["note"], r["reviewer"]) for r in db.query("SELECT * FROM reviews ORDER BY id")]


def test_invisible_notes_two_verdicts_and_control_characters(tmp_path, monkeypatch):
    db_path, db, cid = reviewer_ui(tmp_path, monkeypatch)

    async def go():
        ds, cookies = await signed_in_ui(db_path)
        out = {
            "invisible": await post_verdict(ds, cid, "confirmed", "\u00a0\u200b\u2060 \ufeff", cookies),
            "two": await post_form(
                ds, cid, {"verdict": ["dismissed", "confirmed"], "note": "checked it"}, cookies
            ),
            "controls": await post_verdict(ds, cid, "note", "rim\x00 chipped\x1b\r\nsee photo 2", cookies),
            "too long": await post_verdict(ds, cid, "note", "x" * 20_001, cookies),
        }
        return out

    r = asyncio.run(go())
    assert r["invisible"].status_code == 400 and "Say why before you confirm" in r["invisible"].text
    assert r["two"].status_code == 400 and r["two"].headers["content-type"].startswith("text/html")
    assert "One verdict at a time" in r["two"].text and "Nothing was recorded" in r["two"].text
    assert r["controls"].status_code == 302
    assert r["too long"].status_code == 400 and "The note is too long" in r["too long"].text
    assert "20,001 characters" in r["too long"].text and "Nothing was" in r["too long"].text
    # The long note was neither cut nor kept.
    assert verdicts(db) == [("note", "rim chipped\nsee photo 2", "analyst")]


def test_the_same_form_posted_again_is_recorded_once(tmp_path, monkeypatch):
    db_path, db, cid = reviewer_ui(tmp_path, monkeypatch)

    async def go():
        ds, cookies = await signed_in_ui(db_path)
        first = await post_verdict(ds, cid, "confirmed", "same chip on the foot", cookies)
        again = await post_verdict(ds, cid, "confirmed", "same chip on the foot ", cookies)
        page = await ds.client.get(again.headers["location"], cookies=cookies)
        other = await post_verdict(ds, cid, "confirmed", "and the same inventory number", cookies)
        return first, again, page.text, other

    first, again, page, other = asyncio.run(go())
    assert first.status_code == again.status_code == other.status_code == 302
    assert again.headers["location"] == f"/-/lootwatch/candidate/{cid}?done=confirmed"
    assert re.search(r'id="lw-done">Recorded: <strong>confirmed</strong>', page)
    assert verdicts(db) == [
        ("confirmed", "same chip on the foot", "analyst"),
        ("confirmed", "and the same inventory number", "analyst"),
    ]


def test_recorded_is_said_only_of_the_reviewers_own_latest_verdict(tmp_path, monkeypatch):
    from matcher.db import store

    db_path, db, cid = reviewer_ui(tmp_path, monkeypatch)
    page = f"/-/lootwatch/candidate/{cid}"

    async def go():
        ds, cookies = await signed_in_ui(db_path)
        out = {"typed": await ds.client.get(f"{page}?done=confirmed", cookies=cookies)}
        await post_verdict(ds, cid, "dismissed", "", cookies)
        out["other verdict"] = await ds.client.get(f"{page}?done=confirmed", cookies=cookies)
        out["own"] = await ds.client.get(f"{page}?done=dismissed", cookies=cookies)
        store.add_review(db, cid, "confirmed", "bob", "the same tablet")  # bob's, not analyst's
        out["bob's"] = await ds.client.get(f"{page}?done=confirmed", cookies=cookies)
        return out

    r = asyncio.run(go())
    for name in ("typed", "other verdict", "bob's"):
        assert 'id="lw-done"' not in r[name].text, name
    assert re.search(r'id="lw-done">Recorded: <strong>dismissed</strong>', r["own"].text)
    # Read-only: nobody signed in, so nothing was recorded by them.
    shared = asyncio.run(review_ui(db_path, read_only=True).client.get(f"{page}?done=confirmed"))
    assert shared.status_code == 200 and 'id="lw-done"' not in shared.text
