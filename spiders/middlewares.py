"""Downloader middlewares that keep the crawler off non-public addresses (see spiders.addresses)."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import Request, Response
from twisted.internet.error import DNSLookupError

from .addresses import (
    Allowance,
    PublicOnlyResolver,
    Refused,
    address_problem,
    installed_resolver,
    url_problem,
)

__all__ = ["PublicAddressMiddleware", "ConnectedAddressMiddleware", "allowance_of"]


def allowance_of(crawler: Crawler) -> Allowance:
    """The host:port pairs this crawler may fetch whatever their address: LOOTWATCH_ALLOW_HOSTS, plus a
    spider's own ``allow_hosts`` (the demo houses allow their server)."""
    entries = crawler.settings.getlist("LOOTWATCH_ALLOW_HOSTS")
    return Allowance([*entries, *getattr(crawler.spider, "allow_hosts", ())])


class _Refusing:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self._allowance: Allowance | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler):
        return cls(crawler)

    @property
    def allowance(self) -> Allowance:
        if self._allowance is None:  # the spider exists only once the crawl has begun
            self._allowance = allowance_of(self.crawler)
            self._resolver = installed_resolver(self._allowance)
        return self._allowance

    @property
    def resolver(self) -> PublicOnlyResolver:
        """The process's resolver, with this crawler's allowance added to what it lets through."""
        _ = self.allowance
        return self._resolver

    def refuse(self, url: str, reason: str) -> Refused:
        """Count and record one refusal (one ``errors`` row, stage "refused"); the caller raises it."""
        self.crawler.stats.inc_value("lootwatch/refused")
        recorder = getattr(self.crawler, "lootwatch_run", None)
        if recorder is not None:
            recorder.error("refused", url, reason)
        return Refused(reason)


class PublicAddressMiddleware(_Refusing):
    """Refuse, before any lookup, requests whose URL alone shows a non-public destination: other schemes,
    local files, names of this machine, non-public addresses in any spelling, and hosts another spider
    of this process may reach but this one may not."""

    def process_request(self, request: Request) -> None:
        allowance = self.allowance
        allow_files = getattr(self.crawler.spider, "allow_file_urls", False)
        reason = url_problem(request.url, allow_files, allowance, others=self.resolver.allowance)
        if reason is not None:
            raise self.refuse(request.url, reason)


class ConnectedAddressMiddleware(_Refusing):
    """Record the lookups PublicOnlyResolver refused as refusals of their request, and refuse any answer
    that came from a non-public address all the same (the check on the address actually connected to).

    Sits next to the downloader, so a refused lookup is not retried and a refused answer is never written
    to the WARC files or parsed. Only Twisted's download handlers resolve through the reactor, so a
    crawl configured with another handler for http or https does not start.
    """

    TWISTED_HANDLERS = ("scrapy.core.downloader.handlers.http11.", "scrapy.core.downloader.handlers.http2.")

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        handlers = {
            **crawler.settings.getdict("DOWNLOAD_HANDLERS_BASE"),
            **crawler.settings.getdict("DOWNLOAD_HANDLERS"),
        }
        for scheme in ("http", "https"):
            handler = handlers.get(scheme)
            name = handler if isinstance(handler, str) else f"{handler.__module__}.{handler.__qualname__}"
            if handler and not name.startswith(self.TWISTED_HANDLERS):
                raise ValueError(
                    f"DOWNLOAD_HANDLERS[{scheme!r}] = {name}: lootwatch checks addresses in Twisted's name "
                    "resolver, which only the HTTP/1.1 and HTTP/2 handlers use"
                )

    def process_exception(self, request: Request, exception: Exception) -> None:
        if not isinstance(exception, DNSLookupError | CannotResolveHostError):
            return None
        host = urlsplit(request.url).hostname or ""
        reason = self.resolver.take_refusal(host)
        if reason is not None:
            raise self.refuse(request.url, reason)
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        ip = getattr(response, "ip_address", None)
        if ip is None or request.meta.get("proxy") or self.allowance.allows_url(request.url):
            return response
        problem = address_problem(ip)
        if problem:
            raise self.refuse(request.url, f"the answer came from {ip}, which is {problem}")
        return response
