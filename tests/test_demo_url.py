"""``lootwatch crawl --demo-url`` crawls the demo houses only; they drop politeness and may fetch their
own server, and no other spider of the process inherits either."""

from click.testing import CliRunner

import spiders.run
from lootwatch.cli import main
from spiders.markets.catawiki import CatawikiSpider
from spiders.markets.demo_aurora import DemoAuroraSpider
from spiders.run import project_settings


def test_demo_url_crawls_only_the_demo_houses_and_changes_no_setting(monkeypatch, tmp_path):
    seen = {}

    def run_stages(settings, stages, **kwargs):
        seen.update(settings=settings, stages=stages)
        return [{} for _ in stages[0]]

    monkeypatch.setattr(spiders.run, "run_stages", run_stages)
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "l.db"), "crawl", "--demo-url", "http://127.0.0.1:8123"]
    )
    # This stand-in runs no spider, so each house is a failed site (it recorded no run).
    assert result.exit_code == 1 and "demo_aurora could not start: no run was recorded" in result.output
    names = [name for name, _ in seen["stages"][0]]
    assert sorted(names) == ["demo_aurora", "demo_bazaar", "demo_meridian"]
    settings = seen["settings"]
    assert settings.getfloat("DOWNLOAD_DELAY") == 1.0 and settings.getbool("AUTOTHROTTLE_ENABLED")
    assert settings.getlist("LOOTWATCH_ALLOW_HOSTS") == []


def test_only_a_demo_house_relaxes_its_politeness(tmp_path):
    demo, real = project_settings(tmp_path / "l.db", tmp_path), project_settings(tmp_path / "l.db", tmp_path)
    DemoAuroraSpider.update_settings(demo)
    CatawikiSpider.update_settings(real)
    assert demo.getfloat("DOWNLOAD_DELAY") == 0 and not demo.getbool("AUTOTHROTTLE_ENABLED")
    assert real.getfloat("DOWNLOAD_DELAY") == 1.0 and real.getbool("AUTOTHROTTLE_ENABLED")


def test_a_demo_house_may_fetch_its_server_and_nothing_else():
    assert DemoAuroraSpider(base_url="http://127.0.0.1:8123/").allow_hosts == ["127.0.0.1:8123"]
    assert DemoAuroraSpider(base_url="http://[::1]:9000").allow_hosts == ["[::1]:9000"]


def test_demo_url_beside_a_real_site_is_refused(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "--db",
            str(tmp_path / "l.db"),
            "crawl",
            "ebay_browse",
            "demo_aurora",
            "--demo-url",
            "http://127.0.0.1:8123",
        ],
    )
    assert result.exit_code == 1 and "demo houses only" in result.output
