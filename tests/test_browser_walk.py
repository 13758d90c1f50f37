"""The analyst's day in a real browser (issue 20, item 5): headless Chromium against ``datasette serve``
of a copy of the small demo's review database, with a reviewer set up.

Open the worklist (signed out: the sign-in page, which comes back), see only what is undecided, open the
first candidate, enlarge a photo, sign out and in again from the candidate page and land back on it,
confirm with a note (through the browser's "are you sure?"), follow the link to the next undecided
candidate, check a registry photo by upload, sign out. Each step is saved as a screenshot in
``test-output/`` (``01-worklist.png``, ``02-candidate.png``, ...); the README shows two of them.
Needs Debian's chromium and chromium-driver (``.ci/run`` installs them); skips elsewhere."""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from datasette_auth_passwords.utils import hash_password
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from reports.worklist import ORDER_SQL, ROWS_SQL

from .browser import Datasette, chrome
from .conftest import ROOT

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
NOTE = "Same chip on the rim as the registry photo; the seller gives no papers."
OUT = ROOT / "test-output"


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy of a (WAL) database, read through SQLite without writing to the source."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def query(db: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def undecided(db: Path) -> set[int]:
    """Candidates (still holding) without a confirm, dismiss or escalate: a note decides nothing."""
    return {
        r[0]
        for r in query(
            db,
            "SELECT id FROM candidates c WHERE tier IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM reviews r WHERE r.candidate_id = c.id AND r.verdict != 'note')",
        )
    }


def add_review(db: Path, cid: int, verdict: str, note: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO reviews (candidate_id, listing_id, registry_object_id, verdict, note, reviewer, "
            "created_at) SELECT id, listing_id, registry_object_id, ?, ?, 'colleague', "
            "'2026-01-05T09:00:00Z' FROM candidates WHERE id = ?",
            [verdict, note, cid],
        )
    conn.close()


@dataclass
class Day:
    """The copy of the demo's database as the analyst finds it in the morning."""

    db: Path
    dismissed: list[int]  # by a colleague, at the top of the worklist
    noted: int  # a photo match a colleague only wrote a note on: still to decide
    noted_record: str  # its registry record as the why line names it ("interpol 12345")
    undecided: set[int]
    seized: Path  # a registry photo, as a colleague brings it to the photo check
    record: str  # the record it comes from, as the photo check names it ("interpol 12345")


def morning(small_demo: dict, tmp_path: Path) -> Day:
    db = tmp_path / "lootwatch.db"
    copy_db(small_demo["db"], db)
    # A colleague has been here already: the candidates at the top of the worklist dismissed, up to the
    # first photo match, which has only a note.
    order = query(
        db,
        "SELECT id, kind = 'image' AND listing_sha256 IS NOT NULL AND registry_sha256 IS NOT NULL "
        f"FROM ({ROWS_SQL}) {ORDER_SQL}",
    )
    at = next(i for i, (_, photos) in enumerate(order) if photos and i > 0)
    dismissed, noted = [cid for cid, _ in order[:at]], order[at][0]
    for cid in dismissed:
        add_review(db, cid, "dismissed", "a different object: the handle is intact")
    add_review(db, noted, "note", "asked the unit for the 2011 photos")
    (noted_record,) = query(
        db,
        "SELECT o.source || ' ' || o.source_id FROM candidates c "
        "JOIN registry_objects o ON o.id = c.registry_object_id WHERE c.id = ?",
        [noted],
    )[0]
    sha, record = query(
        db,
        "SELECT ri.sha256, o.source || ' ' || o.source_id FROM registry_images ri "
        "JOIN registry_objects o ON o.id = ri.object_id WHERE ri.matchable = 1 ORDER BY ri.id LIMIT 1",
    )[0]
    original = small_demo["out"] / "data" / "originals" / sha[:2] / sha
    with Image.open(original) as im:
        seized = tmp_path / f"seized-photo.{im.format.lower()}"
    shutil.copy(original, seized)
    # The originals beside the database, where `lootwatch review` finds them to enlarge a photo.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "originals").symlink_to(small_demo["out"] / "data" / "originals")
    day = Day(db, dismissed, noted, noted_record, undecided(db), seized, record)
    assert not day.undecided & set(dismissed) and noted in day.undecided
    return day


class Browser:
    """The analyst's browser: where it is, signing in and out, screenshots of each step."""

    def __init__(self, driver, url: str):
        self.driver, self.url = driver, url
        self.wait = WebDriverWait(driver, 30)
        self.shots: list[Path] = []

    def shot(self, name: str) -> None:
        self.shots.append(OUT / f"{len(self.shots) + 1:02d}-{name}.png")
        self.driver.save_screenshot(str(self.shots[-1]))

    def go(self, path: str) -> None:
        self.driver.get(self.url + path)

    def path(self) -> str:
        return urlsplit(self.driver.current_url).path

    def at(self, path: str) -> None:
        self.wait.until(lambda d: self.path() == path)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self) -> str:
        return self.find("body").text

    def loaded(self, img) -> bool:
        return (
            self.driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
        )

    def sign_in_page(self, back_to: str) -> None:
        """The sign-in page, which will send the reviewer back to ``back_to`` and names the user name."""
        self.at("/-/login")
        assert parse_qs(urlsplit(self.driver.current_url).query)["next"] == [back_to]
        assert "or analyst where there is one shared account" in self.text()
        assert self.find("h1").text == "Sign in" and "to record verdicts" not in self.text()
        assert not self.finds("#lw-back")  # "Back to the worklist" would only lead here again
        user, password = self.find("#id_username"), self.find("#id_password")
        assert user.size["width"] == password.size["width"] >= 200

    def sign_in(self) -> None:
        self.find("#id_username").send_keys("analyst")
        self.find("#id_password").send_keys(PASSWORD)
        self.find("form.password-login button[type=submit]").click()
        self.wait.until(lambda d: self.path() != "/-/login")
        assert self.find("header .actor").text == "analyst"

    def sign_out(self) -> str:
        """The header's "Sign out" (top right): the sign-in page, told to come back here."""
        here = self.path()
        button = self.find("header button.lw-signout")
        assert button.text == "Sign out" and button.is_displayed()
        button.click()
        self.sign_in_page(here)
        assert self.driver.get_cookie("ds_actor") is None
        assert not self.finds("header .actor")
        return here

    def worklist_ids(self) -> list[int]:
        return [int(r.get_attribute("data-candidate")) for r in self.finds("#worklist tr.lw-row")]


def candidate(cid: int) -> str:
    return f"/-/lootwatch/candidate/{cid}"


def reviews_of(db: Path, cid: int) -> list[tuple]:
    return query(db, "SELECT verdict, note, reviewer FROM reviews WHERE candidate_id = ? ORDER BY id", [cid])


def test_the_analysts_day_in_chromium(request, tmp_path, monkeypatch):
    driver = chrome()  # skips when Chromium or chromedriver is absent, before the demo is built
    try:
        day = morning(request.getfixturevalue("small_demo"), tmp_path)
        # The reviewer `analyst`, as the operator sets it up; the metadata is written from this environment.
        monkeypatch.setenv("LOOTWATCH_PASSWORD_HASH", hash_password(PASSWORD))
        monkeypatch.delenv("LOOTWATCH_REVIEWERS", raising=False)
        monkeypatch.delenv("LOOTWATCH_REVIEW_HOSTS", raising=False)
        OUT.mkdir(exist_ok=True)
        for old in OUT.glob("[0-9][0-9]-*.png"):
            old.unlink()
        with Datasette(day.db) as server:
            b = Browser(driver, server.url)
            walk(b, day)
    finally:
        driver.quit()
    assert len(b.shots) == 10
    for shot in b.shots:
        assert shot.stat().st_size > 10_000, shot


def walk(b: Browser, day: Day) -> None:
    # 1. The worklist: signed out, the home page sends the analyst to sign in, and back.
    b.go("/")
    b.sign_in_page("/")
    b.sign_in()
    assert b.path() == "/"
    assert b.find("h1").text == "Candidates still to decide"
    ids = b.worklist_ids()
    counted = re.search(r"\b1–(\d+) of (\d+)\.", b.text())
    assert counted and int(counted.group(2)) == len(day.undecided)
    assert set(ids) <= day.undecided and len(ids) == int(counted.group(1)) == min(len(day.undecided), 50)
    # The dismissed ones are gone; the one with only a note is still to decide, first.
    assert not set(ids) & set(day.dismissed) and ids[0] == day.noted
    assert not b.finds("#worklist .lw-dismissed, #worklist .lw-confirmed, #worklist .lw-escalated")
    # The first row in plain words: both photos (loaded), the title, why it was raised.
    row = b.find("#worklist tr.lw-row")
    photos = row.find_elements(By.TAG_NAME, "img")
    assert [p.get_attribute("alt") for p in photos] == ["lot photo", "registry photo"]
    b.wait.until(lambda d: all(b.loaded(p) for p in photos))
    assert [(p.size["width"], p.size["height"]) for p in photos] == [(96, 96), (96, 96)]  # one box each
    assert b.find("header #lw-check-link").text == "Check a photo"
    assert day.noted_record in row.find_element(By.CSS_SELECTOR, ".lw-rowwhy").text
    b.shot("worklist")

    # 2. The first candidate.
    first, following = ids[0], ids[1]
    title = row.find_element(By.CSS_SELECTOR, "a.lw-title").text
    row.find_element(By.CSS_SELECTOR, "a.lw-title").click()
    b.at(candidate(first))
    assert b.find("h1").text.startswith(title)
    assert b.find("h1 small").text == "(still to decide, 1 note)"  # a note is not a verdict
    assert day.noted_record in b.find("#why").text
    assert b.loaded(b.find("#listing-photo")) and b.loaded(b.find("#registry-photo"))
    assert "asked the unit for the 2011 photos" in b.text()  # a colleague's note, to a signed-in reviewer
    b.shot("candidate")

    # 3. Enlarge the lot photo: a click, and the enlarged view covers the page; close it again.
    lightbox = b.find("#lw-big-listing")
    assert not lightbox.is_displayed()
    small = b.find("#listing-photo")
    small.click()
    b.wait.until(lambda d: lightbox.is_displayed())
    big = lightbox.find_element(By.TAG_NAME, "img")
    assert big.size["width"] > 1.5 * small.size["width"]
    # Enlarged from the original photo, not the 240 px thumbnail.
    assert "/-/lootwatch/original/" in big.get_attribute("src")
    b.wait.until(lambda d: b.loaded(big))
    assert b.driver.execute_script("return arguments[0].naturalWidth", big) > 240
    assert "enlarged from the small copy" not in lightbox.find_element(By.XPATH, "../..").text
    assert b.driver.execute_script("return arguments[0].contains(document.elementFromPoint(5, 5))", lightbox)
    b.shot("photo-enlarged")
    lightbox.find_element(By.CSS_SELECTOR, "a.lw-close").click()
    b.wait.until(lambda d: not lightbox.is_displayed())

    # 4. Sign out on the candidate page; signing in again comes back to it.
    assert b.sign_out() == candidate(first)
    b.shot("signed-out")
    b.go(candidate(first))
    b.sign_in_page(candidate(first))
    b.shot("sign-in")
    b.sign_in()
    assert b.path() == candidate(first) and b.find("h1").text.startswith(title)

    # 5. Confirm with a note. The browser asks first: "Cancel" records nothing, "OK" records it.
    before = reviews_of(day.db, first)
    label, box = b.find("label[for=lw-note]"), b.find("#lw-note")
    assert label.size["height"] < 3 * 24 and label.location["y"] < box.location["y"]  # one line, above
    assert box.size["width"] >= 0.9 * b.find("form.lw-decide").size["width"] - 40
    b.find("#lw-note").send_keys(NOTE)
    confirm = b.find("button.lw-confirm")
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", confirm)
    b.shot("verdict")
    confirm.click()
    alert = b.wait.until(EC.alert_is_present())
    assert alert.text.startswith("Confirm: this lot is the object in")
    alert.dismiss()
    assert b.path() == candidate(first) and not b.finds("#lw-done")
    assert reviews_of(day.db, first) == before
    confirm.click()
    b.wait.until(EC.alert_is_present())
    b.driver.switch_to.alert.accept()
    b.wait.until(lambda d: "done=confirmed" in d.current_url)
    assert b.find("#lw-done").text.startswith("Recorded: confirmed")
    assert b.find("h1 small").text == "(confirmed)"
    assert reviews_of(day.db, first) == [*before, ("confirmed", NOTE, "analyst")]
    # The form folds away; "change the verdict" opens it again. One link on to the next.
    assert not b.find("#lw-note").is_displayed()
    nexts = [a for a in b.finds("a") if urlsplit(a.get_attribute("href") or "").path == candidate(following)]
    assert len(nexts) == 1 and nexts[0].text == "Next undecided candidate →"
    b.shot("confirmed")
    change = b.find("#lw-change summary")
    assert change.text == "change the verdict"
    change.click()
    b.wait.until(lambda d: b.find("#lw-note").is_displayed())
    change.click()

    # 6. The link to the next undecided candidate, in the worklist's order.
    link = b.find("#next-undecided")
    assert urlsplit(link.get_attribute("href")).path == candidate(following)
    link.click()
    b.at(candidate(following))
    assert b.find("h1 small").text == "(still to decide)"
    b.shot("next-candidate")
    # Back on the worklist, the confirmed candidate is no longer there.
    b.driver.find_element(By.LINK_TEXT, "← Worklist").click()
    b.at("/")
    after = b.worklist_ids()
    assert first not in after and after[: len(ids) - 1] == ids[1:]

    # 7. A colleague's photo: the photo check (in the header) names the registry record it comes from, first.
    b.find("header #lw-check-link").click()
    b.at("/-/lootwatch/check")
    b.find("#photos").send_keys(str(day.seized))
    b.find(".lw-check form button[type=submit]").click()
    b.wait.until(lambda d: b.finds(".photo-result"))
    assert not b.finds(".photo-error, #form-error")
    assert b.find(".photo-result h3").text == day.seized.name
    assert b.loaded(b.find(".photo-result .photo > img"))  # the uploaded photo
    records = b.finds("tr.candidate strong.record")
    assert records and records[0].text == day.record
    assert b.find("tr.candidate .check-why").text.startswith("Same photo as")
    b.shot("photo-check")

    # 8. Sign out: the worklist asks to sign in again.
    assert b.sign_out() == "/-/lootwatch/check"
    b.go("/")
    b.sign_in_page("/")
    b.shot("signed-out-end")
