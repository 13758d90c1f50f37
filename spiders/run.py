"""Run spiders in this process, stage after stage (a registry import before the crawls that need it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.reactor import install_reactor
from twisted.internet import defer, task
from twisted.python import failure

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


def run_stages(
    settings: Settings,
    stages: list[list[tuple[str, dict[str, Any]]]],
    progress: Callable[[list[tuple[str, dict[str, Any]]]], None] | None = None,
    every: float = 1.0,
) -> list[dict[str, Any]]:
    """Run each stage's spiders together, stages one after another; return every crawler's stats.

    A spider that could not start (its crawl failed before it ran) has the reason in its stats under
    ``lootwatch/could_not_start``, and the others run. ``progress``, when given, is called every
    ``every`` seconds with the ``(name, stats)`` of each crawler started so far, and once at the end.
    The Twisted reactor cannot be restarted, so this runs once per process.
    """
    process = CrawlerProcess(settings)
    if settings.getbool("TWISTED_REACTOR_ENABLED", True) and settings.get("TWISTED_REACTOR"):
        # Installed here rather than by the first crawler: a first spider failing in its own __init__
        # would otherwise leave the others without one.
        install_reactor(settings["TWISTED_REACTOR"], settings.get("ASYNCIO_EVENT_LOOP"))
    run = _Stages(process, progress, every)
    run.chain(stages)
    process.start(stop_after_crawl=False)
    results = [(c.spidercls.name, run.stats(c)) for c in run.crawlers]
    if progress is not None:
        progress(results)
    return [stats for _, stats in results]


class _Stages:
    """One ``run_stages`` call: its crawlers, why any could not start, and the progress ticker."""

    def __init__(self, process: CrawlerProcess, progress: Callable | None, every: float):
        self.process, self.progress, self.every = process, progress, every
        self.crawlers: list[Any] = []
        self.not_started: dict[int, str] = {}
        self.ticker: task.LoopingCall | None = None

    def stats(self, crawler: Any) -> dict[str, Any]:
        """The crawler's stats so far, with why it could not start if it could not."""
        try:
            stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
        except RuntimeError:  # Scrapy sets a crawler's stats when its crawl starts: this one never did
            stats = {}
        if id(crawler) in self.not_started:
            stats["lootwatch/could_not_start"] = self.not_started[id(crawler)]
        return stats

    def could_not_start(self, reason: failure.Failure, crawler: Any) -> None:
        # Consumed here, so the other spiders go on and the caller names this one and why.
        self.not_started[id(crawler)] = f"{reason.type.__name__}: {reason.getErrorMessage()}"

    def start(self, name: str, kwargs: dict[str, Any]) -> defer.Deferred:
        crawler = self.process.create_crawler(name)
        self.crawlers.append(crawler)
        try:
            return self.process.crawl(crawler, **kwargs).addErrback(self.could_not_start, crawler)
        except Exception:  # noqa: BLE001 - raised before any Deferred was made
            self.could_not_start(failure.Failure(), crawler)
            return defer.succeed(None)

    def tick(self) -> None:
        self.progress([(c.spidercls.name, self.stats(c)) for c in self.crawlers])

    @defer.inlineCallbacks
    def chain(self, stages: list[list[tuple[str, dict[str, Any]]]]):
        try:
            for stage in stages:
                runs = [self.start(name, kwargs) for name, kwargs in stage]
                if self.progress is not None and self.ticker is None:
                    self.ticker = task.LoopingCall(self.tick)  # after install_reactor: it imports the reactor
                    self.ticker.start(self.every, now=False)
                yield defer.DeferredList(runs)
        finally:
            if self.ticker is not None and self.ticker.running:
                self.ticker.stop()
            _stop_reactor()


def _stop_reactor() -> None:
    from twisted.internet import reactor

    if reactor.running:
        reactor.callLater(0, reactor.stop)
    else:  # everything failed before the reactor started: stop it as soon as it does, or it runs forever
        reactor.callWhenRunning(reactor.stop)
