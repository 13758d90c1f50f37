"""Base classes every lootwatch spider builds on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from .addresses import Refused
from .incremental import Unchanged
from .items import ListingItem
from .node import on_node
from .structured import (
    LOT_TYPES,
    _first,
    _id_from_url,
    html_text,
    json_ld,
    lot_fields,
    microdata,
    opengraph,
    page_language,
    plain_text,
)


class LotSpider(scrapy.Spider):
    """A marketplace spider: requests carry an errback that records failures, items pass one hook.

    Attributes:
        start_urls: where the crawl begins.
        kind: "market" (listing sites) or "registry"; written to ``crawl_runs``.
    Hook:
        post_process_item(item, response): per-site fixes; return the item, or None to drop it (counted).
    """

    kind = "market"
    start_urls: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._listing_urls: set[str] = set()

    async def start(self) -> AsyncIterator[Request]:
        for url in self.start_urls:
            yield self.request(url, self.parse)

    def request(self, url: str, callback: Callable) -> Request:
        """A request whose failure is recorded against this run instead of only logged; requests for lot
        pages are marked so that an unchanged lot is not fetched again (spiders.incremental)."""
        lot = getattr(callback, "__name__", "") == "parse_lot"
        # Listing pages are fetched again by a resumed crawl, to find the lots that were in flight; a
        # set of this run's listing URLs keeps a site's pagination from looping.
        again = not lot and url not in self._listing_urls
        self._listing_urls.add(url)
        return Request(
            url, callback=callback, errback=self.on_error, meta={"lootwatch_lot": lot}, dont_filter=again
        )

    def follow_all(self, response: Response, urls: Iterable[str], callback: Callable) -> Iterator[Request]:
        for url in urls:
            yield self.request(response.urljoin(url), callback)

    def on_error(self, failure: Failure) -> None:
        if failure.check(Unchanged):
            return  # not an error: the lot is as it was (counted by the middleware)
        if failure.check(Refused):
            return  # recorded once, with its reason, where it was refused (spiders.middlewares)
        request = getattr(failure, "request", None)
        url = getattr(request, "url", None)
        if request is not None and not request.meta.get("lootwatch_lot"):
            # A listing page lost means lots unseen: this run cannot tell which lots have gone.
            self.crawler.stats.inc_value("lootwatch/errors/listing_pages")
        status = getattr(getattr(failure.value, "response", None), "status", None)
        if status is not None:
            self.record("fetch", url, f"HTTP {status}")
        else:
            self.record("fetch", url, f"{type(failure.value).__name__}: {failure.value}")

    def record(self, stage: str, url: str | None, reason: str) -> None:
        """Count and keep one error of this run (see spiders.runs.RunRecorder)."""
        recorder = getattr(self.crawler, "lootwatch_run", None)
        if recorder is not None:
            recorder.error(stage, url, reason)
        else:
            self.crawler.stats.inc_value("lootwatch/errors")

    def finish(self, fields: dict[str, Any], response: Response) -> Iterator[ListingItem]:
        """Make the item (site, URL, absolute photo URLs) and pass it through the hook."""
        fields.setdefault("url", response.url)
        fields["site"] = self.name
        fields["etag"] = _header(response, b"ETag")
        fields["last_modified"] = _header(response, b"Last-Modified")
        fields["image_urls"] = [response.urljoin(u) for u in fields.get("image_urls") or []]
        if not fields.get("lot_id"):
            self.crawler.stats.inc_value("lootwatch/items/no_lot_id")
            self.record("parse", response.url, "no lot id on the page")
            return
        item = self.post_process_item(ListingItem(**fields), response)
        if item is None:
            self.crawler.stats.inc_value("lootwatch/items/dropped_by_hook")
            return
        yield item

    def post_process_item(self, item: ListingItem, response: Response) -> ListingItem | None:
        return item


class StructuredDataSpider(LotSpider):
    """A site whose lot pages describe themselves in schema.org JSON-LD or microdata (Product,
    IndividualProduct, VisualArtwork, Offer, inside lists or ``@graph``), OpenGraph filling the gaps.

    Attributes:
        lot_links: CSS selector of the links to lot pages on start and listing pages.
        listing_links: CSS selector of links to more listing pages (sales, categories).
        next_page: CSS selector of the link to the next listing page.
        lot_types: schema.org types read as a lot.
        use_opengraph: take a missing title, description or photo from OpenGraph.
        house: the auction house or shop, written on every lot.
    Hook: ``post_process_item(item, response)`` (see LotSpider). Without ``lot_links`` every start URL
    is read as a lot page.
    """

    lot_links = ""
    listing_links = ""
    next_page = ""
    lot_types: tuple[str, ...] = LOT_TYPES
    use_opengraph = True
    house: str | None = None

    def parse(self, response: Response) -> Iterator[Any]:
        if not (self.lot_links or self.listing_links or self.next_page):
            yield from self.parse_lot(response)
            return
        for selector, callback in (
            (self.lot_links, self.parse_lot),
            (self.listing_links, self.parse),
            (self.next_page, self.parse),
        ):
            if selector:
                yield from self.follow_all(response, _hrefs(response, selector), callback)

    def parse_lot(self, response: Response) -> Iterator[ListingItem]:
        problems: list[str] = []
        fields = self.lot_data(response, problems)
        for problem in problems:  # a block skipped or unreadable: recorded, the lot taken from the rest
            self.record("parse", response.url, problem)
        if fields is None:
            self.record("parse", response.url, "no schema.org lot or OpenGraph data on the page")
            return
        yield from self.finish(fields, response)

    def lot_data(self, response: Response, problems: list[str] | None = None) -> dict[str, Any] | None:
        """The lot's fields from the page, or None if it shows no lot (no title and no photo). Structured
        data skipped as too large or unreadable is added to ``problems``, one line each."""
        fields = self.page_fields(response, problems)
        if not fields.get("title") and not fields.get("image_urls"):
            return None
        fields["lot_id"] = fields.get("lot_id") or _id_from_url(response.url)
        fields["house"] = plain_text(fields.get("house")) or self.house
        return fields

    def page_fields(self, response: Response, problems: list[str] | None = None) -> dict[str, Any]:
        """What the page's structured data says, OpenGraph filling the gaps; text fields as plain text
        (character references decoded, tags stripped), the description's references decoded."""
        report = problems.append if problems is not None else None
        nodes = json_ld(response, self.lot_types, report) or microdata(response, self.lot_types)
        fields = lot_fields(nodes[0], page_language(response)) if nodes else {}
        if self.use_opengraph:
            og = opengraph(response)
            fields["title"] = fields.get("title") or plain_text(_first(og.get("og:title")))
            fields["description_html"] = fields.get("description_html") or html_text(
                _first(og.get("og:description"))
            )
            fields["image_urls"] = fields.get("image_urls") or _as_list(og.get("og:image"))
        return fields


class SelectorSpider(StructuredDataSpider):
    """A site declared in ``seeds/sites.yaml`` (``spider: yaml``): CSS or XPath selectors per field,
    over whatever structured data the page also carries.

    Attributes (besides StructuredDataSpider's):
        fields: field name -> selector. CSS by default (``h1::text``, ``img.main::attr(src)``), or
            ``xpath:`` followed by an XPath. ``image_urls`` takes every match; ``description_html``
            the matched element's HTML; other fields the text of every match, joined.
    """

    fields: dict[str, str] = {}

    def page_fields(self, response: Response, problems: list[str] | None = None) -> dict[str, Any]:
        data = super().page_fields(response, problems)
        for name, selector in self.fields.items():
            found = _select(response, selector)
            if name == "image_urls":
                data[name] = [u.strip() for u in found.getall() if u.strip()]
            elif name == "description_html":
                data[name] = found.get()
            else:
                # The page's own text is decoded already; an attribute or text may still hold markup.
                text = plain_text(" ".join(_text_of(found)))
                data[name] = text or data.get(name)
        return data


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name) if hasattr(response, "headers") else None
    return value.decode("latin-1")[:200] if value else None


def _select(response: Response, selector: str):
    if selector.startswith("xpath:"):
        return response.xpath(selector[len("xpath:") :])
    return response.css(selector)


def _text_of(found) -> list[str]:
    """The text of each match: an element's whole text, a text node or attribute as it is."""
    return [str(m.root) if isinstance(m.root, str) else m.xpath("string()").get() or "" for m in found]


def _hrefs(response: Response, selector: str) -> list[str]:
    """Link targets: the matched strings if the selector picks an attribute, else the elements' href."""
    found = _select(response, selector)
    picks_value = "::attr(" in selector or selector.rstrip().endswith(("@href", "text()"))
    return [
        h.strip() for h in (found.getall() if picks_value else found.xpath("@href").getall()) if h.strip()
    ]


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


class DemoSpider(LotSpider):
    """A house of the bundled demo marketplace; its address comes from ``-a base_url=`` or
    the LOOTWATCH_DEMO_URL setting (``lootwatch demo`` sets it). It may fetch that one host:port, however
    private, and it crawls without delays: the server is our own. Other spiders of the same process keep
    their own politeness and allowances.

    Attributes:
        start_path: the first page, relative to the demo server.
    """

    start_path = "/"
    custom_settings = {
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    }

    @property
    def demo_url(self) -> str:
        base = getattr(self, "base_url", None)
        settings = getattr(self, "settings", None)  # none until a crawler is attached
        if base and on_node(settings):
            # A spider argument comes with the job: on a node the address is the node's own setting.
            if not getattr(self, "_base_url_ignored", False):
                self.logger.warning("lootwatch: base_url from the job's arguments ignored on a crawler node")
                self._base_url_ignored = True
            base = None
        base = base or (settings.get("LOOTWATCH_DEMO_URL") if settings is not None else None)
        if not base:
            raise ValueError(f"{self.name}: set -a base_url=http://127.0.0.1:PORT or LOOTWATCH_DEMO_URL")
        return base.rstrip("/")

    @property
    def allow_hosts(self) -> list[str]:
        parts = urlsplit(self.demo_url)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return [f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"]

    async def start(self) -> AsyncIterator[Request]:
        yield self.request(self.demo_url + self.start_path, self.parse)
