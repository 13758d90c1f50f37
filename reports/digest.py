"""The daily digest: candidates new since the last sent report, as HTML and plain text in one e-mail.

The e-mail carries its thumbnails inline (``cid:``) and a CSV of every candidate; the HTML file written
beside the .eml carries the same thumbnails as ``data:`` URIs and links to the CSV written beside it, so
it opens on its own. Every value a seller controls is escaped by Jinja2's autoescape, and every CSV cell
a spreadsheet could read as a formula is neutralised (``spreadsheet_safe``).

A candidate someone decided (its latest verdict other than a note is confirmed, dismissed or escalated)
is left out, unless something new happened to it since: its match changed (``candidates.updated_at``
after the verdict) or its lot was seen relisted (``relistings.linked_at``). The verdicts of the last 24
hours are summarised instead. A long day shows its top ``limit`` candidates; the rest are in the CSV and
behind a link to the review UI's worklist.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shlex
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlite_utils import Database

from matcher.db.connect import now

from .health import crawl_health
from .mail import MailError, SmtpSettings, send
from .reasons import reasons_from_json, split_reasons, summary

__all__ = [
    "Report",
    "new_candidates",
    "recent_verdicts",
    "build_message",
    "write_report",
    "safe_url",
    "spreadsheet_safe",
    "TEMPLATES",
    "DIGEST_LIMIT",
    "LOCAL_REVIEW_URL",
    "DECISIONS",
    "db_path",
]

# The templates of everything lootwatch renders outside Datasette (digest, evidence packs), escaped.
TEMPLATES = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html"]))

DIGEST_LIMIT = 50  # candidates shown in one digest: one worklist page; the rest are linked
LOCAL_REVIEW_URL = "http://127.0.0.1:8001"  # where `lootwatch review` serves by default
DECISIONS = ("confirmed", "dismissed", "escalated")  # a note decides nothing
VERDICT_WINDOW = timedelta(hours=24)


@dataclass
class Report:
    """What one run of ``lootwatch report`` produced."""

    day: str
    candidates: list[dict[str, Any]]
    html_path: Path
    eml_path: Path
    report_id: int
    mode: str = "dry-run"
    csv_path: Path | None = None
    shown: int = 0


def safe_url(url: Any) -> str | None:
    """The URL if it is http(s), else None: ``javascript:`` and ``data:`` never become links."""
    if not isinstance(url, str):
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


_COLUMNS = (
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
    "listing_id",
)


def new_candidates(db: Database, resend_day: str | None = None) -> list[dict[str, Any]]:
    """Candidates for the digest, strong first, then soonest sale (the review queue's order).

    Undecided candidates not yet in a sent report; and decided ones only when something new happened
    since their verdict and no sent report has covered it yet (``verdict`` and ``since_verdict`` say
    what). With ``resend_day``, what was sent in that day's report counts as unsent again.
    """
    last_sent: dict[int, str] = {}
    for r in db.table("reports").rows_where("mode = 'sent'"):
        if resend_day is None or r["report_date"] != resend_day:
            when = r["sent_at"] or r["created_at"] or ""
            for cid in json.loads(r["candidate_ids"] or "[]"):
                last_sent[cid] = max(when, last_sent.get(cid, ""))
    decided = _decisions(db)
    # The review queue is the one place that decides what an open candidate is and in which order.
    rows = list(db.query(f"SELECT {', '.join(_COLUMNS)} FROM review_queue"))
    out = []
    for r in rows:
        cid = r["candidate_id"]
        verdict = decided.get(cid)
        if verdict is None:
            if cid in last_sent:
                continue
        else:
            news = _news_since(db, cid, r["listing_id"], verdict["at"])
            # Reported again only for news no sent digest has carried yet.
            if not news or max(n["at"] for n in news) <= last_sent.get(cid, ""):
                continue
            r["verdict"], r["since_verdict"] = verdict, [n["what"] for n in news]
        reasons = reasons_from_json(r.pop("flag_reasons"))
        r["reasons"] = [x for x in reasons if x.get("weight")]
        r.update(split_reasons(reasons))  # red_flags, lowering, notes: shown apart
        r["flag_summary"] = summary(reasons, r["flag_score"])
        r["text"] = json.loads(r.pop("text_evidence") or "null")
        out.append(r)
    return out


def _decisions(db: Database) -> dict[int, dict[str, Any]]:
    """Each decided candidate's latest decision: ``{"verdict", "at"}``; a note after it changes nothing,
    nor does a candidate whose latest decision is older than a later note."""
    rows = db.execute(
        "SELECT r.candidate_id, r.verdict, r.created_at FROM reviews r "
        "WHERE r.id = (SELECT max(id) FROM reviews x WHERE x.candidate_id = r.candidate_id "
        "AND x.verdict != 'note')"
    ).fetchall()
    return {cid: {"verdict": v, "at": at} for cid, v, at in rows if v in DECISIONS}


def _news_since(db: Database, candidate_id: int, listing_id: int, since: str) -> list[dict[str, str]]:
    """What the database records as happening to a candidate after ``since``: its match changed (the
    matcher rewrites ``updated_at`` only when a distance, score, tier or reason changes), or its lot
    turned up again elsewhere (a relisting linked)."""
    news = []
    updated = db.execute("SELECT updated_at FROM candidates WHERE id = ?", [candidate_id]).fetchone()
    if updated and updated[0] and updated[0] > since:
        news.append({"at": updated[0], "what": f"the match changed ({_day(updated[0])})"})
    for other_site, other_lot, linked in db.execute(
        "SELECT l.site, l.lot_id, r.linked_at FROM relistings r JOIN listings l ON l.id = "
        "CASE WHEN r.listing_id = ? THEN r.other_listing_id ELSE r.listing_id END "
        "WHERE (r.listing_id = ? OR r.other_listing_id = ?) AND r.linked_at > ? ORDER BY r.linked_at",
        [listing_id, listing_id, listing_id, since],
    ):
        news.append({"at": linked, "what": f"relisted as {other_site} lot {other_lot} ({_day(linked)})"})
    return news


def recent_verdicts(db: Database, since: str) -> dict[str, Any]:
    """The verdicts recorded after ``since``: ``counts`` by verdict and ``decisions``, the candidates
    confirmed, dismissed or escalated (latest first) with their lot and registry record. Notes are only
    counted."""
    rows = list(
        db.query(
            "SELECT r.verdict, r.created_at, r.candidate_id, l.title AS listing_title, l.site, "
            "o.source || ':' || o.source_id AS registry_record "
            "FROM reviews r LEFT JOIN candidates c ON c.id = r.candidate_id "
            "LEFT JOIN listings l ON l.id = c.listing_id "
            "LEFT JOIN registry_objects o ON o.id = c.registry_object_id "
            "WHERE r.created_at > ? ORDER BY r.id DESC",
            [since],
        )
    )
    counts = Counter(r["verdict"] for r in rows)
    return {
        "counts": [(v, counts[v]) for v in (*DECISIONS, "note") if counts[v]],
        "decisions": [r for r in rows if r["verdict"] in DECISIONS],
    }


def _day(timestamp: str) -> str:
    return timestamp[:10]


def build_message(
    db: Database,
    candidates: list[dict[str, Any]],
    day: str,
    review_url: str,
    sender: str,
    recipients: list[str],
    limit: int = DIGEST_LIMIT,
    verdicts: dict[str, Any] | None = None,
) -> tuple[EmailMessage, str]:
    """The digest e-mail and the standalone HTML page (thumbnails as ``data:`` URIs).

    Both show the first ``limit`` candidates; the CSV attached to the e-mail has them all. Without a
    ``review_url`` the links point at ``lootwatch review``'s local address and the digest says how to
    open it.
    """
    shown = candidates[: max(limit, 0)]
    jpegs: dict[str, bytes] = {}
    for c in shown:
        for key in ("listing_sha256", "registry_sha256"):
            sha = c.get(key)
            if sha and sha not in jpegs:
                row = db.execute("SELECT jpeg FROM thumbnails WHERE sha256 = ?", [sha]).fetchone()
                if row:
                    jpegs[sha] = row[0]
    domain = _domain(sender)
    cids = {sha: make_msgid(domain=domain)[1:-1] for sha in jpegs}
    context = {
        "day": day,
        "candidates": shown,
        "total": len(candidates),
        "more": len(candidates) - len(shown),
        "review_url": (review_url or LOCAL_REVIEW_URL).rstrip("/"),
        "review_url_set": bool(review_url),
        "review_command": f"lootwatch --db {shlex.quote(db_path(db))} review",
        "safe_url": safe_url,
        "quote": quote,
        "health": crawl_health(db),
        "verdicts": verdicts or {"counts": [], "decisions": []},
        "strong": sum(1 for c in candidates if c["tier"] == "strong"),
        "review": sum(1 for c in candidates if c["tier"] == "review"),
        "csv_name": f"lootwatch-{day}.csv",
    }
    page = TEMPLATES.get_template("digest.html")
    mail_html = page.render(**context, standalone=False, img=lambda sha: f"cid:{cids[sha]}", thumbs=cids)
    file_html = page.render(**context, standalone=True, img=lambda sha: _data_uri(jpegs[sha]), thumbs=cids)
    msg = EmailMessage()
    msg["Subject"] = f"lootwatch {day}: {context['strong']} strong, {context['review']} to review"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients) or sender
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring="digest", domain=domain)
    msg.set_content(TEMPLATES.get_template("digest.txt").render(**context))
    msg.add_alternative(mail_html, subtype="html")
    html_part = msg.get_payload()[1]
    for sha, cid in cids.items():
        html_part.add_related(jpegs[sha], "image", "jpeg", cid=f"<{cid}>")
    msg.add_attachment(
        _csv(candidates).encode("utf-8"), maintype="text", subtype="csv", filename=context["csv_name"]
    )
    return msg, file_html


def _domain(sender: str) -> str | None:
    """The domain of the sender's address, for Message-ID and Content-ID; None lets the host name stand."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain) else None


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def db_path(db: Database) -> str:
    """The file the database was opened from."""
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else "DB"


def write_report(
    db: Database,
    out_dir: Path,
    review_url: str,
    sender: str,
    recipients: list[str],
    day: date | None = None,
    smtp: SmtpSettings | None = None,
    resend: bool = False,
    limit: int = DIGEST_LIMIT,
) -> Report:
    """Write today's digest as an HTML file, a CSV and an .eml; with ``smtp``, also send it.

    The report is recorded with its mode: ``dry-run``, ``sent`` or ``failed`` (with the reason). Only a
    sent report keeps its candidates out of the next digest, so a digest that could not go out is sent
    by the next run. With nothing new, nothing is sent. Raises MailError when sending failed.
    """
    day_s = (day or date.today()).isoformat()
    candidates = new_candidates(db, resend_day=day_s if resend else None)
    since = (datetime.now(UTC).replace(microsecond=0) - VERDICT_WINDOW).isoformat()
    verdicts = recent_verdicts(db, since)
    msg, html = build_message(db, candidates, day_s, review_url, sender, recipients, limit, verdicts)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, eml_path = out_dir / f"lootwatch-{day_s}.html", out_dir / f"lootwatch-{day_s}.eml"
    csv_path = out_dir / f"lootwatch-{day_s}.csv"
    html_path.write_text(html, encoding="utf-8")
    csv_path.write_text(_csv(candidates), encoding="utf-8", newline="")
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
    shown = min(len(candidates), max(limit, 0))
    return Report(day_s, candidates, html_path, eml_path, report_id, row["mode"], csv_path, shown)


# What makes a spreadsheet read a cell as a formula (OWASP's list), with the full-width forms that
# Japanese Excel reads the same way.
_FORMULA = "=+\\-@\uff1d\uff0b\uff0d\uff20"
# Where a spreadsheet may begin a new cell or line inside one value: Excel in a locale whose list
# separator is ';' splits a comma file at ';', quotes or not; tab and line breaks split everywhere.
_SPLIT = re.compile(r"([;,\t\r\n])")
# Skipped before the first character is judged: spaces of any kind (no-break, ideographic), zero-width
# characters, and quotes a split leaves at the front of a piece.
_TRIGGER = re.compile(rf'[\s"\u200b-\u200d\u2060\ufeff]*[{_FORMULA}]')


def spreadsheet_safe(value: str) -> str:
    """``value`` with a ``'`` put before every piece a spreadsheet could read as a formula.

    A piece is the whole value and whatever follows a ``;``, ``,``, tab or line break in it; a piece is
    neutralised when its first visible character is ``=``, ``+``, ``-`` or ``@`` (or their full-width
    forms), and a value that begins with a tab or line break is neutralised as a whole. NUL characters
    are dropped. The text is otherwise kept, so the CSV still says what the seller wrote.
    """
    value = value.replace("\0", "")
    pieces = _SPLIT.split(value)  # piece, separator, piece, ...
    for i in range(0, len(pieces), 2):
        if _TRIGGER.match(pieces[i]):
            pieces[i] = "'" + pieces[i]
    safe = "".join(pieces)
    return "'" + safe if value[:1] in ("\t", "\r", "\n") else safe


_CSV_COLUMNS = [
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
    "verdict",
    "since_verdict",
]


def _csv(candidates: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    # Every field quoted, and every text a spreadsheet could run neutralised: seller text stays text.
    writer = csv.DictWriter(buf, fieldnames=_CSV_COLUMNS, extrasaction="ignore", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for c in candidates:
        row = dict(c)
        verdict = c.get("verdict")
        row["verdict"] = f"{verdict['verdict']} {verdict['at']}" if verdict else ""
        row["since_verdict"] = "; ".join(c.get("since_verdict") or [])
        writer.writerow({k: spreadsheet_safe(v) if isinstance(v, str) else v for k, v in row.items()})
    return buf.getvalue()
