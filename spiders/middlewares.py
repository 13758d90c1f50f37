"""Downloader middlewares."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def refusal(
    url: str, allow_private: bool, allow_files: bool, allow_hosts: frozenset[str] = frozenset()
) -> str | None:
    """Why lootwatch must not fetch ``url``, or None when it may.

    Hostile pages point image URLs at the crawler's own network (cloud metadata at 169.254.169.254,
    loopback services, private ranges) or at local files; those are refused unless configured: every
    private address (``allow_private``) or named hosts only (``allow_hosts``, "host:port" or "host").
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        return None if allow_files else "file: URLs are only read by registry imports"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not fetched"
    host = (parts.hostname or "").lower()
    if not host:
        return "URL has no host"
    if allow_private or host in allow_hosts or f"{host}:{parts.port}" in allow_hosts:
        return None
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return f"host {host} is this machine"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not ip.is_global:
        return f"address {ip} is not public (set LOOTWATCH_ALLOW_PRIVATE to allow)"
    return None


class PublicAddressMiddleware:
    """Refuse requests to non-public addresses and local files, counting and recording each refusal."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.allow_private = crawler.settings.getbool("LOOTWATCH_ALLOW_PRIVATE")
        self.allow_hosts = frozenset(h.lower() for h in crawler.settings.getlist("LOOTWATCH_ALLOW_HOSTS"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PublicAddressMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        allow_files = getattr(self.crawler.spider, "allow_file_urls", False)
        reason = refusal(request.url, self.allow_private, allow_files, self.allow_hosts)
        if reason is None:
            return None
        self.crawler.stats.inc_value("lootwatch/refused")
        recorder = getattr(self.crawler, "lootwatch_run", None)
        if recorder is not None:
            recorder.error("refused", request.url, reason)
        raise IgnoreRequest(reason)
