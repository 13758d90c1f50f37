"""The sites lootwatch knows (``seeds/sites.yaml``): whether each may be crawled, and why not.

Every site records its robots.txt and terms-of-use status. A site whose terms forbid crawling ships
``enabled: false`` with the reason; its spider then starts nothing (the reason is recorded as an error of
the run) unless the operator lists it in LOOTWATCH_ENABLE_SITES, having obtained permission.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from scrapy.crawler import Crawler

__all__ = ["load_sites", "site", "SiteStatusMiddleware"]


def load_sites(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Every site entry by name; the bundled file unless ``path`` is given."""
    return _load(str(path or files("seeds").joinpath("sites.yaml")))


@cache
def _load(path: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    sites = data.get("sites") or []
    out = {}
    for entry in sites:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ValueError(f"{path}: every site needs a name")
        if entry["name"] in out:
            raise ValueError(f"{path}: site {entry['name']!r} listed twice")
        out[entry["name"]] = entry
    return out


def site(name: str) -> dict[str, Any] | None:
    """The entry of one site, or None for spiders not listed (the demo houses, registries)."""
    return load_sites().get(name)


class SiteStatusMiddleware:
    """Starts nothing for a disabled site, recording why; the operator can enable it explicitly."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SiteStatusMiddleware:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        entry = site(spider.name) or {}
        forced = spider.name in self.crawler.settings.getlist("LOOTWATCH_ENABLE_SITES")
        if entry.get("enabled", True) is False and not forced:
            reason = f"site disabled in seeds/sites.yaml: {entry.get('reason', 'no reason given')}"
            spider.logger.warning(reason)
            recorder = getattr(self.crawler, "lootwatch_run", None)
            if recorder is not None:
                recorder.error("site", entry.get("url"), reason)
            self.crawler.stats.set_value("lootwatch/site_disabled", 1)
            return
        async for thing in start:
            yield thing
