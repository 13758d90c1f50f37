"""The daily digest: candidates new since the last sent report, as HTML and plain text in one e-mail.

Thumbnails travel inline (``cid:``), a CSV of the candidates is attached, and every value a seller
controls is escaped by Jinja2's autoescape. ``write_report`` writes the HTML file and the .eml; sending
by SMTP builds on the same message.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlite_utils import Database

from matcher.store import now

from .health import crawl_health
from .mail import MailError, SmtpSettings, send
from .reasons import reasons_from_json, split_reasons, summary

__all__ = ["Report", "new_candidates", "build_message", "write_report", "safe_url", "TEMPLATES"]

# The templates of everything lootwatch renders outside Datasette (digest, evidence packs), escaped.
TEMPLATES = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html"]))


@dataclass
class Report:
    """What one run of ``lootwatch report`` produced."""

    day: str
    candidates: list[dict[str, Any]]
    html_path: Path
    eml_path: Path
    report_id: int
    mode: str = "dry-run"


def safe_url(url: Any) -> str | None:
    """The URL if it is http(s), else None: ``javascript:`` and ``data:`` never become links."""
    if not isinstance(url, str):
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


def new_candidates(db: Database, resend_day: str | None = None) -> list[dict[str, Any]]:
    """Open candidates not yet in a sent report, strong first, then soonest sale; with ``resend_day``,
    those sent in that day's report count as new again."""
    sent: set[int] = set()
    for r in db.table("reports").rows_where("mode = 'sent'"):
        if resend_day is None or r["report_date"] != resend_day:
            sent.update(json.loads(r["candidate_ids"] or "[]"))
    # The review queue is the one place that decides what an open candidate is and in which order.
    columns = (
        "candidate_id",
        "kind",
        "tier",
        "score",
        "pdq_distance",
        "phash_distance",
        "dhash_distance",
        "variant",
        "inliers",
        "flag_reasons",
        "flag_score",
        "text_evidence",
        "listing_title",
        "site",
        "listing_url",
        "sale_date",
        "seller",
        "registry_record",
        "registry_title",
        "registry_status",
        "registry_url",
        "listing_sha256",
        "registry_sha256",
    )
    rows = list(db.query(f"SELECT {', '.join(columns)} FROM review_queue"))
    out = []
    for r in rows:
        if r["candidate_id"] not in sent:
            reasons = reasons_from_json(r.pop("flag_reasons"))
            r["reasons"] = [x for x in reasons if x.get("weight")]
            r.update(split_reasons(reasons))  # red_flags, lowering, notes: shown apart
            r["flag_summary"] = summary(reasons, r["flag_score"])
            r["text"] = json.loads(r.pop("text_evidence") or "null")
            out.append(r)
    return out


def build_message(
    db: Database,
    candidates: list[dict[str, Any]],
    day: str,
    review_url: str,
    sender: str,
    recipients: list[str],
) -> tuple[EmailMessage, str]:
    """The digest e-mail and its HTML body."""
    thumbs: dict[str, str] = {}
    images: dict[str, bytes] = {}
    for c in candidates:
        for key in ("listing_sha256", "registry_sha256"):
            sha = c.get(key)
            if sha and sha not in thumbs:
                row = db.execute("SELECT jpeg FROM thumbnails WHERE sha256 = ?", [sha]).fetchone()
                if row:
                    cid = make_msgid(domain="lootwatch.local")
                    thumbs[sha], images[cid] = cid[1:-1], row[0]
    context = {
        "day": day,
        "candidates": candidates,
        "thumbs": thumbs,
        "review_url": review_url.rstrip("/"),
        "safe_url": safe_url,
        "quote": quote,
        "health": crawl_health(db),
        "strong": sum(1 for c in candidates if c["tier"] == "strong"),
        "review": sum(1 for c in candidates if c["tier"] == "review"),
    }
    html = TEMPLATES.get_template("digest.html").render(**context)
    msg = EmailMessage()
    msg["Subject"] = f"lootwatch {day}: {context['strong']} strong, {context['review']} to review"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients) or sender
    msg["Date"] = formatdate(localtime=False)
    msg.set_content(TEMPLATES.get_template("digest.txt").render(**context))
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for cid, data in images.items():
        html_part.add_related(data, "image", "jpeg", cid=cid)
    msg.add_attachment(
        _csv(candidates).encode("utf-8"), maintype="text", subtype="csv", filename=f"lootwatch-{day}.csv"
    )
    return msg, html


def write_report(
    db: Database,
    out_dir: Path,
    review_url: str,
    sender: str,
    recipients: list[str],
    day: date | None = None,
    smtp: SmtpSettings | None = None,
    resend: bool = False,
) -> Report:
    """Write today's digest as an HTML file and an .eml; with ``smtp``, also send it.

    The report is recorded with its mode: ``dry-run``, ``sent`` or ``failed`` (with the reason). Only a
    sent report keeps its candidates out of the next digest, so a digest that could not go out is sent
    by the next run. With nothing new, nothing is sent. Raises MailError when sending failed.
    """
    day_s = (day or date.today()).isoformat()
    candidates = new_candidates(db, resend_day=day_s if resend else None)
    msg, html = build_message(db, candidates, day_s, review_url, sender, recipients)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, eml_path = out_dir / f"lootwatch-{day_s}.html", out_dir / f"lootwatch-{day_s}.eml"
    html_path.write_text(html, encoding="utf-8")
    eml_path.write_bytes(bytes(msg))
    row = {
        "report_date": day_s,
        "created_at": now(),
        "recipients": ", ".join(recipients),
        "candidate_ids": json.dumps([c["candidate_id"] for c in candidates]),
        "html_path": str(html_path),
        "eml_path": str(eml_path),
        "mode": "dry-run",
    }
    failure: MailError | None = None
    if smtp is not None and candidates:
        try:
            send(msg, smtp)
            row.update(mode="sent", sent_at=now())
        except MailError as exc:
            row.update(mode="failed", error=str(exc))
            failure = exc
    elif smtp is not None:
        row["mode"] = "nothing-new"
    report_id = db.table("reports").insert(row, alter=True).last_pk
    if failure is not None:
        raise failure
    return Report(day_s, candidates, html_path, eml_path, report_id, row["mode"])


def _csv(candidates: list[dict[str, Any]]) -> str:
    cols = [
        "candidate_id",
        "kind",
        "tier",
        "score",
        "pdq_distance",
        "phash_distance",
        "inliers",
        "flag_score",
        "site",
        "listing_title",
        "listing_url",
        "sale_date",
        "seller",
        "registry_record",
        "registry_title",
        "registry_status",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    writer.writeheader()
    for c in candidates:
        # A leading = + - @ makes spreadsheets run the cell as a formula; seller text must stay text.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in c.items()})
    return buf.getvalue()
