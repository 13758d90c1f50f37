"""Alerts through Apprise, to a webhook on 127.0.0.1: a crawl that stored nothing, a site whose lots fell
by more than half, a failed stage (SMTP down among them), the day's summary; and `lootwatch daily` run as
the systemd unit runs it, against a failing site, with SMTP down."""

from __future__ import annotations

import json
import os
import shlex
import socket
import sqlite3
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace

import pytest

from lootwatch.config import ConfigError, load_config
from matcher.db import connect, store
from reports.alerts import DailyWatch, send_alert
from reports.digest import write_report
from reports.mail import SmtpSettings
from seeds.demo.server import LoopbackServer

from .conftest import LOOTWATCH, ROOT
from .review_db import hostile_db


class Webhook(LoopbackServer):
    """An HTTP endpoint posing as a chat service's webhook: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.arrived = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.posts.append(json.loads(body))
                hook.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)

    @property
    def apprise_url(self) -> str:
        return f"json://{self.host}/hook"


@pytest.fixture
def webhook():
    with Webhook() as hook:
        yield hook


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crawl_run(db, site: str, lots: int, started: str | None = None, errors: list[str] = ()) -> None:
    run_id = store.start_run(db, site, "market")
    for reason in errors:
        store.record_error(db, run_id, "fetch", f"https://{site}.example/list", reason)
    store.finish_run(db, run_id, "finished", {"lootwatch/store/items": lots, "lootwatch/errors": len(errors)})
    if started:  # an earlier day's run
        db.execute("UPDATE crawl_runs SET started_at = ? WHERE id = ?", [started, run_id])


def config(tmp_path, urls: list[str], review_url: str = "") -> SimpleNamespace:
    return SimpleNamespace(db=tmp_path / "a.db", alert_urls=urls, alert_summary=True, review_url=review_url)


def test_alert_for_a_crawl_that_stored_nothing(tmp_path, webhook):
    db = connect.open_db(tmp_path / "a.db")
    crawl_run(db, "dealer_one", 40, started="2026-01-01T05:30:00+00:00")
    watch = DailyWatch(config(tmp_path, [webhook.apprise_url]), say=lambda _: None)
    crawl_run(db, "dealer_one", 0, errors=["HTTP 403"])
    crawl_run(db, "steady_site", 12)
    disabled = store.start_run(db, "catawiki", "market")  # disabled on purpose: starts nothing
    store.finish_run(db, disabled, "finished", {"lootwatch/site_disabled": 1})
    stopped = store.start_run(db, "dealer_two", "market")
    store.finish_run(db, stopped, "shutdown", {"lootwatch/store/items": 3})
    delivery = watch.finish()
    assert delivery.sent == 1 and len(webhook.posts) == 1
    post = webhook.posts[0]
    assert post["type"] == "failure" and "2 problems" in post["title"]
    lines = post["message"].splitlines()
    assert lines[:2] == [
        "crawl of dealer_one stored nothing (0 lots seen, 1 error; first error: HTTP 403)",
        "crawl of dealer_two ended early (shutdown) after 3 lots",
    ]
    assert not any("steady_site" in line or "catawiki" in line for line in lines)


def test_alert_for_a_lot_count_that_fell_by_more_than_half(tmp_path, webhook):
    db = connect.open_db(tmp_path / "a.db")
    for site in ("halved", "shrunk"):
        crawl_run(db, site, 40, started="2026-01-01T05:30:00+00:00")
    watch = DailyWatch(config(tmp_path, [webhook.apprise_url]), say=lambda _: None)
    crawl_run(db, "halved", 20)  # half: not more than half
    crawl_run(db, "shrunk", 19)
    watch.finish()
    (post,) = webhook.posts
    problems = [line for line in post["message"].splitlines() if line.startswith("crawl of")]
    assert problems == [
        "crawl of shrunk: 19 lots, down from 40 in the previous run (2026-01-01T05:30:00+00:00): "
        "the site's layout may have changed, or the crawler is blocked"
    ]


def test_alert_for_a_failed_stage_with_smtp_down(tmp_path, webhook):
    db, _ = hostile_db(tmp_path / "a.db")
    smtp = SmtpSettings("127.0.0.1", closed_port(), "none")
    with pytest.raises(RuntimeError, match="the report stage failed"):
        with DailyWatch(config(tmp_path, [webhook.apprise_url]), say=lambda _: None):
            try:
                write_report(db, tmp_path / "out", "", "lw@example.org", ["a@example.org"], smtp=smtp)
            except Exception as exc:
                raise RuntimeError(f"daily: the report stage failed: {exc}") from exc
    (post,) = webhook.posts
    first, summary = post["message"].splitlines()[:2]
    assert first.startswith("daily: the report stage failed: 127.0.0.1:") and "ConnectionRefused" in first
    assert summary.startswith("digest ") and "not e-mailed" in summary


def test_the_days_summary_goes_to_the_alert_urls(tmp_path, webhook):
    db, cid = hostile_db(tmp_path / "a.db")
    cfg = config(tmp_path, [webhook.apprise_url], review_url="https://review.unit.example")
    watch = DailyWatch(cfg, say=lambda _: None)
    write_report(db, tmp_path / "out", cfg.review_url, "lw@example.org", [])
    watch.finish()
    (post,) = webhook.posts
    assert post["type"] == "info" and post["title"].endswith(": done")
    assert post["message"].startswith("digest ")
    assert "1 new candidate (1 strong, 0 to review), written, not e-mailed" in post["message"]
    assert "worklist: https://review.unit.example/-/lootwatch/worklist" in post["message"]


def test_nothing_is_sent_without_alert_urls(tmp_path):
    connect.open_db(tmp_path / "a.db")
    watch = DailyWatch(config(tmp_path, []), say=lambda _: None)
    watch.stage_failed("crawl", "boom")
    assert watch.finish().sent == 0


def test_an_undeliverable_alert_is_one_line_and_counted(tmp_path, webhook):
    from .failing_site import FailingSite

    db = connect.open_db(tmp_path / "a.db")
    warned: list[str] = []
    broken = FailingSite()  # answers every request with an error status
    urls = [
        f"json://{broken.host}/hook",
        f"json://127.0.0.1:{closed_port()}/hook",
        f"json://lootwatch:secrettoken@127.0.0.1:{closed_port()}/hook",  # a password: masked
        "nosuchservice://x",
        webhook.apprise_url,
    ]
    try:
        delivery = send_alert(urls, "t", "b", db=db, warn=warned.append)
    finally:
        broken.close()
    assert delivery.sent == 1 and len(webhook.posts) == 1
    assert len(warned) == 4 and warned == delivery.failed
    assert "501" in warned[0] and "Connection refused" in warned[1]
    for line in warned:
        assert (
            "\n" not in line and "Traceback" not in line and line.startswith("lootwatch: alert not delivered")
        )
        assert "secrettoken" not in line
    assert "not a URL Apprise can send to" in warned[3]
    rows = list(db.query("SELECT stage, url, reason FROM errors"))
    assert [r["stage"] for r in rows] == ["alert"] * 4
    assert all("secret" not in (r["url"] + r["reason"]).lower() for r in rows)


def test_alert_urls_from_the_config_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOTWATCH_ALERT_URLS", "slack://a/b/c  ntfy://ntfy.unit.example/lootwatch")
    cfg_file = tmp_path / "lootwatch.toml"
    cfg_file.write_text('[alerts]\nurls = ["json://127.0.0.1:9/hook"]\nsummary = false\n')
    cfg = load_config(cfg_file)
    assert cfg.alert_urls == [
        "json://127.0.0.1:9/hook",
        "slack://a/b/c",
        "ntfy://ntfy.unit.example/lootwatch",
    ]
    assert cfg.alert_summary is False
    for bad in ('[alerts]\nurls = "json://x"\n', "alerts = 3\n", "[alerts]\nsummary = 1\n"):
        cfg_file.write_text(bad)
        with pytest.raises(ConfigError, match="alerts"):
            load_config(cfg_file)


def systemd_environment(path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (comments and blank lines skipped)."""
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip().removeprefix('"').removesuffix('"')
    return env


def test_daily_as_the_systemd_unit_runs_it_alerts_with_smtp_down(tmp_path, webhook, monkeypatch):
    """The "done when" run: a site that fails, SMTP down, an Apprise endpoint up: exit status 1 and the
    alert arrives, naming the failed stage and the site."""
    from .failing_site import FailingSite

    unit = (ROOT / "deploy" / "lootwatch-daily.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    args = shlex.split(exec_start.removeprefix("ExecStart="))[1:]
    assert args[0] == "--config" and args[2:] == ["daily"]
    cfg_file = tmp_path / "lootwatch.toml"
    args[1] = str(cfg_file)
    env_file = tmp_path / "env"  # the unit's EnvironmentFile: the alert URL is a secret
    env_file.write_text(f'# secrets\nLOOTWATCH_ALERT_URLS="{webhook.apprise_url}"\n')
    with FailingSite() as site:
        cfg_file.write_text(
            'db = "l.db"\ndata_dir = "data"\nreport_dir = "reports"\nmail_to = ["analyst@unit.example"]\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {closed_port()}\nsmtp_security = "none"\n'
            "[scrapy]\n"
            'SPIDER_MODULES = ["spiders.markets", "spiders.registries", "tests.failing_site"]\n'
            f'LOOTWATCH_TEST_SITE = "{site.url}"\nLOOTWATCH_ALLOW_HOSTS = ["{site.host}"]\n'
            "RETRY_TIMES = 0\nDOWNLOAD_DELAY = 0\nAUTOTHROTTLE_ENABLED = false\n"
        )
        # A flagged lot from an earlier crawl: today's digest has a candidate to mail.
        db = connect.open_db(tmp_path / "l.db")
        store.upsert_listing(
            db,
            {
                "site": "failing_site",
                "lot_id": "1",
                "title": "Palmyrene limestone funerary relief",
                "description": "Syria. Acquired in the 1990s from a reliable supplier. No export documents.",
                "content_sha256": "x",
            },
        )
        db.conn.close()
        env = {k: v for k, v in os.environ.items() if k not in ("EBAY_OAUTH_TOKEN", "LOOTWATCH_ALERT_URLS")}
        env.update(systemd_environment(env_file), PYTHONPATH=str(ROOT))
        proc = subprocess.run(
            [*LOOTWATCH, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "daily: the report stage failed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert webhook.arrived.wait(5) and len(webhook.posts) == 1
    post = webhook.posts[0]
    assert post["type"] == "failure"
    lines = post["message"].splitlines()
    assert any(
        line.startswith("daily: the report stage failed: the digest was not sent (127.0.0.1:")
        for line in lines
    )
    assert any(
        line.startswith("crawl of failing_site stored nothing (0 lots seen,") and "HTTP 500" in line
        for line in lines
    )
    assert any(line.startswith("crawl of ebay_browse stored nothing") for line in lines)
    assert not any("exited with status" in line for line in lines)  # a consequence, not a problem
    assert "alerts: sent to 1 of 1 alert URLs" in proc.stdout
    con = sqlite3.connect(tmp_path / "l.db")
    assert con.execute("SELECT mode FROM reports").fetchall() == [("failed",)]


def test_a_daily_run_whose_config_cannot_be_read_still_alerts(tmp_path, webhook):
    cfg_file = tmp_path / "lootwatch.toml"
    cfg_file.write_text('db = "l.db"\nthis is not toml\n')
    env = {**os.environ, "LOOTWATCH_ALERT_URLS": webhook.apprise_url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [*LOOTWATCH, "--config", str(cfg_file), "daily"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert webhook.arrived.wait(5)
    (post,) = webhook.posts
    assert "did not start" in post["title"] and "the config could not be read" in post["message"]


def test_daily_refuses_a_bad_database_before_any_stage(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LOOTWATCH_ALERT_URLS", None)
    proc = subprocess.run(
        [*LOOTWATCH, "--db", str(tmp_path / "empty.db"), "daily", "--dry-run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "== crawl" not in proc.stdout
    assert len(proc.stderr.splitlines()) == 1 and "empty" in proc.stderr
    assert not (tmp_path / "data").exists()
