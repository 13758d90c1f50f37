"""A site that fails, for ``lootwatch daily`` run as the systemd unit runs it.

``FailingSite`` answers every request with 500 on 127.0.0.1. ``FailingSiteSpider`` (``failing_site``)
crawls the URL in the LOOTWATCH_TEST_SITE setting; a lootwatch.toml lists this module in ``[scrapy]
SPIDER_MODULES`` so that ``lootwatch daily`` crawls it among the enabled sites.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler

from scrapy.http import Request

from seeds.demo.server import LoopbackServer
from spiders.base import StructuredDataSpider


class _Broken(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        return None

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"down for maintenance"
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FailingSite(LoopbackServer):
    """Every page is a 500."""

    def __init__(self) -> None:
        super().__init__(_Broken)


class FailingSiteSpider(StructuredDataSpider):
    name = "failing_site"
    lot_links = "a.lot"

    async def start(self) -> AsyncIterator[Request]:
        yield self.request(f"{self.settings.get('LOOTWATCH_TEST_SITE')}/list", self.parse)
