"""Run spiders in this process, stage after stage (a registry import before the crawls that need it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from twisted.internet import defer

__all__ = ["project_settings", "spider_names", "run_stages", "user_agent"]


def project_settings(db: str | Path, data_dir: str | Path, **overrides: Any) -> Settings:
    """The project's Scrapy settings with lootwatch's paths and any overrides applied."""
    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    settings.set("LOOTWATCH_DB", str(db), priority="cmdline")
    settings.set("LOOTWATCH_DATA_DIR", str(data_dir), priority="cmdline")
    settings.set("FILES_STORE", str(Path(data_dir) / "originals"), priority="cmdline")
    for key, value in overrides.items():
        settings.set(key, value, priority="cmdline")
    if "LOOTWATCH_CONTACT_URL" in overrides and "USER_AGENT" not in overrides:
        settings.set("USER_AGENT", user_agent(str(overrides["LOOTWATCH_CONTACT_URL"])), priority="cmdline")
    return settings


def user_agent(contact_url: str) -> str:
    """An honest User-Agent: who crawls, why, and where to reach the operator."""
    return f"lootwatch/0.1 (heritage-crime research crawler; +{contact_url})"


def spider_names(settings: Settings, kind: str | None = None) -> list[str]:
    """Names of the project's spiders, optionally only those of one kind ("market" or "registry")."""
    loader = SpiderLoader.from_settings(settings)
    return [n for n in loader.list() if kind is None or getattr(loader.load(n), "kind", "market") == kind]


def run_stages(settings: Settings, stages: list[list[tuple[str, dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Run each stage's spiders together, stages one after another; return every crawler's stats.

    The Twisted reactor cannot be restarted, so this runs once per process.
    """
    process = CrawlerProcess(settings)
    crawlers = []

    @defer.inlineCallbacks
    def chain():
        try:
            for stage in stages:
                runs = []
                for name, kwargs in stage:
                    crawler = process.create_crawler(name)
                    crawlers.append(crawler)
                    runs.append(process.crawl(crawler, **kwargs))
                yield defer.DeferredList(runs)
        finally:
            _stop_reactor()

    chain()
    process.start(stop_after_crawl=False)
    return [dict(c.stats.get_stats()) if c.stats else {} for c in crawlers]


def _stop_reactor() -> None:
    from twisted.internet import reactor

    if reactor.running:
        reactor.callLater(0, reactor.stop)
