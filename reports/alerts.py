"""Alerts where people work: chat and paging services through Apprise, besides the e-mailed digest.

Each URL in ``[alerts] urls`` of lootwatch.toml (or in LOOTWATCH_ALERT_URLS) is an Apprise URL: Slack,
Microsoft Teams, Matrix, Signal, ntfy, a plain JSON webhook, ... (https://github.com/caronc/apprise/wiki).
``DailyWatch`` watches one ``lootwatch daily``: at its end it sends one message saying, one line each,
which stage failed and why, which site stored nothing and which saw fewer than half the lots of its
previous run, followed by the day's summary (or the summary alone on a good day). It uses no SMTP, so an
alert goes out when the mail server is down. An alert that cannot be delivered is one line on standard
error and one row of the ``errors`` table (stage ``alert``), never a traceback, and never stops the run.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import socket
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from matcher.db.connect import now
from matcher.db.store import record_error

from .digest import db_path
from .health import crawl_problems

__all__ = ["Delivery", "send_alert", "DailyWatch", "daily_summary"]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Delivery:
    """What became of one alert: how many URLs took it, and one line per URL that did not."""

    sent: int = 0
    failed: list[str] = field(default_factory=list)


def send_alert(
    urls: list[str],
    title: str,
    body: str,
    failure: bool = True,
    db: Any = None,
    warn: Callable[[str], None] = _stderr,
) -> Delivery:
    """Send ``title`` and ``body`` to every Apprise URL, each on its own (one that fails stops no other).

    ``failure`` marks the message as a failure (services that colour or page by type do so). Each URL
    that does not take it is reported to ``warn`` in one line and, with ``db``, kept in ``errors``; the
    URL is shown with its secrets masked.
    """
    delivery = Delivery()
    if not urls:
        return delivery
    import apprise  # loaded only when alerts are configured: it brings every service's module

    kind = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.INFO
    for n, url in enumerate(urls, 1):
        target = f"alert URL {n} ({url.split(':', 1)[0][:20]}:)"
        servers = apprise.Apprise()
        try:
            known = servers.add(url)
        except Exception as exc:  # noqa: BLE001 - a malformed URL is a delivery failure, not a crash
            known, reason = False, f"{type(exc).__name__}: {exc}"
        else:
            reason = "not a URL Apprise can send to (see the Apprise wiki for its services)"
        if known:
            target = next(iter(servers)).url(privacy=True).split("?", 1)[0]
            ok, reason = _notify(apprise, servers, title, body, kind)
            if ok:
                delivery.sent += 1
                continue
        line = f"lootwatch: alert not delivered to {target}: {reason}"
        delivery.failed.append(line)
        warn(line)
        if db is not None:
            try:
                record_error(db, None, "alert", target, reason)
            except Exception:  # noqa: BLE001 - the line above already says it; a locked DB must not crash
                pass
    return delivery


def _notify(apprise: Any, servers: Any, title: str, body: str, kind: Any) -> tuple[bool, str]:
    """Send through one Apprise service; (True, "") or (False, the reason Apprise logged).

    The text is sent as plain text: Apprise escapes it for services that read HTML or Markdown, so a
    seller's words in an error cannot become markup or a link there."""
    logger = logging.getLogger("apprise")
    propagate = logger.propagate
    logger.propagate = False  # Apprise's own log lines would repeat the reason through Scrapy's handler
    try:
        with apprise.LogCapture(level=logging.DEBUG, fmt="%(levelname)s %(message)s") as captured:
            try:
                sent = servers.notify(
                    body=body, title=title, notify_type=kind, body_format=apprise.NotifyFormat.TEXT
                )
                ok = bool(sent)
            except Exception as exc:  # noqa: BLE001 - a service module's bug is a failed delivery
                return False, f"{type(exc).__name__}: {exc}"
            log = captured.getvalue()
    finally:
        logger.propagate = propagate
    if ok:
        return True, ""
    warnings = re.findall(r"^(?:WARNING|ERROR|CRITICAL) (.+)$", log, re.M)
    reason = " ".join(warnings[-1].split()) if warnings else "the service refused it"
    # The socket's own words ("[Errno 111] Connection refused") are logged only at debug level.
    cause = re.search(r"\[Errno -?\d+\][^\"')\n]*", log)
    return False, f"{reason} ({cause.group(0).strip()})" if cause else reason


def daily_summary(db: Any, since: str, review_url: str) -> str | None:
    """One line on the digest written since ``since``: candidates, strong and to review, whether it went
    out, and where the worklist is; None if no digest was written."""
    report = next(
        db.query("SELECT * FROM reports WHERE created_at >= ? ORDER BY id DESC LIMIT 1", [since]), None
    )
    if report is None:
        return None
    ids = json.loads(report["candidate_ids"] or "[]")
    tiers = Counter(
        tier
        for (tier,) in db.execute(
            "SELECT tier FROM candidates WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
        )
    )
    state = {
        "sent": f"e-mailed to {report['recipients']}",
        "failed": "not e-mailed (the mail server did not take it), goes out with the next run",
        "nothing-new": "nothing new, no e-mail",
    }.get(report["mode"], "written, not e-mailed")
    where = (
        f"worklist: {review_url.rstrip('/')}/-/lootwatch/worklist"
        if review_url
        else f"review UI: lootwatch --db {shlex.quote(db_path(db))} review"
    )
    return (
        f"digest {report['report_date']}: {len(ids)} new candidate{'s' if len(ids) != 1 else ''} "
        f"({tiers['strong']} strong, {tiers['review']} to review), {state}; {where}"
    )


class DailyWatch:
    """Watches one ``lootwatch daily`` and sends its alerts at the end (nothing without alert URLs).

    Use it around the stages; a stage that fails either calls ``stage_failed`` or raises through the
    ``with`` block (its message is then the line). The exception is never swallowed, so the exit status
    stays the run's.
    """

    def __init__(
        self, cfg: Any, say: Callable[[str], None] = print, warn: Callable[[str], None] = _stderr
    ) -> None:
        self.cfg = cfg
        self.started = now()
        self.failures: list[str] = []
        self.explained = False  # the exit status is that of the crawl's problems, which are listed anyway
        self.say, self.warn = say, warn

    def stage_failed(self, stage: str, reason: str) -> None:
        """Record that ``stage`` failed because of ``reason`` (one line)."""
        self.failures.append(f"daily: the {stage} stage failed: {' '.join(reason.split())}")

    def __enter__(self) -> DailyWatch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, KeyboardInterrupt):
            self.failures.append("daily: interrupted (Ctrl-C or SIGINT)")
        elif isinstance(exc, SystemExit):
            if exc.code not in (0, None) and not self.failures and not self.explained:
                self.failures.append(f"daily: exited with status {exc.code}")
        elif exc is not None:
            self.failures.append(" ".join(str(exc).split()) or type(exc).__name__)
        self.finish()

    def finish(self) -> Delivery:
        """Send the failures, the crawl's problems and the summary; returns what was delivered."""
        urls = list(getattr(self.cfg, "alert_urls", []) or [])
        if not urls:
            return Delivery()
        lines, summary, db = list(self.failures), None, None
        path = Path(self.cfg.db)
        try:
            if path.is_file() and path.stat().st_size > 0:
                from matcher.db.connect import open_db

                db = open_db(path)
                lines += crawl_problems(db, self.started)
                summary = daily_summary(db, self.started, self.cfg.review_url)
        except Exception as exc:  # noqa: BLE001 - the alert must go out whatever the database's state
            lines.append(
                f"the database {path} could not be read for the crawl's health: {' '.join(str(exc).split())}"
            )
        host = socket.gethostname()
        if lines:
            title = f"lootwatch daily on {host}: {len(lines)} problem{'s' if len(lines) != 1 else ''}"
            body = "\n".join(lines + ([summary] if summary else []))
        elif summary and self.cfg.alert_summary:
            title, body = f"lootwatch daily on {host}: done", summary
        else:
            return Delivery()
        delivery = send_alert(urls, title, f"{body}\n(database {path})", bool(lines), db, self.warn)
        self.say(f"alerts: sent to {delivery.sent} of {len(urls)} alert URLs")
        return delivery
