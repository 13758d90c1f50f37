"""The analyst's worklist (the home page) and the candidate page to decide on."""

import asyncio
import json
import re
import time

import numpy as np
import pytest
from datasette.app import Datasette
from PIL import Image

from matcher import store
from matcher.features import orb
from reports.review import review_metadata
from reports.worklist import PER_PAGE, match_geometry, why_line

from .review_db import XSS, hostile_db
from .test_datasette import post_verdict, signed_in

RECORD = {"kind": "image", "source": "interpol", "source_id": "12345"}
SAME = {"pdq": 6, "phash": 2, "dhash": 4, "inliers": 80, "view": "full", "variant": "full/r0"}
FLAGS = [
    {"rule": "origin_syria", "family": "origin", "text": "Syria", "weight": 30, "why": "Red List country"},
    {"rule": "no_papers", "family": "provenance", "text": "no papers", "weight": 25, "why": "no documents"},
    {"rule": "acquired", "family": "date", "text": "acquired 2013", "weight": 20, "why": "after 1970"},
    {"rule": "licence", "family": "provenance", "text": "export licence", "weight": -30, "why": "licensed"},
]


# ------------------------------------------------------------------------------------------ why_line


def test_why_same_photo_mirrored_and_cropped_with_red_flags_and_what_lowers_the_risk():
    line = why_line(RECORD, {**SAME, "variant": "full/m0"}, FLAGS, {"crop_percent": 15, "turn": "m0"})
    assert line == (
        "Same photo as interpol 12345, mirrored and cropped about 15 %; "
        "red flags: “Syria”, “no papers”, “acquired 2013”; lowers the risk: “export licence”"
    )


@pytest.mark.parametrize(
    ("evidence", "words"),
    [
        (SAME, "Same photo as interpol 12345"),
        ({**SAME, "variant": "full/r90"}, "Same photo as interpol 12345, turned 90° to the left"),
        ({**SAME, "variant": "full/r180"}, "Same photo as interpol 12345, turned upside down"),
        ({**SAME, "view": "trim"}, "Same photo as interpol 12345, its border trimmed"),
        (
            {**SAME, "view": "part2"},
            "Same photo as interpol 12345, as one picture inside the lot photo (a collage or a screenshot)",
        ),
        (
            {**SAME, "shared": [7, 9]},
            "Same photo as interpol 12345 (the same photo is held by 2 other records)",
        ),
    ],
)
def test_why_same_photo_shapes(evidence, words):
    assert why_line(RECORD, evidence, []) == words


def test_why_matching_points_without_a_hash_match():
    evidence = {"pdq": 118, "phash": 30, "dhash": 28, "inliers": 42, "view": "full", "variant": "full/r0"}
    line = why_line(RECORD, evidence, [])
    assert line.startswith("42 matching points in the same arrangement as on interpol 12345's photo")
    assert "a different photo of the same object" in line and "Same photo" not in line
    # The points say how the lot photo lies when the hashes do not.
    assert "turned 90° to the right" in why_line(RECORD, evidence, [], {"turn": "r270", "crop_percent": 0})


def test_why_from_the_candidate_columns_when_the_evidence_json_is_missing():
    candidate = {
        **RECORD,
        "pdq_distance": 4,
        "phash_distance": 0,
        "dhash_distance": 0,
        "variant": "full:full/m90",
    }
    assert why_line(candidate, {}, []) == "Same photo as interpol 12345, mirrored and turned 90°"


def test_why_text_and_flag_candidates():
    text = {
        "inventory_number": "IM 12345",
        "sizes_agree": 2,
        "sizes_given": 3,
        "shared_words": ["bowl", "bronze"],
    }
    line = why_line({"kind": "text", "registry_record": "icom:77", "text_json": json.dumps(text)}, {}, [])
    assert line == (
        "The text matches icom 77: the lot gives icom 77's inventory number IM 12345, 2 of 3 sizes agree, "
        "words in common: bowl, bronze"
    )
    assert why_line({**RECORD, **SAME, "text_json": json.dumps(text)}, SAME, []).endswith(
        "; the text matches too: the lot gives interpol 12345's inventory number IM 12345, 2 of 3 sizes agree"
    )
    assert why_line({"kind": "flags"}, {}, FLAGS[:2]) == "Red flags: “Syria”, “no papers”"
    only_lowering = why_line({"kind": "flags"}, {}, FLAGS[3:])
    assert only_lowering == "Red flags in the text; lowers the risk: “export licence”"


# ------------------------------------------------------------------------------------------ geometry


def _picture(seed=3, size=(360, 300)) -> Image.Image:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, (size[1] // 12, size[0] // 12, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST)


def test_geometry_finds_a_mirrored_crop_and_the_region_on_both_photos():
    registry = _picture()
    lot = registry.crop((0, 0, 324, 270)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)  # 81 % of it, mirrored
    lf = orb(lot).to_blobs()
    rf = orb(registry).to_blobs() + orb(registry.transpose(Image.Transpose.FLIP_LEFT_RIGHT)).to_blobs()
    g = match_geometry(lf, rf, lot.size, registry.size)
    assert g["mirrored"] and g["turn"] == "m0"
    assert 14 <= g["crop_percent"] <= 24  # 19 % of the registry photo is cut off
    x0, y0, x1, y1 = g["registry_region"]
    assert x1 <= 330 and y1 <= 275 and x1 - x0 > 200  # on the registry photo as stored, not its mirror
    assert len(g["listing_points"]) == len(g["registry_points"]) > 20
    turned = registry.rotate(90, expand=True)  # turned to the left
    g = match_geometry(orb(turned).to_blobs(), rf, turned.size, registry.size)
    assert g["turn"] == "r90" and not g["mirrored"] and g["crop_percent"] <= 3
    assert match_geometry(None, rf, lot.size, registry.size) is None


# ------------------------------------------------------------------------------------------ the pages


def ui(db_path, read_only=False):
    return Datasette([str(db_path)], metadata=review_metadata(db_path, read_only=read_only))


def get(db_path, path, read_only=False):
    async def go():
        ds = ui(db_path, read_only)
        await ds.invoke_startup()
        return await ds.client.get(path)

    return asyncio.run(go())


def rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-candidate="(\d+)"', html)]


def add_candidates(db, specs):
    """One lot and one flags candidate per (lot, tier, sale date, site, score); returns their ids."""
    ids = []
    for lot, tier, sale, site, score in specs:
        lid, _ = store.upsert_listing(
            db, {"site": site, "lot_id": lot, "title": f"Lot {lot}", "sale_date": sale}
        )
        reasons = json.dumps(
            [{"rule": "r", "family": f"fam{lot}", "text": "Syria", "weight": 30, "why": "w"}]
        )
        row = {"listing_id": lid, "kind": "flags", "tier": tier, "score": score, "reasons_json": reasons}
        ids.append(db.table("candidates").insert(row).last_pk)
    return ids


def review(db, cid, verdict, reviewer="analyst"):
    db.table("reviews").insert(
        {
            "candidate_id": cid,
            "verdict": verdict,
            "reviewer": reviewer,
            "created_at": store.now(),
            "note": "n",
        }
    )


@pytest.fixture
def worklist_db(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db, first = hostile_db(db_path)
    ids = add_candidates(
        db,
        [
            ("2", "review", "2026-11-01", "demo_bazaar", 50.0),
            ("3", "strong", "2026-11-01", "demo_bazaar", 40.0),
            ("4", "review", None, "demo_meridian", 70.0),
            ("5", "review", "2026-10-01", "demo_meridian", 30.0),
            ("6", "review", "2026-10-02", "demo_meridian", 30.0),
            ("7", "review", "2026-10-03", "demo_meridian", 30.0),
        ],
    )
    confirmed, escalated, noted = ids[3:]
    review(db, confirmed, "confirmed")
    review(db, escalated, "escalated", reviewer="bob")
    review(db, noted, "note")  # a note decides nothing
    return db_path, db, [first, *ids]


def test_home_page_is_the_worklist_of_undecided_candidates_soonest_sale_first(worklist_db):
    db_path, db, (first, lot2, lot3, lot4, confirmed, escalated, noted) = worklist_db
    r = get(db_path, "/")
    assert r.status_code == 200 and 'id="worklist"' in r.text
    # Soonest sale first; on one day strong before review; no date last.
    assert rows(r.text) == [noted, lot3, lot2, first, lot4]
    assert rows(get(db_path, "/-/lootwatch/worklist").text) == [noted, lot3, lot2, first, lot4]
    assert "review_queue.json" in r.text  # JSON stays a link away
    assert get(db_path, "/lootwatch/review_queue").status_code == 200  # Datasette's tables stay


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=decided", ["confirmed"]),
        ("status=escalated", ["escalated"]),
        ("status=all", ["confirmed", "escalated", "noted", "lot3", "lot2", "first", "lot4"]),
        ("site=demo_bazaar", ["lot3", "lot2"]),
        ("status=all&site=demo_meridian", ["confirmed", "escalated", "noted", "lot4"]),
        ("bank=demo", ["first"]),
        ("family=fam4", ["lot4"]),
        ("kind=image", ["first"]),
        ("kind=flags&family=fam3", ["lot3"]),
    ],
)
def test_worklist_filters(worklist_db, query, expected):
    db_path, _, ids = worklist_db
    names = dict(zip(["first", "lot2", "lot3", "lot4", "confirmed", "escalated", "noted"], ids, strict=True))
    html = get(db_path, f"/-/lootwatch/worklist?{query}").text
    assert rows(html) == [names[n] for n in expected]


def test_worklist_mine_shows_the_signed_in_reviewers_verdicts(worklist_db, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password("secret"))
    db_path, _, ids = worklist_db

    async def go():
        ds = ui(db_path)
        await ds.invoke_startup()
        cookies = await signed_in(ds)
        mine = await ds.client.get("/-/lootwatch/worklist?status=all&mine=1", cookies=cookies)
        default = await ds.client.get("/-/lootwatch/worklist", cookies=cookies)
        return mine.text, default.text

    mine, default = asyncio.run(go())
    assert rows(mine) == [ids[4], ids[6]]  # analyst confirmed one and noted one; bob escalated
    assert "only those I gave a verdict" in default


def test_worklist_pages_of_50_at_1000_candidates(tmp_path):
    db_path = tmp_path / "lootwatch.db"
    db = store.open_db(db_path)
    db.table("listings").insert_all(
        {
            "id": i,
            "site": "demo_bazaar",
            "lot_id": str(i),
            "title": f"Lot {i}",
            "sale_date": f"2026-{1 + i % 12:02d}-01",
        }
        for i in range(1, 1001)
    )
    db.table("candidates").insert_all(
        {"listing_id": i, "kind": "flags", "tier": "review", "score": float(i % 90)} for i in range(1, 1001)
    )
    start = time.monotonic()
    first = get(db_path, "/")
    assert time.monotonic() - start < 10
    assert len(rows(first.text)) == PER_PAGE <= 60 and "1–50 of 1000" in first.text
    assert "page 1 of 20" in first.text and 'href="/-/lootwatch/worklist?page=2"' in first.text
    page2 = get(db_path, "/-/lootwatch/worklist?page=2")
    last = get(db_path, "/-/lootwatch/worklist?page=20")
    assert len(rows(page2.text)) == len(rows(last.text)) == PER_PAGE
    seen = rows(first.text) + rows(page2.text) + rows(last.text)
    assert len(set(seen)) == 3 * PER_PAGE
    assert rows(get(db_path, "/-/lootwatch/worklist?page=999").text) == rows(last.text)
    assert rows(get(db_path, "/-/lootwatch/worklist?page=x").text) == rows(first.text)
    dates = [
        r["sale_date"]
        for r in db.query(
            f"SELECT sale_date FROM listings WHERE id IN ({','.join(map(str, rows(first.text)))})"
        )
    ]
    assert set(dates) == {"2026-01-01"}


def test_worklist_escapes_every_value(worklist_db):
    db_path, db, _ = worklist_db
    db.execute("UPDATE listings SET house = ?", [XSS])
    db.execute(
        "UPDATE candidates SET reasons_json = ?", [json.dumps([{"text": XSS, "weight": 5, "family": XSS}])]
    )
    for path in ("/", "/-/lootwatch/worklist?status=all&family=" + "%3Cscript%3E"):
        html = get(db_path, path).text
        assert XSS not in html and "<script>alert" not in html
        assert "&lt;script&gt;" in html
        assert 'href="javascript:' not in html


# ------------------------------------------------------------------------------------------ candidate page


def with_region(db, cid):
    """Give the hostile candidate's lot photo a size and its evidence a matched region."""
    db.execute("UPDATE listing_images SET width = 300, height = 200")
    db.execute("UPDATE registry_images SET width = 300, height = 200")
    evidence = {**SAME, "region": [30.0, 20.0, 210.0, 150.0], "variant": "full/m0"}
    db.table("candidates").update(
        cid, {"evidence_json": json.dumps(evidence), "reasons_json": json.dumps(FLAGS)}
    )


def test_candidate_page_why_line_region_and_confirmation(tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password("secret"))
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    with_region(db, cid)

    async def go():
        ds = ui(db_path)
        await ds.invoke_startup()
        cookies = await signed_in(ds)
        return (await ds.client.get(f"/-/lootwatch/candidate/{cid}", cookies=cookies)).text

    html = asyncio.run(go())
    why = re.search(r'<p class="lw-why" id="why">(.*?)</p>', html).group(1)
    assert why.startswith("Same photo as demo A1, mirrored; red flags: “Syria”, “no papers”, “acquired 2013”")
    assert "lowers the risk: “export licence”" in why
    assert html.index('id="why"') < html.index('id="listing-photo"') < html.index('name="verdict"')
    assert 'viewBox="0 0 300 200"' in html
    assert re.search(r'id="listing-region" x="30.0" y="20.0" width="180.0" height="130.0"', html)
    assert 'href="#lw-big-listing"' in html and 'id="lw-big-listing"' in html  # click to enlarge
    assert "onsubmit=" in html and "confirm(b.dataset.confirm)" in html
    for verdict in ("confirmed", "escalated"):
        assert re.search(rf'value="{verdict}" data-confirm="[^"]+"', html)
    assert not re.search(r'value="dismissed" data-confirm', html)
    assert "Say why: what you checked, what you found" in html
    assert html.index("Lowers the risk") > html.index("Red flags in the seller")


def test_verdict_then_next_undecided_and_html_400_for_a_missing_note(worklist_db, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password("secret"))
    db_path, db, (first, lot2, lot3, lot4, confirmed, escalated, noted) = worklist_db

    async def go():
        ds = ui(db_path)
        await ds.invoke_startup()
        cookies = await signed_in(ds)
        empty = await post_verdict(ds, lot3, "confirmed", "  ", cookies)
        done = await post_verdict(ds, lot3, "confirmed", "same chip on the foot", cookies)
        page = await ds.client.get(done.headers["location"], cookies=cookies)
        dismissed = await post_verdict(ds, lot4, "dismissed", "", cookies)  # dismissing needs no note
        return empty, done, page.text, dismissed

    empty, done, page, dismissed = asyncio.run(go())
    assert empty.status_code == 400 and empty.headers["content-type"].startswith("text/html")
    assert "Say why before you confirm" in empty.text and "Nothing was recorded" in empty.text
    assert (
        done.status_code == 302
        and done.headers["location"] == f"/-/lootwatch/candidate/{lot3}?done=confirmed"
    )
    # lot3 was second in the worklist (noted, lot3, lot2, first, lot4): next is lot2.
    assert re.search(rf'id="next-undecided" href="/-/lootwatch/candidate/{lot2}"', page)
    assert dismissed.status_code == 302
    assert [
        r["verdict"] for r in db.query("SELECT verdict FROM reviews WHERE note != 'n' OR note IS NULL")
    ] == [
        "confirmed",
        "dismissed",
    ]


def test_signing_in_returns_to_the_page_it_was_asked_from(tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password("secret"))
    db_path = tmp_path / "lootwatch.db"
    _, cid = hostile_db(db_path)

    async def go():
        ds = ui(db_path)
        await ds.invoke_startup()
        page = await ds.client.get(f"/-/login?next=/-/lootwatch/candidate/{cid}")
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        cookies = dict(page.cookies)
        r = await ds.client.post(
            "/-/login",
            data={"username": "analyst", "password": "secret", "csrftoken": token},
            cookies=cookies,
        )
        cookies["ds_actor"] = r.cookies["ds_actor"]
        home = await ds.client.get(r.headers["location"], cookies=cookies)
        elsewhere = await ds.client.get("/-/login?next=//evil.example/")
        return page, home, elsewhere

    page, home, elsewhere = asyncio.run(go())
    assert "lootwatch review --hash-password" in page.text and "LOOTWATCH_PASSWORD_HASH" in page.text
    assert "analyst" in page.text
    assert home.status_code == 302 and home.headers["location"] == f"/-/lootwatch/candidate/{cid}"
    assert "lootwatch_next" not in elsewhere.cookies  # only paths on this server
