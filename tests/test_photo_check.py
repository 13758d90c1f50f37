"""The photo check in the browser (issue 20, item 3): upload photos, see the ranked registry records."""

from __future__ import annotations

import asyncio
import io
import re
import shutil

import pytest
from datasette.app import Datasette
from datasette_auth_passwords.utils import hash_password
from PIL import Image

from matcher.db.connect import open_db
from reports import photo_check
from reports.review import review_metadata

TABLES = (
    "listings",
    "candidates",
    "reviews",
    "registry_objects",
    "registry_images",
    "image_hashes",
    "errors",
)


@pytest.fixture
def demo(small_demo, tmp_path, monkeypatch):
    """A copy of the small demo's database (it has a registry), and one registry photo with its record."""
    monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password("secret"))
    path = tmp_path / "lootwatch.db"
    db = open_db(small_demo["db"])
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(small_demo["db"], path)
    row = next(
        db.query(
            "SELECT ri.sha256, o.source, o.source_id FROM registry_images ri "
            "JOIN registry_objects o ON o.id = ri.object_id WHERE ri.matchable = 1 ORDER BY ri.id LIMIT 1"
        )
    )
    sha = row["sha256"]
    photo = (small_demo["out"] / "data" / "originals" / sha[:2] / sha).read_bytes()
    return path, photo, f"{row['source']} {row['source_id']}"  # named as everywhere in the review UI


def ui(path, **kwargs):
    return Datasette([str(path)], metadata=review_metadata(path, **kwargs))


async def signed_in(ds):
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = {"ds_csrftoken": page.cookies["ds_csrftoken"]}
    r = await ds.client.post(
        "/-/login", data={"username": "analyst", "password": "secret", "csrftoken": token}, cookies=cookies
    )
    return {**cookies, "ds_actor": r.cookies["ds_actor"]}


async def upload(ds, files, cookies, token=None):
    page = await ds.client.get("/-/lootwatch/check", cookies=cookies)
    assert page.status_code == 200
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = {**cookies, "ds_csrftoken": page.cookies.get("ds_csrftoken") or cookies["ds_csrftoken"]}
    return await ds.client.post(
        "/-/lootwatch/check",
        data={"csrftoken": token or found},
        files=[("photos", f) for f in files],
        cookies=cookies,
    )


def counts(path):
    db = open_db(path)
    return {t: db.table(t).count for t in TABLES}


def errors(html):
    return [
        re.sub(r"<[^>]+>", "", line) for line in re.findall(r'<p class="bad photo-error">(.*?)</p>', html)
    ]


def test_a_registry_photo_finds_its_record_first_and_nothing_is_stored(demo):
    path, photo, record = demo
    before = counts(path)

    async def go():
        ds = ui(path)
        return await upload(ds, [("seized.jpg", photo, "image/jpeg")], await signed_in(ds))

    r = asyncio.run(go())
    assert r.status_code == 200
    first = re.search(r'<strong class="record">([^<]+)</strong>', r.text).group(1)
    assert first == record
    # The evidence in the candidate page's plain words, the numbers beneath and small.
    why = re.search(r'<p class="lw-rowwhy check-why">([^<]+)</p>', r.text).group(1)
    assert why == f"Same photo as {record}."
    numbers = re.search(r'<span class="lw-small lw-evidence-numbers">([^<]+)</span>', r.text, re.S).group(1)
    assert "PDQ distance 0 of 256 bits" in numbers and re.search(r"\d+ matching points;", numbers)
    # The hash variant in words, as on the candidate page, not the matcher's names for it.
    assert "closest with the whole uploaded photo" in numbers
    assert "full:full" not in r.text and "local features" not in r.text and "compared as" not in r.text
    assert f"{record.replace(' ', ':', 1)}<" not in r.text
    assert r.text.index(why) < r.text.index(numbers)
    # The worklist's look (the shared base) and the header's links.
    assert '<div class="lw">' in r.text and ".lw .lw-why {" in r.text
    assert re.search(r"<header><nav>.*>Worklist</a>.*>Check a photo</a>.*>Sign out</button>", r.text, re.S)
    assert 'alt="The uploaded photo seized.jpg"' in r.text and errors(r.text) == []
    assert counts(path) == before


def bomb() -> bytes:
    """A PNG of 12,000 x 12,000 pixels (144 million) in a few kilobytes."""
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_each_bad_file_is_one_clear_line(demo):
    path, photo, record = demo
    files = [
        ("notes.txt", b"this is not a photo", "text/plain"),
        ("huge.jpg", b"\xff\xd8" + b"\0" * (photo_check.MAX_FILE + 1), "image/jpeg"),
        ("bomb.png", bomb(), "image/png"),
        ("good.jpg", photo, "image/jpeg"),
        ("five.jpg", photo, "image/jpeg"),
        ("six.jpg", photo, "image/jpeg"),
    ]

    async def go():
        ds = ui(path)
        return await upload(ds, files, await signed_in(ds))

    r = asyncio.run(go())
    assert r.status_code == 200
    lines = errors(r.text)
    assert len(lines) == 4, lines
    assert lines[0].startswith("notes.txt: not an image")
    assert lines[1].startswith("huge.jpg: larger than 20 MB")
    assert lines[2].startswith("bomb.png: ") and ("too many pixels" in lines[2] or "bomb" in lines[2])
    assert lines[3] == "six.jpg: not checked: at most 5 photos at a time"
    assert r.text.count(f'<strong class="record">{record}</strong>') == 2  # good.jpg and five.jpg


def test_not_signed_in_is_sent_to_sign_in_and_cannot_post(demo, monkeypatch):
    path, photo, _ = demo

    async def go():
        ds = ui(path)
        page = await ds.client.get("/-/lootwatch/check")
        post = await ds.client.post("/-/lootwatch/check", files=[("photos", ("a.jpg", photo, "image/jpeg"))])
        cookies = await signed_in(ds)
        stale = await upload(ds, [("a.jpg", photo, "image/jpeg")], cookies, token="forged")
        return page, post, stale

    page, post, stale = asyncio.run(go())
    assert page.status_code == 302 and page.headers["location"].startswith("/-/login")
    assert post.status_code == 403 and stale.status_code == 403
    # Read-only mode: nobody signs in, so nobody uploads.
    monkeypatch.delenv("LOOTWATCH_PASSWORD_HASH")

    async def read_only():
        ds = ui(path)
        return await ds.client.get("/-/lootwatch/check")

    r = asyncio.run(read_only())
    assert r.status_code == 403 and "read-only" in r.text


def test_the_registry_index_is_built_once_and_again_when_the_registry_changes(demo):
    path, _, _ = demo
    db = open_db(path)
    photo_check._index.clear()
    first, _ = photo_check._index_for(db.conn, "k")
    again, _ = photo_check._index_for(db.conn, "k")
    assert again is first
    db.execute(
        "UPDATE registry_objects SET status = 'withdrawn' WHERE id = (SELECT min(id) FROM registry_objects)"
    )
    db.conn.commit()
    assert photo_check._index_for(db.conn, "k")[0] is not first


def test_records_alike_only_by_the_embedding_are_listed_apart_in_plain_words(demo, monkeypatch):
    """``check_photo``'s likeness list (records the learned embedding alone finds most alike) is shown
    below the candidates, badged "alike only", with its own words and the record's title escaped."""
    path, photo, record = demo
    source, source_id = record.split(" ", 1)
    alike = {
        "source": source,
        "source_id": source_id,
        "title": "<b>Jar</b>",
        "status": "stolen",
        "tier": "likeness",
        "score": 3.0,
        "same_photo_as": [],
        "evidence": {
            "object_id": 1,
            "registry_image_id": 1,
            "pdq": 120,
            "phash": 30,
            "dhash": 28,
            "inliers": 4,
            "cosine": 0.7412,
            "cosine_rank": 2,
            "cosine_of": 40,
        },
    }
    monkeypatch.setattr(
        photo_check, "check_photo", lambda db, index, data: {"candidates": [], "likeness": [alike]}
    )

    async def go():
        ds = ui(path)
        return await upload(ds, [("seized.jpg", photo, "image/jpeg")], await signed_in(ds))

    r = asyncio.run(go())
    assert r.status_code == 200 and errors(r.text) == []
    assert "No registry record resembles this photo closely enough to review." in r.text
    table = r.text.split('<table class="lw-candidates likeness">', 1)[1]
    assert "alike only</span>" in table and "&lt;b&gt;Jar&lt;/b&gt;" in table and "<b>Jar</b>" not in r.text
    why = re.search(r'<p class="lw-rowwhy check-why">([^<]+)</p>', table).group(1)
    assert why.startswith(
        "Among the photos most alike by the learned embedding (similarity 0.74; rank 2 of 40)"
    )
    assert "do not make it a match" in why
