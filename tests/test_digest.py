import csv
import email
import io
from email import policy

import pytest

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
