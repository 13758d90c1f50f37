import csv
import email
import io
from email import policy

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
