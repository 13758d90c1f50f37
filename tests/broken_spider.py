"""A market spider that cannot start (its settings are wrong), for the test of a site that fails before
it runs: listed in SPIDER_MODULES by that test's lootwatch.toml only."""

from __future__ import annotations

from spiders.base import LotSpider


class BrokenHouseSpider(LotSpider):
    name = "broken_house"

    def __init__(self, *args, **kwargs):
        raise ValueError("broken_house: no start URL configured")
