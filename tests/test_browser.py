"""The candidate page in a real browser: a seller's script in the title does not run, both thumbnails
load. Needs Debian's chromium and chromium-driver (`.ci/run` installs them); skips elsewhere."""

from .browser import Datasette, chrome
from .conftest import ROOT
from .review_db import hostile_db

PAYLOAD = '<script>window.lootwatchPwned=1</script><img src=x onerror="window.lootwatchPwned=2">'


def test_candidate_page_in_chromium(tmp_path):
    driver = chrome()
    db_path = tmp_path / "lootwatch.db"
    db, cid = hostile_db(db_path)
    listing = db.execute("SELECT listing_id FROM candidates WHERE id = ?", [cid]).fetchone()[0]
    db.table("listings").update(listing, {"title": f"Cuneiform tablet {PAYLOAD}"})
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    try:
        with Datasette(db_path) as server:
            for path in (f"/-/lootwatch/candidate/{cid}", "/lootwatch/review_queue"):
                driver.get(server.url + path)
                assert driver.execute_script("return window.lootwatchPwned === undefined")
                assert PAYLOAD in driver.find_element("tag name", "body").text  # shown as text
            driver.get(server.url + f"/-/lootwatch/candidate/{cid}")
            for photo in ("listing-photo", "registry-photo"):
                element = driver.find_element("id", photo)
                assert (
                    driver.execute_script(
                        "return arguments[0].complete && arguments[0].naturalWidth", element
                    )
                    > 0
                )
            driver.save_screenshot(str(out / "candidate-page.png"))
    finally:
        driver.quit()
    assert (out / "candidate-page.png").stat().st_size > 10_000
