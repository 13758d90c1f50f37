"""Scrapy settings of the test nodes' Scrapyd: the project's, with the fake auction houses' spiders."""

from spiders.settings import *  # noqa: F403
from spiders.settings import SPIDER_MODULES as _PROJECT_SPIDERS

SPIDER_MODULES = [*_PROJECT_SPIDERS, "tests.node_sites"]
