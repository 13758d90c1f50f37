import csv
import email
import io
import json
from email import policy

import pytest

from matcher.db import connect
from reports.digest import new_candidates, safe_url, write_report

from .review_db import XSS, hostile_db


def test_safe_url():
    assert safe_url("https://example.org/a") == "https://example.org/a"
    for bad in ("javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,x", "vbscript:x", None, 3):
        assert safe_url(bad) is None


def test_report_escapes_and_inlines(tmp_path):
    db, cid = hostile_db(tmp_path / "r.db")
    rep = write_report(db, tmp_path / "out", "http://127.0.0.1:8001", "lw@example.org", ["a@example.org"])
    html = rep.html_path.read_text()
    assert XSS not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    msg = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    cids = {p["Content-ID"].strip("<>") for p in msg.walk() if p.get_content_maintype() == "image"}
    body = msg.get_body(("html",)).get_content()
    referenced = {part.split('"')[0] for part in body.split('src="cid:')[1:]}
    assert referenced and referenced <= cids
    attachment = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(attachment.get_content())))
    assert rows[0]["candidate_id"] == str(cid)
    assert rows[0]["seller"].startswith("'=")  # no spreadsheet formula
    assert "strong" in msg["Subject"]


def test_dry_run_does_not_mark_sent(tmp_path):
    db, cid = hostile_db(tmp_path / "r.db")
    write_report(db, tmp_path / "out", "http://x", "a@x", [])
    assert [c["candidate_id"] for c in new_candidates(db)] == [cid]
    db.table("reports").insert({"mode": "sent", "candidate_ids": f"[{cid}]"})
    assert new_candidates(db) == []


class Inbox:
    """An aiosmtpd handler that keeps what it is sent."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_digest_sent_by_smtp_once_with_every_image_and_the_csv(tmp_path, smtp_server):
    import email
    import re

    from reports.mail import SmtpSettings

    inbox, port = smtp_server
    db, cid = hostile_db(tmp_path / "r.db")
    smtp = SmtpSettings("127.0.0.1", port, "none")
    rep = write_report(db, tmp_path / "out", "http://x", "lw@x", ["analyst@x"], smtp=smtp)
    assert rep.mode == "sent" and len(inbox.messages) == 1
    msg = email.message_from_bytes(inbox.messages[0])
    html = (
        next(p for p in msg.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    )
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    attached = {p["Content-ID"].strip("<>") for p in msg.walk() if p["Content-ID"]}
    assert cids and cids <= attached
    assert any(p.get_filename() == f"lootwatch-{rep.day}.csv" for p in msg.walk())
    assert "<script>" not in html
    again = write_report(db, tmp_path / "out", "http://x", "lw@x", ["analyst@x"], smtp=smtp)
    assert again.mode == "nothing-new" and len(inbox.messages) == 1
    resent = write_report(db, tmp_path / "out", "http://x", "lw@x", ["analyst@x"], smtp=smtp, resend=True)
    assert resent.mode == "sent" and len(inbox.messages) == 2


def test_smtp_down_leaves_the_digest_for_the_next_run(tmp_path, smtp_server):
    from reports.mail import MailError, SmtpSettings

    inbox, port = smtp_server
    db, cid = hostile_db(tmp_path / "r.db")
    closed = free_port()  # nothing listens here
    with pytest.raises(MailError):
        write_report(
            db, tmp_path / "out", "http://x", "lw@x", ["a@x"], smtp=SmtpSettings("127.0.0.1", closed, "none")
        )
    assert [r["mode"] for r in db.table("reports").rows] == ["failed"]
    assert [c["candidate_id"] for c in new_candidates(db)] == [cid]
    rep = write_report(
        db, tmp_path / "out", "http://x", "lw@x", ["a@x"], smtp=SmtpSettings("127.0.0.1", port, "none")
    )
    assert rep.mode == "sent" and len(inbox.messages) == 1


def flagged_candidate(db, n: int, tier: str = "review", **listing) -> int:
    """A lot flagged for its text, as the screening stage leaves it: one candidate of kind ``flags``."""
    from matcher.db import store

    lid, _ = store.upsert_listing(
        db, {"site": "s", "lot_id": str(n), "title": f"Lot {n}", "sale_date": "2026-12-01", **listing}
    )
    return (
        db.table("candidates")
        .insert(
            {
                "listing_id": lid,
                "kind": "flags",
                "tier": tier,
                "score": 60.0 + n % 30,
                "created_at": "2026-01-01T00:00:00+00:00",
                "updated_at": "2026-01-01T00:00:00+00:00",
            }
        )
        .last_pk
    )


def verdict(db, candidate_id: int, what: str, at: str) -> None:
    """A verdict recorded at ``at`` (the store's add_review writes the time of now)."""
    db.table("reviews").insert(
        {"candidate_id": candidate_id, "verdict": what, "reviewer": "alice", "note": "", "created_at": at}
    )


def test_standalone_html_embeds_its_images_and_the_mail_keeps_cid(tmp_path):
    import base64
    import re

    db, _ = hostile_db(tmp_path / "r.db")
    rep = write_report(db, tmp_path / "out", "http://127.0.0.1:8001", "lw@example.org", ["a@example.org"])
    html = rep.html_path.read_text()
    assert "cid:" not in html
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 2 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    (thumbnail,) = db.execute("SELECT jpeg FROM thumbnails").fetchone()
    assert base64.b64decode(sources[0].split(",", 1)[1]) == thumbnail
    assert f'href="{rep.csv_path.name}"' in html and rep.csv_path.parent == rep.html_path.parent
    msg = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    body = msg.get_body(("html",)).get_content()
    assert "data:image" not in body and body.count('src="cid:') == 2


def test_decided_candidates_are_left_out_unless_something_new_happened(tmp_path):
    from datetime import UTC, datetime, timedelta

    from matcher.db import store

    db = connect.open_db(tmp_path / "r.db")
    hour = timedelta(hours=1)
    t = datetime.now(UTC).replace(microsecond=0)
    ago, later = (t - 2 * hour).isoformat(), (t - hour).isoformat()
    open_, dismissed, escalated, confirmed, changed, relisted, noted, note_after = (
        flagged_candidate(db, n) for n in range(1, 9)
    )
    verdict(db, dismissed, "dismissed", ago)
    verdict(db, escalated, "escalated", ago)
    verdict(db, confirmed, "confirmed", ago)
    verdict(db, changed, "dismissed", ago)
    verdict(db, relisted, "dismissed", ago)
    verdict(db, noted, "note", ago)  # a note decides nothing
    verdict(db, note_after, "dismissed", ago)
    verdict(db, note_after, "note", later)  # and a note after a verdict reopens nothing
    # After their verdicts: a stronger match for one, the other's lot offered again on another site.
    db.execute("UPDATE candidates SET tier = 'strong', updated_at = ? WHERE id = ?", [later, changed])
    other, _ = store.upsert_listing(db, {"site": "elsewhere", "lot_id": "77", "title": "Same lot"})
    listing = db.execute("SELECT listing_id FROM candidates WHERE id = ?", [relisted]).fetchone()[0]
    db.table("relistings").insert(
        {"listing_id": listing, "other_listing_id": other, "kind": "same_bytes", "linked_at": later}
    )
    found = {c["candidate_id"]: c for c in new_candidates(db)}
    assert set(found) == {open_, changed, relisted, noted}
    assert found[changed]["verdict"] == {"verdict": "dismissed", "at": ago}
    assert found[changed]["since_verdict"] == [f"the match changed ({later[:10]})"]
    assert found[relisted]["since_verdict"] == [f"relisted as elsewhere lot 77 ({later[:10]})"]
    rep = write_report(db, tmp_path / "out", "https://review.unit.example", "lw@example.org", [])
    html = rep.html_path.read_text()
    assert f"Dismissed on {ago[:10]}</strong>; since then: the match changed" in html
    assert "Verdicts in the last 24 hours" in html
    assert "1 confirmed, 4 dismissed, 1 escalated, 2 notes." in html
    for cid in (dismissed, escalated, confirmed):
        assert (
            f'href="https://review.unit.example/-/lootwatch/candidate/{cid}">candidate {cid}</a>: Lot' in html
        )
    text = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    plain = text.get_body(("plain",)).get_content()
    assert "Verdicts in the last 24 hours: 1 confirmed, 4 dismissed, 1 escalated, 2 notes" in plain
    assert f"Dismissed on {ago[:10]}; since then: relisted as elsewhere lot 77" in plain
    # Once a sent digest has carried the news, it is not news again.
    db.table("reports").insert(
        {"mode": "sent", "sent_at": connect.now(), "candidate_ids": json.dumps(sorted(found))}, alter=True
    )
    assert new_candidates(db) == []


def test_a_long_day_shows_the_top_and_links_the_worklist(tmp_path):

    db = connect.open_db(tmp_path / "r.db")
    ids = [flagged_candidate(db, n) for n in range(1, 61)]
    rep = write_report(db, tmp_path / "out", "https://review.unit.example/", "lw@example.org", [], limit=20)
    assert rep.shown == 20 and len(rep.candidates) == 60
    msg = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    for body in (rep.html_path.read_text(), msg.get_body(("html",)).get_content()):
        assert body.count("/-/lootwatch/candidate/") == 20
        assert "the first 20 are below, the other 40 in the" in body
        assert '<a href="https://review.unit.example/-/lootwatch/worklist">worklist</a>' in body
    plain = msg.get_body(("plain",)).get_content()
    assert "the other 40 are in the worklist" in plain
    assert "Worklist: https://review.unit.example/-/lootwatch/worklist" in plain
    attachment = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".csv"))
    for text in (attachment.get_content(), rep.csv_path.read_text()):
        assert sorted(int(r["candidate_id"]) for r in csv.DictReader(io.StringIO(text))) == ids


def test_without_review_url_the_digest_says_how_to_open_the_review_ui(tmp_path):

    db = connect.open_db(tmp_path / "r.db")
    flagged_candidate(db, 1)
    rep = write_report(db, tmp_path / "out", "", "lw@example.org", [])
    html = rep.html_path.read_text()
    assert f"<code>lootwatch --db {tmp_path / 'r.db'} review</code>" in html
    assert 'href="http://127.0.0.1:8001/-/lootwatch/worklist"' in html


def test_digest_limit_and_review_url_come_from_the_config(tmp_path):
    from lootwatch.config import ConfigError, load_config

    cfg_file = tmp_path / "lootwatch.toml"
    cfg_file.write_text('review_url = "https://review.unit.example"\ndigest_limit = 25\n')
    cfg = load_config(cfg_file)
    assert (cfg.review_url, cfg.digest_limit) == ("https://review.unit.example", 25)
    assert load_config(None).review_url == ""  # unset: the digest says how to open the review UI
    cfg_file.write_text('digest_limit = "all"\n')
    with pytest.raises(ConfigError, match="digest_limit"):
        load_config(cfg_file)


PAYLOADS = ["=1+1", "a;=cmd|' /C calc'!A0", "\t=1", "\r=1", "@SUM(1)", "-1+1", "+1"]
# Found in the wild: a formula after a line feed or a comma, behind a quote or a no-break space, in
# full-width letters (read as a formula by Japanese Excel), behind a NUL.
MORE = ["x\n=1+1", "x, =1+1", 'a;"=1+1', "\u00a0=1+1", "\uff1dcmd|' /C calc'!A0", "\0=1+1", "a;\t@x"]
FORMULA = "=+-@\uff1d\uff0b\uff0d\uff20"


def formula_cells(text: str, delimiter: str) -> list[str]:
    """Cells a spreadsheet splitting at ``delimiter`` would read as a formula: by a CSV reader, and by a
    naive split at every separator and line break (Excel in a ';' locale ignores the comma's quotes)."""
    import re

    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    cells = [cell for row in rows for cell in row]
    cells += re.split(r"[;,\t\r\n]", text)
    bad = []
    for cell in cells:
        visible = re.sub(r'^[\s"\u200b-\u200d\u2060\ufeff\0]*', "", cell)
        if visible and visible[0] in FORMULA:
            bad.append(cell)
    return bad


@pytest.mark.parametrize("payload", PAYLOADS + MORE)
def test_csv_neutralises_formulas_for_comma_and_semicolon_spreadsheets(tmp_path, payload):

    db = connect.open_db(tmp_path / "r.db")
    flagged_candidate(db, 1, title=payload, seller=payload)
    rep = write_report(db, tmp_path / "out", "", "lw@example.org", [])
    msg = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    attachment = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".csv"))
    text = attachment.get_payload(decode=True).decode("utf-8")  # as sent: a CR inside a value stays a CR
    for delimiter in (",", ";"):
        assert formula_cells(text, delimiter) == [], (payload, delimiter, text)
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["seller"].replace("'", "") == payload.replace("\0", "").replace("'", "")  # their words, kept
    assert '\r\n"1","flags","review","61.0",' in text  # every field quoted, numbers too
    assert rep.csv_path.read_bytes() == attachment.get_payload(decode=True)  # the CSV beside the page


def test_message_has_a_message_id_and_a_date(tmp_path):
    from email.utils import parsedate_to_datetime

    db, _ = hostile_db(tmp_path / "r.db")
    rep = write_report(db, tmp_path / "out", "", "lootwatch <lootwatch@unit.example>", ["a@unit.example"])
    msg = email.message_from_bytes(rep.eml_path.read_bytes(), policy=policy.default)
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@unit.example>")
    assert parsedate_to_datetime(msg["Date"]).utcoffset() is not None
    again = write_report(db, tmp_path / "out2", "", "lootwatch@unit.example", [])
    other = email.message_from_bytes(again.eml_path.read_bytes(), policy=policy.default)
    assert other["Message-ID"] != msg["Message-ID"]
